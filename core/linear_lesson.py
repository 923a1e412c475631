"""The Layers page's lesson: one nn.Linear, its parameters, a forward pass, its grad_fn graph and backward()."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from core.config import MAX_SEED, ConfigError
from core.lesson import (
    MAX_BATCH,
    MAX_FEATURES,
    TensorView,
    Upstream,
    as_numpy,
    backward_through,
    check_whole,
    printed,
    tensor_view,
)
from core.trainer import SEED_LOCK


@dataclass(frozen=True)
class LinearSpec:
    in_features: int = 3
    out_features: int = 1
    batch: int = 10  # rows of x = torch.randn(batch, in_features)
    seed: int = 7  # torch.manual_seed before the layer and x are drawn

    def check(self) -> None:
        errors: dict[str, str] = {}
        check_whole(errors, "in_features", self.in_features, 1, MAX_FEATURES)
        check_whole(errors, "out_features", self.out_features, 1, MAX_FEATURES)
        check_whole(errors, "batch", self.batch, 1, MAX_BATCH)
        check_whole(errors, "seed", self.seed, 0, MAX_SEED)
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
    return LinearParameters(str(layer), tensor_view(layer.weight), tensor_view(layer.bias),
                            1 / math.sqrt(spec.in_features))


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
    return ForwardResult(tensor_view(x), tensor_view(out), type(out.grad_fn).__name__, graph)


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



def _backward_once(spec: LinearSpec, upstream: Upstream) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    upstream.check()
    layer, x = _linear_run(spec)
    _, g = backward_through(layer, x, upstream)
    return layer, x, g


def backward_with_gradient(spec: LinearSpec, upstream: Upstream) -> GradientCheck:
    layer, x, g = _backward_once(spec, upstream)
    g64, x64 = g.double().numpy(), x.double().numpy()
    # out = x W^T + b, so d/dW = g^T x (out, batch) @ (batch, in) and d/db = sum of g over the batch.
    return GradientCheck(tensor_view(g), tensor_view(layer.weight.grad), tensor_view(layer.bias.grad), g64.T @ x64,
                         g64.sum(axis=0), str(g.T @ x), str(g.sum(dim=0)))


class GradientState(NamedTuple):
    label: str  # the call that led here
    weight_grad: np.ndarray | None  # None once zero_grad() set it to None
    bias_grad: np.ndarray | None
    printed: str  # what print(layer.weight.grad) and print(layer.bias.grad) write: 'tensor([[...]])\ntensor([...])'


def _gradient_state(label: str, layer: nn.Linear) -> GradientState:
    weight, bias = layer.weight.grad, layer.bias.grad
    return GradientState(label, as_numpy(weight), as_numpy(bias), printed(weight, bias))


def accumulate_gradients(spec: LinearSpec, upstream: Upstream) -> list[GradientState]:
    """Step 6: step 5's backward, a second forward and backward without zeroing, then zero_grad()."""
    layer, x, g = _backward_once(spec, upstream)
    states = [_gradient_state("after out.backward(gradient=g)", layer)]
    layer(x).backward(gradient=g)
    states.append(_gradient_state("after layer(x).backward(gradient=g) again", layer))
    layer.zero_grad()  # set_to_none=True since torch 2.0: the gradients become None, not zeros
    states.append(_gradient_state("after layer.zero_grad()", layer))
    return states


