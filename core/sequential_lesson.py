"""The Models page's lesson: an nn.Sequential, its named parameters, a sub-module, backward through every
layer, a device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from core.config import MAX_SEED, ConfigError
from core.device import resolve_device, tensor_table
from core.lesson import (
    LAYER_KINDS,
    MAX_BATCH,
    MAX_FEATURES,
    MAX_LAYERS,
    TensorView,
    Upstream,
    as_numpy,
    backward_through,
    check_whole,
    tensor_view,
)
from core.snapshots import LayerState
from core.trainer import SEED_LOCK


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
        check_whole(errors, "batch", self.batch, 1, MAX_BATCH)
        check_whole(errors, "seed", self.seed, 0, MAX_SEED)
        if not 1 <= len(self.layers) <= MAX_LAYERS:
            errors["layers"] = f"{len(self.layers)} layers; allowed 1 to {MAX_LAYERS}"
        elif not self.linears():
            errors["layers"] = "add an nn.Linear: without one the model has no parameters and no input size"
        for i, layer in enumerate(self.layers):
            if layer.kind not in LAYER_KINDS:
                errors[f"layer {i}"] = f"{layer.kind!r} is not one of {', '.join(LAYER_KINDS)}"
            elif layer.kind == "Linear":
                check_whole(errors, f"layer {i} in_features", layer.in_features, 1, MAX_FEATURES)
                check_whole(errors, f"layer {i} out_features", layer.out_features, 1, MAX_FEATURES)
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
    return SubmoduleView(index, str(module), {name: tensor_view(p) for name, p in module.named_parameters()})


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
    out, g = backward_through(model, x, upstream)
    return model, out, g


def _zero_rows(weight_grad: np.ndarray, bias_grad: np.ndarray) -> list[int]:
    """Units whose row of weight.grad and whose bias.grad are all exactly zero."""
    return np.flatnonzero(np.all(weight_grad == 0, axis=1) & (bias_grad == 0)).tolist()


def model_gradients(spec: SequentialSpec, upstream: Upstream) -> ModelGradients:
    model, out, g = _backward_model(spec, upstream)
    layers = [
        LayerState(str(i), as_numpy(model[i].weight), as_numpy(model[i].bias), as_numpy(model[i].weight.grad),
                   as_numpy(model[i].bias.grad))
        for i, _ in spec.linears()
    ]
    printed = {name: str(p.grad) for name, p in model.named_parameters()}
    dead = {layer.name: _zero_rows(layer.weight_grad, layer.bias_grad) for layer in layers}
    return ModelGradients(tensor_view(out), tensor_view(g), layers, printed, dead)


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
