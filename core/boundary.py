"""A two-input classifier's output over its input plane: what the decision boundary and the
first hidden layer's small multiples draw (viz/boundary.py), as plain numpy arrays.

The plane is the training points' range plus a margin, sampled on a G x G grid; the network runs
on the grid once, in eval mode and without autograd, and the first hidden layer's outputs (after
its activation) are kept from the same forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

# Grid points per side: the finest of GRID_SIZES whose pass over the grid stays within MAX_GRID_MACS
# multiply-adds. A frame's bytes barely depend on G (a cell is one byte on the wire), but its time grows
# as G^2 times the network's MACs, so a large network gets a coarser grid (`python -m bench.boundary`
# measures every G).
GRID_SIZES = (80, 60, 40, 25)  # finest first
MAX_GRID_MACS = 5e8
MARGIN = 0.1  # the plane reaches this fraction of the points' range beyond them on every side
MAX_UNITS = 16  # first hidden layer units whose outputs are kept (a 512-unit layer: the first 16)


@dataclass(frozen=True)
class PlaneOutputs:
    """The network over the plane; rows follow x2 and columns x1 (plotly's heatmap z[row][column])."""

    x1: np.ndarray  # (G,) float32, the grid's first input, ascending
    x2: np.ndarray  # (G,) float32, the grid's second input, ascending
    probability: np.ndarray  # (G, G) float32, torch.sigmoid(logit): p(class 1)
    # (K, G, G) float32, the first hidden layer's first K units after the activation; K = 0 without one
    units: np.ndarray
    total_units: int  # units in the first hidden layer (0 without one), of which `units` holds the first K


@dataclass(frozen=True)
class BoundaryData:
    """One frame of the boundary: the network over the plane and the points to draw on it, as numpy."""

    plane: PlaneOutputs
    x_train: np.ndarray  # (n, 2) float32
    y_train: np.ndarray  # (n,) float32 labels 0/1
    x_test: np.ndarray  # (m, 2) float32; m = 0 without a test split
    y_test: np.ndarray  # (m,)


def boundary_data(model: nn.Sequential, x_train: np.ndarray | torch.Tensor, y_train: np.ndarray | torch.Tensor,
                  x_test: np.ndarray | torch.Tensor | None = None, y_test: np.ndarray | torch.Tensor | None = None,
                  grid_size: int | None = None) -> BoundaryData:
    """What viz.boundary.boundary_figures draws: the plane spans the training and test points (so
    none falls outside it), the points and labels come back as numpy on the CPU."""
    train, test = (_as_numpy(x_train).reshape(-1, 2),
                   _as_numpy(x_test if x_test is not None else np.empty((0, 2))).reshape(-1, 2))
    plane = plane_outputs(model, np.concatenate([train, test]), grid_size)
    labels = [_as_numpy(y if y is not None else np.empty(0)).reshape(-1).astype(np.float32)
              for y in (y_train, y_test)]
    return BoundaryData(plane, train.astype(np.float32), labels[0], test.astype(np.float32), labels[1])


def plane_extent(points: np.ndarray | torch.Tensor,
                 margin: float = MARGIN) -> tuple[tuple[float, float], tuple[float, float]]:
    """((low, high) of x1, (low, high) of x2): the points' range widened by `margin` of it on each side.

    A range of zero width (one point, or a constant column) is widened to +-1 around it, so the
    plane is never empty.
    """
    values = _as_numpy(points).reshape(-1, 2)
    values = values[np.isfinite(values).all(axis=1)]
    if not len(values):
        return (-1.0, 1.0), (-1.0, 1.0)
    low, high = values.min(axis=0), values.max(axis=0)
    pad = np.where(high > low, (high - low) * margin, 1.0)
    return tuple((float(lo - p), float(hi + p)) for lo, hi, p in zip(low, high, pad))  # type: ignore[return-value]


def grid_size_for(model: nn.Sequential, max_macs: float = MAX_GRID_MACS) -> int:
    """The finest of GRID_SIZES whose forward pass over the grid costs at most `max_macs` multiply-adds."""
    per_point = sum(module.in_features * module.out_features for module in model if isinstance(module, nn.Linear))
    return next((size for size in GRID_SIZES if size * size * per_point <= max_macs), GRID_SIZES[-1])


def plane_outputs(model: nn.Sequential, points: np.ndarray | torch.Tensor, grid_size: int | None = None,
                  max_units: int = MAX_UNITS, margin: float = MARGIN) -> PlaneOutputs:
    """The model's p(class 1) over a `grid_size` x `grid_size` grid spanning `points` (by default
    grid_size_for(model)), and the first hidden layer's outputs there.

    Runs under torch.no_grad() in eval mode on the model's device and dtype; the model's own
    mode (train or eval) is restored afterwards. `points`: (n, 2) training inputs.
    """
    _check_two_inputs(model)
    grid_size = grid_size or grid_size_for(model)
    (x1_low, x1_high), (x2_low, x2_high) = plane_extent(points, margin)
    x1 = np.linspace(x1_low, x1_high, grid_size, dtype=np.float32)
    x2 = np.linspace(x2_low, x2_high, grid_size, dtype=np.float32)
    parameter = next(model.parameters())
    grid = torch.cartesian_prod(torch.as_tensor(x2), torch.as_tensor(x1)).flip(1)  # (G*G, 2): x1 fastest, row = x2
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits, hidden = _forward_keeping_first_hidden(model, grid.to(parameter.device, parameter.dtype))
            probability = torch.sigmoid(logits).reshape(grid_size, grid_size)
            total = 0 if hidden is None else hidden.shape[1]
            kept = (_empty_units(grid_size) if hidden is None
                    else hidden[:, :max_units].T.reshape(-1, grid_size, grid_size))
            return PlaneOutputs(x1, x2, _to_float32(probability), _to_float32(kept), total)
    finally:
        model.train(was_training)


def _check_two_inputs(model: nn.Sequential) -> None:
    first = next((module for module in model if isinstance(module, nn.Linear)), None)
    if first is None or first.in_features != 2:
        inputs = "no nn.Linear" if first is None else f"{first.in_features} inputs"
        raise ValueError(f"a decision boundary needs a model with two inputs (x1, x2); this one has {inputs}")


def _forward_keeping_first_hidden(model: nn.Sequential,
                                  inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(the model's output (N, 1), the first hidden layer's output after its activation (N, H), None
    without a hidden layer): one pass through the Sequential.

    The first hidden layer ends at the module before the second nn.Linear (Linear -> activation,
    as core.model.build_model stacks them); a model with one nn.Linear has none.
    """
    linear_positions = [i for i, module in enumerate(model) if isinstance(module, nn.Linear)]
    hidden_end = linear_positions[1] - 1 if len(linear_positions) > 1 else None
    hidden, out = None, inputs
    for i, module in enumerate(model):
        out = module(out)
        if i == hidden_end:
            hidden = out
    return out, hidden


def _empty_units(grid_size: int) -> torch.Tensor:
    return torch.empty(0, grid_size, grid_size)


def _to_float32(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu", torch.float32).numpy()


def _as_numpy(points: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(points, torch.Tensor):
        return points.detach().to("cpu", torch.float64).numpy()
    return np.asarray(points, dtype=np.float64)
