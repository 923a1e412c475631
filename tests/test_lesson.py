"""core.linear_lesson and core.sequential_lesson against torch computed here, step by step; viz.lesson on
figure contents."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from core import linear_lesson, sequential_lesson
from core.config import ConfigError
from core.device import cuda_unavailable_reason
from core.lesson import Upstream
from core.linear_lesson import LinearSpec
from core.sequential_lesson import LayerSpec, SequentialSpec
from viz import lesson as figures


def reference_linear(spec: LinearSpec) -> tuple[nn.Linear, torch.Tensor]:
    """The lesson's order, written out: seed, layer, then x."""
    torch.manual_seed(spec.seed)
    layer = nn.Linear(spec.in_features, spec.out_features)
    return layer, torch.randn(spec.batch, spec.in_features)


def reference_model(spec: SequentialSpec) -> tuple[nn.Sequential, torch.Tensor]:
    torch.manual_seed(spec.seed)
    modules = [nn.Linear(layer.in_features, layer.out_features) if layer.kind == "Linear" else getattr(nn, layer.kind)()
               for layer in spec.layers]
    return nn.Sequential(*modules), torch.randn(spec.batch, spec.in_features)


def torch_backward_error(output: torch.Tensor) -> str:
    try:
        output.backward()
    except RuntimeError as error:
        return str(error)
    raise AssertionError("backward() on a non-scalar output did not raise")


SPECS = [LinearSpec(), LinearSpec(5, 4, batch=7, seed=1), LinearSpec(512, 2, batch=1000, seed=123)]
UPSTREAMS = [Upstream("mean"), Upstream("sum"), Upstream("lesson"), Upstream("constant", -2.5)]


# ------------------------------------------------------------ nn.Linear ---


@pytest.mark.parametrize("spec", SPECS)
def test_step1_parameters_match_torch_and_lie_in_the_init_range(spec):
    layer, _ = reference_linear(spec)
    made = linear_lesson.create_linear(spec)
    np.testing.assert_array_equal(made.weight.values, layer.weight.detach().numpy())
    np.testing.assert_array_equal(made.bias.values, layer.bias.detach().numpy())
    assert made.weight.printed == str(layer.weight) and made.printed == str(layer)
    assert made.weight.shape == (spec.out_features, spec.in_features) and made.bias.shape == (spec.out_features,)
    assert made.weight.type_label == f"[ CPUFloatType{{{spec.out_features},{spec.in_features}}} ]"
    assert made.bound == pytest.approx(1 / math.sqrt(spec.in_features))
    assert np.all(np.abs(made.weight.values) <= made.bound) and np.all(np.abs(made.bias.values) <= made.bound)


def test_step1_default_layer_is_the_lessons():
    made = linear_lesson.create_linear(LinearSpec())
    assert made.weight.type_label == "[ CPUFloatType{1,3} ]" and made.bias.type_label == "[ CPUFloatType{1} ]"
    assert made.weight.requires_grad and made.bias.requires_grad


def names_below(fn) -> list[str]:
    """Depth-first names of the backward graph, walked here with torch's own next_functions."""
    if fn is None:
        return ["None"]
    return [type(fn).__name__] + [name for child, _ in fn.next_functions for name in names_below(child)]


@pytest.mark.parametrize("spec", SPECS)
def test_step2_forward_output_and_grad_fn_graph(spec):
    layer, x = reference_linear(spec)
    out = layer(x)
    run = linear_lesson.forward_linear(spec)
    np.testing.assert_array_equal(run.x.values, x.numpy())
    np.testing.assert_array_equal(run.output.values, out.detach().numpy())
    assert run.grad_fn == "AddmmBackward0" and "grad_fn=<AddmmBackward0>" in run.output.printed
    assert run.output.shape == (spec.batch, spec.out_features)
    assert [node.name for node in run.graph] == names_below(out.grad_fn)
    leaves = {node.note.split()[0]: node for node in run.graph if node.name == "AccumulateGrad"}
    assert set(leaves) == {"weight", "bias"}
    assert leaves["weight"].note == f"weight {(spec.out_features, spec.in_features)}"
    assert linear_lesson.tree_text(run.graph).splitlines()[0] == "AddmmBackward0"


