"""The lesson on torch modules, step by step: one nn.Linear, then an nn.Sequential.

Every step rebuilds its module from the seed in the lesson's order (torch.manual_seed, the
module, then x = torch.randn(batch, in_features)), so each step stands on its own and
core.codegen's scripts print the very numbers shown here. Results are plain data:
numpy arrays, strings and small dataclasses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from core.config import ACTIVATIONS, MAX_SEED, ConfigError
from core.device import resolve_device, tensor_table, type_label
from core.trainer import SEED_LOCK, LayerState

MAX_FEATURES = 512  # per side of an nn.Linear, the Train page's max_units
MAX_BATCH = 1000  # rows of x
MAX_LAYERS = 12  # modules in the Models page's nn.Sequential
MAX_CONSTANT = 1e6  # largest |upstream gradient| a learner may type
LAYER_KINDS = ("Linear", *ACTIVATIONS)
LESSON_CONSTANT = 10.0  # the lesson's upstream gradient: torch_tensor(10)$`repeat`(10)
UPSTREAM_KINDS = ("mean", "sum", "lesson", "constant")


# ------------------------------------------------------------ validation ---


def _check_whole(errors: dict[str, str], name: str, value: object, low: int, high: int) -> None:
    """Record a message under `name` unless value is a whole number in [low, high]."""
    try:
        whole = float(value) == int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole:
        errors[name] = f"{value!r} is not a whole number; allowed {low} to {high}"
    elif not low <= int(value) <= high:  # type: ignore[arg-type]
        errors[name] = f"{int(value)} is out of range; allowed {low} to {high}"  # type: ignore[arg-type]


@dataclass(frozen=True)
class Upstream:
    """The gradient passed to out.backward(gradient=g): d(something)/d out, one number per element of out."""

    kind: str = "lesson"  # mean: d out.mean()/d out; sum: d out.sum()/d out; lesson: 10s; constant: `constant`s
    constant: float = LESSON_CONSTANT  # used when kind == "constant"

    def check(self) -> None:
        if self.kind not in UPSTREAM_KINDS:
            raise ConfigError({"upstream": f"{self.kind!r} is not one of {', '.join(UPSTREAM_KINDS)}"})
        if self.kind == "constant" and not (math.isfinite(self.constant) and abs(self.constant) <= MAX_CONSTANT):
            raise ConfigError({"constant": f"{self.constant:g} is out of range; allowed -{MAX_CONSTANT:g} to {MAX_CONSTANT:g}"})

    def fill(self, numel: int) -> float:
        """The value of every element of g for an output of `numel` elements."""
        return {"mean": 1.0 / numel, "sum": 1.0, "lesson": LESSON_CONSTANT}.get(self.kind, self.constant)

    def like(self, out: torch.Tensor) -> torch.Tensor:
        return torch.full_like(out, self.fill(out.numel()))


@dataclass(frozen=True)
class TensorView:
    """One tensor as the lesson shows it."""

    values: np.ndarray
    printed: str  # what Python's print(tensor) shows
    type_label: str  # '[ CPUFloatType{1,3} ]', the footer torch (and R's torch) prints
    requires_grad: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)


def _view(tensor: torch.Tensor) -> TensorView:
    return TensorView(tensor.detach().cpu().numpy().copy(), str(tensor), type_label(tensor), tensor.requires_grad)


def _printed(*tensors: torch.Tensor | None) -> str:
    """What print(a) then print(b) ... write: each str() on its own lines ("None" for a missing .grad)."""
    return "\n".join(str(tensor) for tensor in tensors)


def _numpy(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().cpu().numpy().copy()


# ------------------------------------------------------- Layers: nn.Linear ---


@dataclass(frozen=True)
class LinearSpec:
    in_features: int = 3
    out_features: int = 1
    batch: int = 10  # rows of x = torch.randn(batch, in_features)
    seed: int = 7  # torch.manual_seed before the layer and x are drawn

    def check(self) -> None:
        errors: dict[str, str] = {}
        _check_whole(errors, "in_features", self.in_features, 1, MAX_FEATURES)
        _check_whole(errors, "out_features", self.out_features, 1, MAX_FEATURES)
        _check_whole(errors, "batch", self.batch, 1, MAX_BATCH)
        _check_whole(errors, "seed", self.seed, 0, MAX_SEED)
        if errors:
            raise ConfigError(errors)


def _linear_run(spec: LinearSpec) -> tuple[nn.Linear, torch.Tensor]:
    """The layer, then x (batch, in_features), drawn from one seed in this order."""
    spec.check()
    with SEED_LOCK:
        torch.manual_seed(spec.seed)
        layer = nn.Linear(spec.in_features, spec.out_features)
        x = torch.randn(spec.batch, spec.in_features)
    return layer, x


@dataclass(frozen=True)
class LinearParameters:
    """Step 1: the layer as created."""

    printed: str  # print(layer): 'Linear(in_features=3, out_features=1, bias=True)'
    weight: TensorView  # (out_features, in_features)
    bias: TensorView  # (out_features,)
    bound: float  # both start ~ U(-bound, bound), bound = 1/sqrt(in_features)


def create_linear(spec: LinearSpec) -> LinearParameters:
    layer, _ = _linear_run(spec)
    # kaiming_uniform_(a=sqrt(5)) gives gain sqrt(1/3) * sqrt(3/fan_in) = 1/sqrt(fan_in); the bias uses the same bound.
    return LinearParameters(str(layer), _view(layer.weight), _view(layer.bias), 1 / math.sqrt(spec.in_features))


class GradFnNode(NamedTuple):
    """One node of the backward graph, found by walking grad_fn.next_functions."""

    name: str  # 'AddmmBackward0', 'AccumulateGrad', or 'None' for an input that needs no gradient
    depth: int  # 0 for out.grad_fn
    parent: int | None  # index of the node whose next_functions hold this one
    note: str  # what it is: 'bias (1,)' for an AccumulateGrad, 'x (requires_grad=False ...)' for None


def grad_fn_graph(output: torch.Tensor, parameters: dict[str, torch.Tensor], max_nodes: int = 200) -> list[GradFnNode]:
    """The graph below output.grad_fn in depth-first order; AccumulateGrad nodes name their parameter."""
    names = {id(p): name for name, p in parameters.items()}
    nodes: list[GradFnNode] = []
    stack = [(output.grad_fn, 0, None)]
    while stack and len(nodes) < max_nodes:
        fn, depth, parent = stack.pop()
        if fn is None:
            nodes.append(GradFnNode("None", depth, parent, "x (requires_grad=False: no gradient needed)"))
            continue
        variable = getattr(fn, "variable", None)
        note = f"{names.get(id(variable), 'a leaf')} {tuple(variable.shape)}" if variable is not None else ""
        nodes.append(GradFnNode(type(fn).__name__, depth, parent, note))
        index = len(nodes) - 1
        stack += [(child, depth + 1, index) for child, _ in reversed(fn.next_functions)]
    return nodes


def tree_text(nodes: list[GradFnNode]) -> str:
    """The graph as an indented tree, four spaces a level, as the lesson's code prints it."""
    return "\n".join("    " * node.depth + node.name + (f"  -> {node.note}" if node.note else "") for node in nodes)


