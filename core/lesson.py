"""What both lessons share: the limits of their inputs, the upstream gradient, and tensors as the
lesson shows them. core/linear_lesson.py is the Layers page's nn.Linear lesson, core/sequential_lesson.py
the Models page's nn.Sequential.

Every step rebuilds its module from the seed in the lesson's order (torch.manual_seed, the module,
then x = torch.randn(batch, in_features)), so each step stands on its own and core.codegen's scripts
print the very numbers shown here. Results are plain data: numpy arrays, strings and small dataclasses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.config import ACTIVATIONS, ConfigError, whole_number
from core.device import type_label

MAX_FEATURES = 512  # per side of an nn.Linear, the Train page's max_units
MAX_BATCH = 1000  # rows of x
MAX_LAYERS = 12  # modules in the Models page's nn.Sequential
MAX_CONSTANT = 1e6  # largest |upstream gradient| a learner may type
LAYER_KINDS = ("Linear", *ACTIVATIONS)
LESSON_CONSTANT = 10.0  # the lesson's upstream gradient: torch_tensor(10)$`repeat`(10)
UPSTREAM_KINDS = ("mean", "sum", "lesson", "constant")


# ------------------------------------------------------------ validation ---


def check_whole(errors: dict[str, str], name: str, value: object, low: int, high: int) -> None:
    """Record a message under `name` unless value is a whole number in [low, high]."""
    try:
        whole_number(low, high)(value)
    except ValueError as error:
        errors[name] = str(error)


@dataclass(frozen=True)
class Upstream:
    """The gradient passed to out.backward(gradient=g): d(something)/d out, one number per element of out."""

    kind: str = "lesson"  # mean: d out.mean()/d out; sum: d out.sum()/d out; lesson: 10s; constant: `constant`s
    constant: float = LESSON_CONSTANT  # used when kind == "constant"

    def check(self) -> None:
        if self.kind not in UPSTREAM_KINDS:
            raise ConfigError({"upstream": f"{self.kind!r} is not one of {', '.join(UPSTREAM_KINDS)}"})
        if self.kind == "constant" and not (math.isfinite(self.constant) and abs(self.constant) <= MAX_CONSTANT):
            raise ConfigError(
                {"constant": f"{self.constant:g} is out of range; allowed -{MAX_CONSTANT:g} to {MAX_CONSTANT:g}"})

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


def tensor_view(tensor: torch.Tensor) -> TensorView:
    return TensorView(tensor.detach().cpu().numpy().copy(), str(tensor), type_label(tensor), tensor.requires_grad)


def printed(*tensors: torch.Tensor | None) -> str:
    """What print(a) then print(b) ... write: each str() on its own lines ("None" for a missing .grad)."""
    return "\n".join(str(tensor) for tensor in tensors)


def as_numpy(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().cpu().numpy().copy()

def backward_through(module: nn.Module, x: torch.Tensor, upstream: Upstream) -> tuple[torch.Tensor, torch.Tensor]:
    """out = module(x); out.backward(gradient=g) with the chosen upstream g: (out, g)."""
    out = module(x)
    g = upstream.like(out)
    out.backward(gradient=g)
    return out, g