def test_step2_graph_depths_and_parents():
    graph = linear_lesson.forward_linear(LinearSpec()).graph
    assert [(n.name, n.depth, n.parent) for n in graph] == [
        ("AddmmBackward0", 0, None), ("AccumulateGrad", 1, 0), ("None", 1, 0), ("TBackward0", 1, 0),
        ("AccumulateGrad", 2, 3),
    ]


def test_step3_gradients_are_none_before_backward():
    layer, x = reference_linear(LinearSpec())
    layer(x)
    assert linear_lesson.gradients_before_backward(LinearSpec()) == {
        "weight.grad": repr(layer.weight.grad), "bias.grad": repr(layer.bias.grad)}
    assert set(linear_lesson.gradients_before_backward(LinearSpec()).values()) == {"None"}


@pytest.mark.parametrize("spec", SPECS)
def test_step4_backward_on_a_non_scalar_output_gives_torchs_own_error(spec):
    layer, x = reference_linear(spec)
    assert linear_lesson.backward_without_gradient(spec) == torch_backward_error(layer(x))


def test_step4_a_single_element_output_needs_no_gradient():
    assert linear_lesson.backward_without_gradient(LinearSpec(3, 1, batch=1)) is None


@pytest.mark.parametrize("upstream", UPSTREAMS, ids=lambda u: u.kind)
@pytest.mark.parametrize("spec", SPECS[:2])
def test_step5_gradients_match_torch_and_the_hand_formulas(spec, upstream):
    layer, x = reference_linear(spec)
    out = layer(x)
    g = {"mean": torch.full_like(out, 1 / out.numel()), "sum": torch.ones_like(out),
         "lesson": torch.full_like(out, 10.0), "constant": torch.full_like(out, -2.5)}[upstream.kind]
    out.backward(gradient=g)
    check = linear_lesson.backward_with_gradient(spec, upstream)
    np.testing.assert_array_equal(check.upstream.values, g.numpy())
    np.testing.assert_array_equal(check.weight_grad.values, layer.weight.grad.numpy())
    np.testing.assert_array_equal(check.bias_grad.values, layer.bias.grad.numpy())
    np.testing.assert_allclose(check.weight_by_hand, (g.T @ x).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(check.bias_by_hand, g.sum(dim=0).numpy(), rtol=1e-5)
    assert check.weight_agrees and check.bias_agrees
    # Shown as the script's print(by_hand_weight, by_hand_bias) shows them.
    assert (check.weight_by_hand_printed, check.bias_by_hand_printed) == (str(g.T @ x), str(g.sum(dim=0)))


def test_step5_the_lessons_constant_gives_bias_grad_100():
    check = linear_lesson.backward_with_gradient(LinearSpec(batch=10), Upstream("lesson"))
    assert check.bias_grad.values.tolist() == [100.0]
    assert check.upstream.printed == str(torch.tensor(10.0).repeat(10, 1))


def test_step5_a_wrong_gradient_is_flagged():
    check = linear_lesson.backward_with_gradient(LinearSpec(), Upstream())
    wrong = dataclasses.replace(check, weight_by_hand=check.weight_by_hand + 1)
    assert not wrong.weight_agrees and wrong.bias_agrees


@pytest.mark.parametrize("upstream", UPSTREAMS, ids=lambda u: u.kind)
def test_step6_gradients_accumulate_until_zero_grad(upstream):
    spec = LinearSpec(4, 2, batch=6)
    layer, x = reference_linear(spec)
    g = upstream.like(layer(x))
    layer(x).backward(gradient=g)
    first = layer.weight.grad.clone(), layer.bias.grad.clone()
    layer(x).backward(gradient=g)
    states = linear_lesson.accumulate_gradients(spec, upstream)
    # What print(layer.weight.grad) and print(layer.bias.grad) write after each call.
    assert [state.printed for state in states] == [f"{first[0]}\n{first[1]}",
                                                  f"{layer.weight.grad}\n{layer.bias.grad}", "None\nNone"]
    np.testing.assert_array_equal(states[0].weight_grad, first[0].numpy())
    np.testing.assert_array_equal(states[1].weight_grad, layer.weight.grad.numpy())
    np.testing.assert_array_equal(states[1].bias_grad, layer.bias.grad.numpy())
    np.testing.assert_allclose(states[1].weight_grad, 2 * states[0].weight_grad, rtol=1e-6)
    layer.zero_grad()
    assert states[2].weight_grad is None and states[2].bias_grad is None and layer.weight.grad is None


@pytest.mark.parametrize("field,changes,message", [
    ("in_features", dict(in_features=0), "0 is out of range; allowed 1 to 512"),
    ("out_features", dict(out_features=-3), "-3 is out of range"),
    ("in_features", dict(in_features=513), "513 is out of range"),
    ("batch", dict(batch=1001), "allowed 1 to 1000"),
    ("batch", dict(batch=2.5), "not a whole number"),
    ("seed", dict(seed="seven"), "not a whole number"),
])
def test_bad_linear_sizes_name_the_field(field, changes, message):
    with pytest.raises(ConfigError) as caught:
        linear_lesson.create_linear(LinearSpec(**changes))
    assert message in caught.value.errors[field]


@pytest.mark.parametrize("constant", [math.inf, math.nan, 2e6])
def test_bad_constant_is_refused(constant):
    with pytest.raises(ConfigError) as caught:
        linear_lesson.backward_with_gradient(LinearSpec(), Upstream("constant", constant))
    assert "constant" in caught.value.errors


# -------------------------------------------------------- nn.Sequential ---

DEEP = SequentialSpec((LayerSpec("Linear", 4, 8), LayerSpec("Tanh"), LayerSpec("Linear", 8, 6), LayerSpec("GELU"),
                       LayerSpec("Identity"), LayerSpec("Linear", 6, 2)), batch=5, seed=3)


@pytest.mark.parametrize("spec", [SequentialSpec(), DEEP])
def test_model_summary_matches_named_parameters(spec):
    model, _ = reference_model(spec)
    summary = sequential_lesson.describe_model(spec)
    assert summary.printed == str(model)
    assert [row["name"] for row in summary.parameters] == [name for name, _ in model.named_parameters()]
    assert [row["count"] for row in summary.parameters] == [p.numel() for p in model.parameters()]
    assert summary.total == sum(p.numel() for p in model.parameters())
    assert {row["device"] for row in summary.parameters} == {"cpu"}
    assert {row["dtype"] for row in summary.parameters} == {"torch.float32"}


def test_default_model_is_the_lessons():
    summary = sequential_lesson.describe_model(SequentialSpec())
    assert [row["name"] for row in summary.parameters] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [row["shape"] for row in summary.parameters] == ["(16, 3)", "(16,)", "(1, 16)", "(1,)"]
    assert summary.total == 81 and all(row["requires_grad"] for row in summary.parameters)


def test_layer_sizes_and_activations_for_a_diagram():
    assert DEEP.layer_sizes() == [4, 8, 6, 2]
    assert DEEP.activations() == ["Tanh", "GELU + Identity"]


@pytest.mark.parametrize("layers,key,message", [
    ((LayerSpec("Linear", 3, 16), LayerSpec("ReLU"), LayerSpec("Linear", 8, 1)), "layer 2",
     "nn.Linear(8, 1) takes 8 inputs, but layer 0, nn.Linear(3, 16), gives 16 outputs"),
    ((LayerSpec("Linear", 0, 16),), "layer 0 in_features", "0 is out of range; allowed 1 to 512"),
    ((LayerSpec("Linear", 3, 600),), "layer 0 out_features", "600 is out of range"),
    ((LayerSpec("ReLU"), LayerSpec("Tanh")), "layers", "add an nn.Linear"),
    ((), "layers", "0 layers; allowed 1 to 12"),
    ((LayerSpec("Linear", 3, 3),) * 13, "layers", "13 layers"),
    ((LayerSpec("Softmax"), LayerSpec("Linear", 3, 1)), "layer 0", "'Softmax' is not one of"),
])
def test_bad_models_name_the_layer_and_the_sizes(layers, key, message):
    with pytest.raises(ConfigError) as caught:
        SequentialSpec(layers).check()
    assert message in caught.value.errors[key]


def test_submodule_indexing():
    model, _ = reference_model(SequentialSpec())
    first = sequential_lesson.submodule(SequentialSpec(), 0)
    assert first.printed == str(model[0]) and set(first.parameters) == {"weight", "bias"}
    np.testing.assert_array_equal(first.parameters["weight"].values, model[0].weight.detach().numpy())
    assert sequential_lesson.submodule(SequentialSpec(), 1).parameters == {}
    with pytest.raises(ConfigError):
        sequential_lesson.submodule(SequentialSpec(), 3)


@pytest.mark.parametrize("upstream", UPSTREAMS, ids=lambda u: u.kind)
@pytest.mark.parametrize("spec", [SequentialSpec(), DEEP])
def test_model_gradients_match_torch(spec, upstream):
    model, x = reference_model(spec)
    out = model(x)
    out.backward(gradient=upstream.like(out))
    run = sequential_lesson.model_gradients(spec, upstream)
    np.testing.assert_array_equal(run.output.values, out.detach().numpy())
    linears = [(name, m) for name, m in model.named_children() if isinstance(m, nn.Linear)]
    assert [layer.name for layer in run.layers] == [name for name, _ in linears]
    for layer, (_, module) in zip(run.layers, linears):
        np.testing.assert_array_equal(layer.weight_grad, module.weight.grad.numpy())
        np.testing.assert_array_equal(layer.bias_grad, module.bias.grad.numpy())
    assert run.printed_grads == {name: str(p.grad) for name, p in model.named_parameters()}


def test_dead_relu_units_are_those_negative_for_every_sample():
    spec = SequentialSpec()
    model, x = reference_model(spec)
    with torch.no_grad():
        before_relu = model[0](x)  # (batch, 16)
    negative_everywhere = torch.nonzero((before_relu <= 0).all(dim=0)).flatten().tolist()
    run = sequential_lesson.model_gradients(spec, Upstream())
    assert run.dead_units["0"] == negative_everywhere and negative_everywhere  # the lesson's seed has some
    assert run.dead_units["2"] == []


def test_move_model_to_cpu_keeps_parameters_and_gradients_together():
    moved = sequential_lesson.move_model(SequentialSpec(), Upstream(), "cpu")
    assert moved.device == "cpu"
    assert [row["tensor"] for row in moved.after] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert ({(row["device"], row["type"], row["grad"]) for row in moved.after}
            == {("cpu", "CPUFloatType", "CPUFloatType")})
    assert moved.after[0]["shape"] == "(16, 3)"


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="this machine has CUDA")
def test_move_model_to_cuda_says_why_not():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        sequential_lesson.move_model(SequentialSpec(), Upstream(), "cuda")