@dataclass(frozen=True)
class ForwardResult:
    """Step 2: out = layer(x)."""

    x: TensorView  # (batch, in_features)
    output: TensorView  # (batch, out_features), printed with grad_fn=<AddmmBackward0>
    grad_fn: str  # 'AddmmBackward0'
    graph: list[GradFnNode]


def forward_linear(spec: LinearSpec) -> ForwardResult:
    layer, x = _linear_run(spec)
    out = layer(x)
    graph = grad_fn_graph(out, dict(layer.named_parameters()))
    return ForwardResult(_view(x), _view(out), type(out.grad_fn).__name__, graph)


def gradients_before_backward(spec: LinearSpec) -> dict[str, str]:
    """Step 3: repr of weight.grad and bias.grad after the forward pass: 'None' until a backward()."""
    layer, x = _linear_run(spec)
    layer(x)
    return {f"{name}.grad": repr(p.grad) for name, p in layer.named_parameters()}


def backward_without_gradient(spec: LinearSpec) -> str | None:
    """Step 4: torch's own message for out.backward() on a non-scalar out; None if out has one element."""
    layer, x = _linear_run(spec)
    try:
        layer(x).backward()
    except RuntimeError as error:
        return str(error)
    return None


def _agrees(computed: np.ndarray, by_hand: np.ndarray) -> bool:
    """float32 autograd against float64 by hand: equal up to float32 rounding over the batch sum."""
    scale = max(1.0, float(np.max(np.abs(by_hand), initial=0.0)))
    return bool(np.allclose(computed, by_hand, rtol=1e-4, atol=1e-5 * scale))


