"""viz/ on figure contents: traces, shapes, colour centre, titles, bounded sizes."""

import json
from types import SimpleNamespace

import numpy as np
import plotly.io as pio
import pytest

from viz import common
from viz import training as figures


def layer(name, out_features, in_features, seed=0, grad=True):
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(out_features, in_features))
    bias = rng.normal(size=out_features)
    return SimpleNamespace(name=name, weight=weight, bias=bias,
                           weight_grad=weight * 0.1 if grad else None, bias_grad=bias * 0.1 if grad else None)


def heatmaps(fig):
    return [trace for trace in fig.data if trace.type == "heatmap"]


def test_loss_figure_draws_every_epoch_and_marks_changes():
    losses = np.linspace(10, 1, 50)
    fig = figures.loss_figure(np.arange(1, 51), losses, log_scale=True, lr_changes=[(20, 1e-3)], diverged_at=50)
    np.testing.assert_allclose(fig.data[0].y, losses, rtol=1e-6)
    assert fig.layout.yaxis.type == "log"
    assert [a.text for a in fig.layout.annotations] == ["lr=0.001", "diverged at epoch 50"]
    assert fig.layout.title.text == "Loss (epoch 50: 1)"


def test_loss_figure_draws_train_and_test_on_one_chart():
    epochs, train, test = np.arange(1, 101), np.linspace(2, 0.1, 100), np.linspace(2, 3, 100)
    fig = figures.loss_figure(epochs, train, test_losses=test)
    assert [trace.name for trace in fig.data] == ["train", "test"] and fig.layout.showlegend
    np.testing.assert_allclose(fig.data[0].y, train, rtol=1e-6)
    np.testing.assert_allclose(fig.data[1].y, test, rtol=1e-6)
    assert fig.layout.title.text == "Loss (epoch 100: train 0.1, test 3)"
    one = figures.loss_figure(epochs, train)
    assert [trace.name for trace in one.data] == ["loss"] and not one.layout.showlegend
    long = figures.loss_figure(np.arange(1, 100_001), np.ones(100_000), test_losses=np.ones(100_000))
    assert max(len(trace.y) for trace in long.data) <= common.MAX_POINTS  # both curves decimated


def test_decimate_bounds_points_keeps_spikes_and_the_last_epoch():
    y = np.ones(100_000)
    y[54_321] = 1e6
    x, kept = common.decimate(np.arange(1, 100_001), y, max_points=600)
    assert len(kept) <= 600 and kept.max() == 1e6 and x[-1] == 100_000


def test_decimate_drops_infinities_of_a_diverged_run():
    x, y = common.decimate(np.arange(1, 6), [3.0, 2.0, 1e30, np.inf, np.nan])
    assert x.tolist() == [1, 2, 3] and np.isfinite(y).all()


def test_grad_norm_figure_has_a_line_per_parameter_bias_dotted():
    norms = {"0.weight": [1.0, 0.5], "0.bias": [0.2, 0.0], "2.weight": [2.0, 1.0], "2.bias": [0.3, 0.1]}
    fig = figures.grad_norm_figure([1, 2], norms)
    assert [t.name for t in fig.data] == list(norms)
    assert [t.line.dash for t in fig.data] == ["solid", "dot", "solid", "dot"]
    assert np.isnan(fig.data[1].y[1])  # log axis: zero norm left out, not drawn as -inf
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color


def test_weights_figure_one_heatmap_per_linear_with_bias_and_centred_colours():
    layers = [layer("0", 32, 3), layer("2", 1, 32, seed=1)]
    fig = figures.weights_figure(layers, epoch=7)
    maps = heatmaps(fig)
    assert len(maps) == 4  # weight and bias for each of the two nn.Linear
    assert np.asarray(maps[0].z).shape == (32, 3) and np.asarray(maps[1].z).shape == (32, 1)
    assert np.asarray(maps[2].z).shape == (1, 32)
    np.testing.assert_allclose(maps[0].z, layers[0].weight, rtol=1e-6)
    for i, lay in enumerate(layers, start=1):
        axis = fig.layout[f"coloraxis{i}"]
        limit = max(np.abs(lay.weight).max(), np.abs(lay.bias).max())
        assert axis.cmid == 0 and axis.cmin == pytest.approx(-limit) and axis.cmax == pytest.approx(limit)
    assert maps[0].coloraxis == maps[1].coloraxis == "coloraxis"
    assert "0.weight[%{y}, %{x}]" in maps[0].hovertemplate
    assert fig.layout.title.text == "Weights at epoch 7"


