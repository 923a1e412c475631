"""Replay's copies of a run's weights and gradients: one row per planned epoch in a few tensors.

A Snapshot is every nn.Linear's weight, bias and their gradients at one epoch. A run keeps up to
201 of them (core/runs.py plans which epochs). A SnapshotStore gives each parameter and each
gradient one buffer of shape (planned epochs, *parameter shape), so that a run's snapshots are a
dozen objects for the garbage collector to scan, which Streamlit runs over every generation after
each script run while holding the GIL; a Snapshot is a view of one row, made when asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.model import linear_layers

Tensors = list[torch.Tensor | None]  # [weight, bias, weight.grad, bias.grad] of one nn.Linear


@dataclass(frozen=True)
class LayerState:
    name: str  # index of the nn.Linear in the Sequential: "0", "2", ...
    weight: np.ndarray  # (out_features, in_features)
    bias: np.ndarray  # (out_features,)
    weight_grad: np.ndarray | None  # same shapes; None before the first backward()
    bias_grad: np.ndarray | None


class Snapshot:
    """Every nn.Linear's weight, bias and gradients at one epoch, as tensors; numpy (views on the
    CPU) when first drawn."""

    def __init__(self, epoch: int, layers: list[tuple[str, Tensors]]):
        self.epoch = epoch
        self.tensors = layers  # (name, [weight, bias, weight.grad, bias.grad]) per Linear

    def weights(self) -> dict[str, torch.Tensor]:
        """{"0.weight": ..., "0.bias": ...}: the snapshot's weights as a state_dict of the model."""
        return {f"{name}.{kind}": tensors[i] for name, tensors in self.tensors
                for i, kind in enumerate(("weight", "bias"))}

    @functools.cached_property
    def layers(self) -> list[LayerState]:
        return [LayerState(name, *(None if t is None else t.cpu().numpy() for t in tensors))
                for name, tensors in self.tensors]


def model_tensors(model: nn.Sequential) -> list[tuple[str, Tensors]]:
    """Every nn.Linear's (name, [weight, bias, weight.grad, bias.grad]), detached, not copied."""
    return [(name, [None if t is None else t.detach() for t in (layer.weight, layer.bias, layer.weight.grad,
                                                                  layer.bias.grad)])
            for name, layer in linear_layers(model)]


class SnapshotStore(Mapping[int, Snapshot]):
    """Epoch -> Snapshot for the planned epochs captured so far. A row, once written, never changes,
    so a Snapshot handed out stays true; a new plan copies the rows it keeps into new buffers."""

    def __init__(self, model: nn.Sequential, plan: Collection[int]):
        self._model = model  # for the shapes, dtypes and device of a new plan's buffers
        self._row = {epoch: row for row, epoch in enumerate(sorted(plan))}  # planned epoch -> its row
        self._names = [name for name, _ in linear_layers(model)]
        # (planned epochs, *shape) for each of a layer's weight, bias, weight.grad and bias.grad (a
        # gradient has its parameter's shape)
        self._buffers = [[torch.empty((len(self._row), *t.shape), dtype=t.dtype, device=t.device) for t in (
            layer.weight, layer.bias, layer.weight, layer.bias)] for _, layer in linear_layers(model)]
        # captured epoch -> whether its gradients existed (not before the first backward())
        self._with_grads: dict[int, bool] = {}

    def capture(self, epoch: int, layers: list[tuple[str, Tensors]]) -> None:
        """Copy `layers` (model_tensors, or a Snapshot's) into the planned `epoch`'s row."""
        row = self._row[epoch]
        grads = all(tensors[2] is not None and tensors[3] is not None for _, tensors in layers)
        for buffers, (_, tensors) in zip(self._buffers, layers, strict=True):
            for buffer, tensor in zip(buffers, tensors if grads else tensors[:2]):
                buffer[row].copy_(tensor)
        self._with_grads[epoch] = grads

    def replanned(self, plan: Collection[int]) -> SnapshotStore:
        """A store for `plan` holding this one's snapshots of the epochs it shares."""
        store = SnapshotStore(self._model, plan)
        for epoch in self._with_grads.keys() & store._row.keys():
            store.capture(epoch, self[epoch].tensors)
        return store

    def __getitem__(self, epoch: int) -> Snapshot:
        grads = self._with_grads[epoch]  # KeyError for an epoch not captured, as a dict's
        row = self._row[epoch]
        return Snapshot(epoch, [(name, [b[row] for b in buffers] if grads
                                 else [buffers[0][row], buffers[1][row], None, None])
                                for name, buffers in zip(self._names, self._buffers)])

    def __iter__(self) -> Iterator[int]:
        return iter(self._with_grads)

    def __len__(self) -> int:
        return len(self._with_grads)