@dataclass(frozen=True)
class GradientCheck:
    """Step 5: out.backward(gradient=g), beside the same gradients worked out by hand."""

    upstream: TensorView  # g, same shape as out: (batch, out_features)
    weight_grad: TensorView  # (out_features, in_features), from autograd
    bias_grad: TensorView  # (out_features,)
    weight_by_hand: np.ndarray  # g^T x in float64, for the agreement check
    bias_by_hand: np.ndarray  # g summed over the batch, float64
    weight_by_hand_printed: str  # print(g.T @ x): the script's float32 tensor, as torch prints it
    bias_by_hand_printed: str  # print(g.sum(dim=0))

    @property
    def weight_agrees(self) -> bool:
        return _agrees(self.weight_grad.values, self.weight_by_hand)

    @property
    def bias_agrees(self) -> bool:
        return _agrees(self.bias_grad.values, self.bias_by_hand)


def _backward(module: nn.Module, x: torch.Tensor, upstream: Upstream) -> tuple[torch.Tensor, torch.Tensor]:
    """out = module(x); out.backward(gradient=g) with the chosen upstream g: (out, g)."""
    out = module(x)
    g = upstream.like(out)
    out.backward(gradient=g)
    return out, g


def _backward_once(spec: LinearSpec, upstream: Upstream) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    upstream.check()
    layer, x = _linear_run(spec)
    _, g = _backward(layer, x, upstream)
    return layer, x, g


def backward_with_gradient(spec: LinearSpec, upstream: Upstream) -> GradientCheck:
    layer, x, g = _backward_once(spec, upstream)
    g64, x64 = g.double().numpy(), x.double().numpy()
    # out = x W^T + b, so d/dW = g^T x (out, batch) @ (batch, in) and d/db = sum of g over the batch.
    return GradientCheck(_view(g), _view(layer.weight.grad), _view(layer.bias.grad), g64.T @ x64, g64.sum(axis=0),
                         str(g.T @ x), str(g.sum(dim=0)))


class GradientState(NamedTuple):
    label: str  # the call that led here
    weight_grad: np.ndarray | None  # None once zero_grad() set it to None
    bias_grad: np.ndarray | None
    printed: str  # what print(layer.weight.grad) and print(layer.bias.grad) write: 'tensor([[...]])\ntensor([...])'


def _gradient_state(label: str, layer: nn.Linear) -> GradientState:
    weight, bias = layer.weight.grad, layer.bias.grad
    return GradientState(label, _numpy(weight), _numpy(bias), _printed(weight, bias))


def accumulate_gradients(spec: LinearSpec, upstream: Upstream) -> list[GradientState]:
    """Step 6: step 5's backward, a second forward and backward without zeroing, then zero_grad()."""
    layer, x, g = _backward_once(spec, upstream)
    states = [_gradient_state("after out.backward(gradient=g)", layer)]
    layer(x).backward(gradient=g)
    states.append(_gradient_state("after layer(x).backward(gradient=g) again", layer))
    layer.zero_grad()  # set_to_none=True since torch 2.0: the gradients become None, not zeros
    states.append(_gradient_state("after layer.zero_grad()", layer))
    return states