def test_large_matrix_is_pooled_to_a_bounded_heatmap_and_says_so():
    big = layer("0", 1024, 1024)
    fig = figures.weights_figure([big])
    z = np.asarray(heatmaps(fig)[0].z)
    assert z.shape == (32, 32)
    np.testing.assert_allclose(z[0, 0], big.weight[:32, :32].mean(), rtol=1e-5)
    assert "pooled" in fig.layout.title.text
    assert heatmaps(fig)[0].x[0] == "0:32"
    assert len(pio.to_json(fig, validate=False)) < 30_000


def test_gradients_figure_marks_units_with_exactly_zero_gradient():
    dead = layer("0", 8, 3)
    dead.weight_grad[[2, 5]] = 0.0
    dead.bias_grad[[2, 5]] = 0.0
    fig = figures.gradients_figure([dead, layer("2", 1, 8)])
    markers = [t for t in fig.data if t.type == "scatter"]
    assert len(markers) == 1 and list(markers[0].y) == ["2", "5"]
    assert "2 units with zero gradient" in fig.layout.title.text


def test_gradients_figure_skips_layers_before_backward():
    fig = figures.gradients_figure([layer("0", 4, 3, grad=False)])
    assert heatmaps(fig) == []


def test_one_frame_of_the_largest_network_stays_under_100_kb():
    from core.config import LIMITS

    sizes = [LIMITS.max_features, *[LIMITS.max_units] * LIMITS.max_hidden_layers, 1]
    layers = [layer(str(2 * i), n_out, n_in, seed=i) for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]))]
    epochs = np.arange(1, LIMITS.max_epochs + 1)
    norms = {f"{lay.name}.{kind}": np.random.rand(len(epochs)) for lay in layers for kind in ("weight", "bias")}
    frame = [
        figures.loss_figure(epochs, np.random.rand(len(epochs))),
        figures.grad_norm_figure(epochs, norms),
        figures.weights_figure(layers),
        figures.gradients_figure(layers),
    ]
    size = sum(len(pio.to_json(fig, validate=False)) for fig in frame)
    assert size < 100_000, size


def test_prediction_and_sensitivity_figures():
    fig = figures.prediction_figure(np.array([1.0, 2.0]), np.array([1.5, 2.5]), r_squared=0.5)
    assert fig.data[1].x.tolist() == [1.0, 2.0] and "R² = 0.500" in fig.layout.title.text
    fig = figures.sensitivity_figure([0.1, -1.2, -0.4], [0.2, -1.3, -0.5])
    assert list(fig.data[0].x) == ["x1", "x2", "x3"] and fig.data[1].y.tolist() == [0.2, -1.3, -0.5]


def test_column_names_are_never_plotly_markup():
    """plotly.js draws <a href> in a tick label as a link; escaped, it shows the text itself."""
    names = ['<a href="http://evil.example">x</a>', "<b>bold</b> & co"]
    fig = figures.sensitivity_figure([0.1, 0.2], names=names)
    assert list(fig.data[0].x) == ['&lt;a href="http://evil.example"&gt;x&lt;/a&gt;',
                                   "&lt;b&gt;bold&lt;/b&gt; &amp; co"]


def test_matrices_with_inf_and_nan_still_give_valid_json():
    broken = layer("0", 4, 3)
    broken.weight_grad[0, 0], broken.weight_grad[1, 1], broken.bias_grad[2] = np.inf, np.nan, -np.inf
    fig = figures.gradients_figure([broken])

    def refuse(constant):
        raise AssertionError(f"{constant} is not valid JSON for the browser")

    spec = json.loads(pio.to_json(fig, validate=False), parse_constant=refuse)
    finite = np.abs(np.concatenate([broken.weight_grad.ravel(), broken.bias_grad]))
    assert spec["layout"]["coloraxis"]["cmax"] == pytest.approx(finite[np.isfinite(finite)].max())