@pytest.mark.skipif(cuda_unavailable_reason() is not None, reason="needs CUDA")
def test_move_model_to_cuda_moves_every_parameter_and_gradient():
    moved = sequential_lesson.move_model(SequentialSpec(), Upstream(), "cuda")
    assert {row["type"] for row in moved.before} == {"CPUFloatType"}
    assert {(row["type"], row["grad"]) for row in moved.after} == {("CUDAFloatType", "CUDAFloatType")}
    assert all(row["device"].startswith("cuda") for row in moved.after)


# -------------------------------------------------------------- figures ---


def test_grad_fn_figure_draws_every_node_and_edge():
    graph = linear_lesson.forward_linear(LinearSpec()).graph
    fig = figures.grad_fn_figure(graph)
    edges, nodes = fig.data
    assert len(nodes.x) == len(graph) == 5
    assert sum(x is None for x in edges.x) == len(graph) - 1  # one edge per non-root node
    assert nodes.text[0] == "<b>AddmmBackward0</b>" and "weight (1, 3)" in nodes.text[4]
    assert list(nodes.x) == [n.depth for n in graph]


def test_network_figure_caps_the_circles_and_says_so():
    fig = figures.network_figure([3, 32, 1], activations=["ReLU"])
    assert len(fig.data[1].x) == 3 + figures.MAX_UNITS + 1
    texts = [a.text for a in fig.layout.annotations]
    assert "3 inputs" in texts and "32 hidden units<br>then ReLU" in texts and "1 output" in texts
    assert f"{figures.MAX_UNITS} of 32 drawn" in texts


def test_init_range_figure_marks_the_bound_and_thins_big_tensors():
    made = linear_lesson.create_linear(LinearSpec(512, 512))
    fig = figures.init_range_figure(made.weight.values, made.bias.values, made.bound)
    assert len(fig.data[0].x) <= figures.MAX_POINTS and len(fig.data[1].x) == 512
    band = fig.layout.shapes[0]
    assert band.x0 == pytest.approx(-made.bound) and band.x1 == pytest.approx(made.bound)