# -------------------------------------------------- Models: nn.Sequential ---


class LayerSpec(NamedTuple):
    kind: str  # 'Linear' or one of core.config.ACTIVATIONS
    in_features: int | None = None  # Linear only
    out_features: int | None = None


DEFAULT_LAYERS = (LayerSpec("Linear", 3, 16), LayerSpec("ReLU"), LayerSpec("Linear", 16, 1))


@dataclass(frozen=True)
class SequentialSpec:
    layers: tuple[LayerSpec, ...] = DEFAULT_LAYERS
    batch: int = 10
    seed: int = 7

    def linears(self) -> list[tuple[int, LayerSpec]]:
        """(position in the Sequential, spec) of every Linear."""
        return [(i, layer) for i, layer in enumerate(self.layers) if layer.kind == "Linear"]

    @property
    def in_features(self) -> int:
        return int(self.linears()[0][1].in_features)  # type: ignore[arg-type]

    def layer_sizes(self) -> list[int]:
        """Feature sizes through the Linear layers: [inputs, out of each Linear] (for a diagram)."""
        return [self.in_features, *(int(layer.out_features) for _, layer in self.linears())]  # type: ignore[arg-type]

    def activations(self) -> list[str]:
        """The modules between consecutive Linear layers, joined: 'ReLU', 'Tanh + Identity', ''."""
        positions = [i for i, _ in self.linears()]
        return [" + ".join(layer.kind for layer in self.layers[a + 1:b]) for a, b in zip(positions, positions[1:])]

    def check(self) -> None:
        """Names the layer and both sizes when consecutive Linear layers do not fit together."""
        errors: dict[str, str] = {}
        _check_whole(errors, "batch", self.batch, 1, MAX_BATCH)
        _check_whole(errors, "seed", self.seed, 0, MAX_SEED)
        if not 1 <= len(self.layers) <= MAX_LAYERS:
            errors["layers"] = f"{len(self.layers)} layers; allowed 1 to {MAX_LAYERS}"
        elif not self.linears():
            errors["layers"] = "add an nn.Linear: without one the model has no parameters and no input size"
        for i, layer in enumerate(self.layers):
            if layer.kind not in LAYER_KINDS:
                errors[f"layer {i}"] = f"{layer.kind!r} is not one of {', '.join(LAYER_KINDS)}"
            elif layer.kind == "Linear":
                _check_whole(errors, f"layer {i} in_features", layer.in_features, 1, MAX_FEATURES)
                _check_whole(errors, f"layer {i} out_features", layer.out_features, 1, MAX_FEATURES)
        if not errors:
            errors.update(_size_mismatches(self.linears()))
        if errors:
            raise ConfigError(errors)


def _size_mismatches(linears: list[tuple[int, LayerSpec]]) -> dict[str, str]:
    """Activations keep the size, so each Linear must take what the Linear before it gives."""
    errors = {}
    for (before, previous), (i, layer) in zip(linears, linears[1:]):
        if layer.in_features != previous.out_features:
            errors[f"layer {i}"] = (
                f"nn.Linear({layer.in_features}, {layer.out_features}) takes {layer.in_features} inputs, but layer "
                f"{before}, nn.Linear({previous.in_features}, {previous.out_features}), gives {previous.out_features} "
                f"outputs; make these two sizes equal"
            )
    return errors


def _module(layer: LayerSpec) -> nn.Module:
    if layer.kind == "Linear":
        return nn.Linear(int(layer.in_features), int(layer.out_features))  # type: ignore[arg-type]
    return getattr(nn, layer.kind)()


def _sequential_run(spec: SequentialSpec) -> tuple[nn.Sequential, torch.Tensor]:
    """The model, then x (batch, in_features of the first Linear), from one seed in this order."""
    spec.check()
    with SEED_LOCK:
        torch.manual_seed(spec.seed)
        model = nn.Sequential(*[_module(layer) for layer in spec.layers])
        x = torch.randn(spec.batch, spec.in_features)
    return model, x