def test_only_the_latest_learning_rate_changes_are_marked():
    changes = [(epoch, 1e-4 * epoch) for epoch in range(1, 101)]
    fig = figures.loss_figure(np.arange(1, 101), np.ones(100), lr_changes=changes)
    assert len(fig.layout.shapes) == figures.MAX_LR_MARKERS
    assert fig.layout.annotations[-1].text == "lr=0.01"


@pytest.mark.parametrize("layers", [
    [layer("0", 32, 3), layer("2", 1, 32)],  # the lesson
    [layer("0", 512, 20), layer("2", 512, 512), layer("4", 1, 512)],  # pooled rows and columns
])
def test_matrix_figures_fit_their_colour_bars_in_fixed_margins(layers):
    """autoexpand off (plotly would redraw the whole figure once per colour bar to grow a margin),
    so every colour bar must sit inside the bottom margin as given."""
    for fig in (figures.weights_figure(layers), figures.gradients_figure(layers)):
        margin = fig.layout.margin
        assert margin.autoexpand is False
        plot_px = fig.layout.height - margin.t - margin.b
        for i in range(1, len(layers) + 1):
            bar = fig.layout[f"coloraxis{i}"].colorbar
            bottom = fig.layout[f"yaxis{2 * i - 1}" if i > 1 else "yaxis"].domain[0]
            below_plot_px = (0 - bar.y) * plot_px + bar.thickness + 20  # + tick labels
            assert below_plot_px <= margin.b, (i, below_plot_px, margin.b)
            assert (bottom - bar.y) * plot_px >= 50  # below the tick labels and axis title


