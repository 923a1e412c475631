"""viz/epoch.py on figure contents: the graph's nodes and edges, heatmaps pooled, dead units marked."""

from types import SimpleNamespace

import numpy as np

from viz import epoch as figures

# The default network's graph as core.epoch walks it: (name, label, depth, backward order), and its edges.
NODES = [("SumBackward0", "", 0, 1), ("PowBackward0", "", 1, 2), ("SubBackward0", "", 2, 3),
         ("AddmmBackward0", "", 3, 4), ("AccumulateGrad", "2.bias", 4, 5), ("ReluBackward0", "", 4, 8),
         ("AddmmBackward0", "", 5, 9), ("AccumulateGrad", "0.bias", 6, 10), ("None", "x", 6, None),
         ("TBackward0", "", 6, 11), ("AccumulateGrad", "0.weight", 7, 12), ("TBackward0", "", 4, 6),
         ("AccumulateGrad", "2.weight", 5, 7), ("None", "y", 3, None)]
EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (6, 8), (6, 9), (9, 10), (3, 11), (11, 12), (2, 13)]


def graph_nodes():
    return [SimpleNamespace(name=n, label=label, depth=d, backward_order=o) for n, label, d, o in NODES]


def heatmaps(fig):
    return [trace for trace in fig.data if trace.type == "heatmap"]


def test_graph_puts_the_loss_on_top_and_the_named_leaves_below():
    fig = figures.graph_figure(graph_nodes(), EDGES)
    edges, nodes = fig.data[0], fig.data[1]
    assert len(edges.x) == 3 * len(EDGES)  # (parent, child, gap) per edge
    assert nodes.y[0] == max(nodes.y) and min(nodes.y) == -7  # one row per depth, the loss's node at the top
    assert "<b>SumBackward0</b><br>the loss" == nodes.text[0]
    assert "<b>AccumulateGrad</b><br>0.weight" in nodes.text and "None<br>y: no grad" in nodes.text
    colours = dict(zip([n[0] for n in NODES], nodes.marker.color))
    assert nodes.marker.color[0] == figures.LOSS_COLOUR and colours["AccumulateGrad"] == figures.LEAF_COLOUR
    for parent, child in EDGES:  # each edge drawn from its parent's position to its child's
        i = EDGES.index((parent, child))
        assert (edges.x[3 * i], edges.x[3 * i + 1]) == (nodes.x[parent], nodes.x[child])


def test_graph_side_by_side_nodes_of_a_depth_do_not_overlap():
    nodes = figures.graph_figure(graph_nodes(), EDGES).data[1]
    places = list(zip(nodes.x, nodes.y))
    assert len(set(places)) == len(places)


def test_graph_numbers_the_nodes_in_backward_order_on_request():
    assert len(figures.graph_figure(graph_nodes(), EDGES).data) == 2
    order = figures.graph_figure(graph_nodes(), EDGES, show_order=True).data[2]
    assert list(order.text) == [str(o) for *_, o in NODES if o is not None]


def module(name, kind, output):
    dead = np.flatnonzero((output == 0).all(axis=0)).tolist() if kind != "Linear" else []
    return SimpleNamespace(name=name, kind=kind, output=output, samples=len(output), dead_units=dead)


def test_forward_puts_each_activation_beside_its_linear_and_marks_dead_units():
    rng = np.random.default_rng(0)
    pre = rng.normal(size=(10, 6))
    pre[:, 4] = -np.abs(pre[:, 4])  # unit 4 is negative for every sample: dead after the ReLU
    post = np.maximum(pre, 0)
    fig = figures.forward_figure([module("0", "Linear", pre), module("1", "ReLU", post),
                                  module("2", "Linear", post @ rng.normal(size=(6, 1)))])
    maps = heatmaps(fig)
    assert len(maps) == 3
    np.testing.assert_allclose(maps[0].z, pre, rtol=1e-6)
    np.testing.assert_allclose(maps[1].z, post, rtol=1e-6)
    assert fig.layout[f"yaxis{maps[1].yaxis[1:]}"].domain == fig.layout["yaxis"].domain  # same row
    assert fig.layout[f"yaxis{maps[2].yaxis[1:]}"].domain[1] < fig.layout["yaxis"].domain[0]  # the next row
    crosses = [t for t in fig.data if t.type == "scatter"]
    assert len(crosses) == 1 and list(crosses[0].x) == ["4"] and crosses[0].marker.symbol == "x"
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["model[0] Linear (10, 6)", "model[1] ReLU (10, 6) · 1 dead ×", "model[2] Linear (10, 1)"]


def test_large_tensors_are_pooled_to_32_a_side_and_dead_units_find_their_block():
    output = np.ones((1000, 512))
    output[:, 300] = 0
    fig = figures.forward_figure([module("1", "ReLU", output)])
    (heatmap,) = heatmaps(fig)
    assert np.shape(heatmap.z) == (32, 32)
    assert "pooled to ≤32×32 block means" in fig.layout.title.text
    cross = [t for t in fig.data if t.type == "scatter"][0]
    assert list(cross.x) == ["288:304"]  # unit 300's block of 16
    assert heatmap.texttemplate is None  # too many cells to print
    assert fig.layout.title.text.startswith("Forward: each module's output, samples × units · pooled")
    kept = SimpleNamespace(name="1", kind="ReLU", output=output[:100], samples=10_000, dead_units=[])
    fig = figures.forward_figure([kept])
    assert "the first 100 samples" in fig.layout.title.text
    assert fig.layout.annotations[0].text == "model[1] ReLU (10000, 512)"


def test_small_tensors_print_their_values():
    fig = figures.update_figure([SimpleNamespace(name="2.bias", old=np.array([0.5]), step=np.array([0.01]),
                                                 new=np.array([0.49]))], step_label="0.01 * grad")
    assert [t.texttemplate for t in heatmaps(fig)] == ["%{z:.3g}"] * 3
    assert [a.text for a in fig.layout.annotations] == ["2.bias before", "2.bias: 0.01 * grad", "2.bias after"]
    assert fig.layout.title.text == "Update: each parameter minus 0.01 * grad"


def test_loss_shows_predictions_targets_residuals_and_squares():
    y_pred, y = np.array([[1.0], [2.0], [4.0]]), np.array([[1.5], [2.0], [3.0]])
    parts = SimpleNamespace(y_pred=y_pred, y=y, residuals=y_pred - y, squares=(y_pred - y) ** 2, reduction="sum",
                            loss=1.25)
    fig = figures.loss_figure(parts)
    maps = heatmaps(fig)
    for heatmap, expected in zip(maps, [y_pred, y, y_pred - y, (y_pred - y) ** 2]):
        np.testing.assert_allclose(heatmap.z, expected)
    assert fig.layout.title.text == "loss = (y_pred - y).pow(2).sum() = 1.25"
    assert maps[2].zmid == 0 and maps[2].zmin == -maps[2].zmax


def test_gradients_one_row_per_layer_with_norms_bias_as_a_column():
    grads = {"0.weight": np.ones((4, 3)), "0.bias": np.arange(4.0), "2.weight": np.ones((1, 4)), "2.bias": np.ones(1)}
    norms = {name: float(np.linalg.norm(g)) for name, g in grads.items()}
    fig = figures.gradients_figure(grads, norms)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["0.weight.grad ‖·‖ = 3.464", "0.bias.grad ‖·‖ = 3.742", "2.weight.grad ‖·‖ = 2",
                      "2.bias.grad ‖·‖ = 1"]
    assert np.shape(heatmaps(fig)[1].z) == (4, 1)  # a unit per row, beside its weight row