@dataclass(frozen=True)
class ModelSummary:
    """Step 2: print(model) and named_parameters()."""

    printed: str
    parameters: list[dict[str, object]]  # one row per parameter: name, shape, count, device, dtype, requires_grad
    total: int  # sum of the counts


def describe_model(spec: SequentialSpec) -> ModelSummary:
    model, _ = _sequential_run(spec)
    rows = [
        {"name": name, "shape": str(tuple(p.shape)), "count": p.numel(), "device": str(p.device),
         "dtype": str(p.dtype), "requires_grad": p.requires_grad}
        for name, p in model.named_parameters()
    ]
    return ModelSummary(str(model), rows, sum(int(row["count"]) for row in rows))


@dataclass(frozen=True)
class SubmoduleView:
    """Step 3: model[index], one module of the Sequential."""

    index: int  # 0-based as in Python; R's torch writes model[[index + 1]]
    printed: str
    parameters: dict[str, TensorView]  # 'weight', 'bias'; empty for an activation


def submodule(spec: SequentialSpec, index: int) -> SubmoduleView:
    model, _ = _sequential_run(spec)
    if not 0 <= index < len(model):
        raise ConfigError({"index": f"{index} is out of range; allowed 0 to {len(model) - 1}"})
    module = model[index]
    return SubmoduleView(index, str(module), {name: _view(p) for name, p in module.named_parameters()})


@dataclass(frozen=True)
class ModelGradients:
    """Step 4: out = model(x), out.backward(gradient=g), every Linear's gradients."""

    output: TensorView  # (batch, out_features of the last Linear)
    upstream: TensorView  # g, same shape
    layers: list[LayerState]  # every nn.Linear: weight, bias and their gradients as numpy
    printed_grads: dict[str, str]  # '0.weight' -> print(p.grad)
    dead_units: dict[str, list[int]]  # Linear position -> output units whose whole gradient is exactly zero


def _backward_model(spec: SequentialSpec, upstream: Upstream) -> tuple[nn.Sequential, torch.Tensor, torch.Tensor]:
    upstream.check()
    model, x = _sequential_run(spec)
    out, g = _backward(model, x, upstream)
    return model, out, g


def _zero_rows(weight_grad: np.ndarray, bias_grad: np.ndarray) -> list[int]:
    """Units whose row of weight.grad and whose bias.grad are all exactly zero."""
    return np.flatnonzero(np.all(weight_grad == 0, axis=1) & (bias_grad == 0)).tolist()


def model_gradients(spec: SequentialSpec, upstream: Upstream) -> ModelGradients:
    model, out, g = _backward_model(spec, upstream)
    layers = [
        LayerState(str(i), _numpy(model[i].weight), _numpy(model[i].bias), _numpy(model[i].weight.grad),
                   _numpy(model[i].bias.grad))
        for i, _ in spec.linears()
    ]
    printed = {name: str(p.grad) for name, p in model.named_parameters()}
    dead = {layer.name: _zero_rows(layer.weight_grad, layer.bias_grad) for layer in layers}
    return ModelGradients(_view(out), _view(g), layers, printed, dead)


@dataclass(frozen=True)
class DeviceMove:
    """Step 5: model.to(device) after a backward, so parameters and gradients both exist."""

    device: str
    before: list[dict[str, object]]  # core.device.tensor_table rows: tensor, shape, device, type, grad
    after: list[dict[str, object]]


def move_model(spec: SequentialSpec, upstream: Upstream, device: str) -> DeviceMove:
    target = resolve_device(device)  # raises RuntimeError with the reason when CUDA is unusable
    model, _, _ = _backward_model(spec, upstream)
    before = _device_rows(model)
    model.to(target)  # Module.to moves each parameter and, when it has one, its .grad
    return DeviceMove(str(target), before, _device_rows(model))


def _device_rows(model: nn.Module) -> list[dict[str, object]]:
    """core.device.tensor_table with the shape as text, as the parameter table shows it."""
    return [{**row, "shape": str(row["shape"])} for row in tensor_table(dict(model.named_parameters()))]