@pytest.mark.parametrize("n_layers", [2, 6])
def test_grad_norm_legend_fits_its_bottom_margin(n_layers):
    norms = {f"{2 * i}.{kind}": np.linspace(1, 2, 50) for i in range(n_layers) for kind in ("weight", "bias")}
    fig = figures.grad_norm_figure(np.arange(1, 51), norms)
    margin = fig.layout.margin
    rows = -(-len(norms) // 4)
    plot_px = fig.layout.height - margin.t - margin.b
    assert margin.autoexpand is False and -fig.layout.legend.y * plot_px + 22 * rows <= margin.b


def test_loss_ticks_never_round_two_ticks_to_one_label():
    """A narrow range (60298..60316) on a fixed 4-significant-digit format labels 60305 and 60310 both
    "60310": only a log axis spanning decades gets the fixed format (for its minor ticks)."""
    epochs = np.arange(1, 4)
    narrow = np.array([60316.0, 60307.0, 60298.0])
    wide = np.array([300.0, 20.0, 1.5])
    assert figures.loss_figure(epochs, narrow).layout.yaxis.tickformat is None
    assert figures.loss_figure(epochs, narrow, log_scale=True).layout.yaxis.tickformat is None
    assert figures.loss_figure(epochs, wide, log_scale=True).layout.yaxis.tickformat == ".4~r"
    norms = {"0.weight": np.array([1000.0, 1010.0, 1020.0])}
    assert figures.grad_norm_figure(epochs, norms).layout.yaxis.tickformat is None


def test_pooled_layers_leave_room_for_the_next_layers_row_labels():
    layers = [layer("0", 512, 20), layer("2", 512, 512), layer("4", 512, 512), layer("6", 1, 512)]
    fig = figures.weights_figure(layers)
    for i in range(1, len(layers)):
        bias_end = fig.layout[f"xaxis{2 * i}"].domain[1]
        next_start = fig.layout[f"xaxis{2 * i + 1}"].domain[0]
        assert next_start - bias_end >= 0.08, i  # labels like "480:496" take ~55 px of a ~770 px plot


EXTREMES = [(1e-8, 1e-6), (1e-8, 3.0), (2.0, 1e38), (1e36, 3.4e38)]


def widest_decade_label(low: float, high: float) -> int:
    """Characters of the longest "1e+38"-style label plotly's "~e" format gives a decade tick in [low, high]."""
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    return max(len(f"1e{k:+d}") for k in decades)


@pytest.mark.parametrize("low,high", EXTREMES)
def test_log_axes_label_extreme_values_with_exponents_inside_their_margin(low, high):
    """A diverging run's 1e38 in full is 39 digits, clipped by the fixed margin to "0000000"."""
    epochs = np.arange(1, 4)
    values = np.array([low, np.sqrt(low * high), high])
    for fig in (figures.loss_figure(epochs, values, log_scale=True),
                figures.grad_norm_figure(epochs, {"0.weight": values, "0.bias": values / 2})):
        axis = fig.layout.yaxis
        assert axis.tickformat == "~e" and axis.exponentformat == "e"
        room = fig.layout.margin.l - figures.Y_TITLE_PX  # what the axis title leaves for the tick labels
        assert room >= figures.LABEL_CHAR_PX * widest_decade_label(values.min() / 2, values.max()), (low, high)


@pytest.mark.parametrize("high", [1e-8, 3e-7, 2e31, 3.4e38])
def test_linear_loss_axis_at_extreme_values_uses_exponents_inside_its_margin(high):
    fig = figures.loss_figure(np.arange(1, 3), np.array([high / 3, high]))
    assert fig.layout.yaxis.exponentformat == "e"  # "2e+31", not "20000000000000000000000000000000"
    longest = len(f"{high:.2e}".replace("e-0", "e-").replace("e+0", "e+"))  # "3.40e+38": mantissa digits as needed
    assert fig.layout.margin.l - figures.Y_TITLE_PX >= figures.LABEL_CHAR_PX * longest


def test_everyday_values_keep_full_number_labels_and_the_base_margin():
    epochs = np.arange(1, 4)
    norms = {"0.weight": np.array([7.6, 57.0, 326.0])}
    fig = figures.grad_norm_figure(epochs, norms)
    assert fig.layout.yaxis.tickformat == ".3~r" and fig.layout.margin.l == 50
    assert figures.loss_figure(epochs, np.array([146.0, 200.0, 252.9])).layout.margin.l == 50


@pytest.mark.parametrize("value,label", [
    (100.0, "100"), (17.3456, "17.3"), (0.0123456, "0.0123"), (12345.0, "12300"), (1e38, "1e+38"),
    (3.4e38, "3.4e+38"), (1e-8, "1e-8"), (-2.5e-6, "-2.5e-6"), (0.0, "0"),
])
def test_number_labels_are_short_and_never_pad_exponents(value, label):
    assert figures.number_label(value) == label


@pytest.mark.parametrize("limit,labels", [(100.0, ["-100", "0", "100"]), (1e38, ["-1e+38", "0", "1e+38"]),
                                          (1e-8, ["-1e-8", "0", "1e-8"])])
def test_colour_bars_read_their_limits_plainly(limit, labels):
    """The Models page's colour bar read "-1e+02 … 1e+02" for a largest gradient of 100."""
    layers = [SimpleNamespace(name="0", weight=np.array([[limit, -limit / 2]]), bias=np.array([limit / 4]),
                              weight_grad=np.array([[limit, -limit / 2]]), bias_grad=np.array([0.0]))]
    for fig in (figures.weights_figure(layers), figures.gradients_figure(layers)):
        bar = fig.layout.coloraxis1.colorbar
        assert list(bar.ticktext) == labels and list(bar.tickvals) == [-limit, 0, limit]


def test_wide_tick_labels_leave_the_legend_room_for_another_row():
    """Rows are counted for the plot's width at the base margin: a wider margin for "1e+38" labels
    pushes the fourth entry onto a second row, which the bottom margin must hold."""
    epochs = np.arange(1, 4)
    norms = {f"{i}.{kind}": np.array([1.0, 1e20, 1e38]) for i in (0, 2) for kind in ("weight", "bias")}
    wide = figures.grad_norm_figure(epochs, norms)
    everyday = figures.grad_norm_figure(epochs, {name: np.array([1.0, 5.0, 30.0]) for name in norms})
    assert wide.layout.margin.l > everyday.layout.margin.l == 50
    assert wide.layout.margin.b == everyday.layout.margin.b + 22  # two legend rows, not one
