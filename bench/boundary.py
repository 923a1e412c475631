"""The decision boundary's cost per live frame: the network over the plane (core/boundary.py), the
boundary and hidden-unit figures (viz/boundary.py) and their JSON, as the live view would send them.

    python -m bench --only boundary      # the rows for the lesson-sized and the largest network
    python -m bench.boundary [reps]      # the measurement behind core.boundary.grid_size_for: every G
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
import plotly.io as pio
import torch

from core.boundary import GRID_SIZES, grid_size_for, plane_outputs
from core.config import LIMITS, ModelConfig
from core.device import use_torch_threads
from core.model import build_model
from viz.boundary import boundary_figure, units_figure

TEST_FRACTION = 0.3


@dataclass(frozen=True)
class Network:
    label: str
    hidden_sizes: tuple[int, ...]
    n_samples: int


LESSON = Network("lesson-sized 2-32-1, 100 points", (32,), 100)
LARGEST = Network(f"largest 2-{LIMITS.max_units}x{LIMITS.max_hidden_layers}-1, {LIMITS.max_samples:,} points",
                  (LIMITS.max_units,) * LIMITS.max_hidden_layers, LIMITS.max_samples)


@dataclass(frozen=True)
class FrameCost:
    boundary_bytes: int  # the boundary figure's JSON
    units_bytes: int  # the hidden units' figure's JSON
    ms: float  # median per frame: forward pass over the grid, both figures, their JSON
    forward_ms: float  # median of the forward pass alone
    grid_size: int

    @property
    def bytes(self) -> int:
        return self.boundary_bytes + self.units_bytes


def two_blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, 2), labels (n,)): two overlapping Gaussian blobs, a stand-in for any two-input set
    (the frame's size and time depend on the counts, not on the shape of the data)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) + np.where(labels[:, None] == 1, 1.5, -1.5)
    return x.astype(np.float32), labels.astype(np.float32)


def frame_cost(network: Network, grid_size: int | None = None, reps: int = 5) -> FrameCost:
    """Bytes and median time of one boundary frame, on one torch thread as the Trainer trains; the
    grid the app would choose unless `grid_size` is given."""
    use_torch_threads(1)
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden_sizes=network.hidden_sizes, activation="Tanh"), in_features=2)
    grid_size = grid_size or grid_size_for(model)
    x, y = two_blobs(network.n_samples)
    n_test = int(round(TEST_FRACTION * len(x)))
    x_train, y_train, x_test, y_test = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    warm = plane_outputs(model, x_train, grid_size)  # warm-up: the first pass allocates, plotly loads its validators
    boundary_figure(warm, x_train, y_train, x_test, y_test), units_figure(warm)
    totals, forwards, sizes = [], [], (0, 0)
    for epoch in range(reps):
        started = time.perf_counter()
        plane = plane_outputs(model, x_train, grid_size)
        computed = time.perf_counter()
        figures = (boundary_figure(plane, x_train, y_train, x_test, y_test, epoch=epoch),
                   units_figure(plane, epoch=epoch))
        sizes = tuple(len(pio.to_json(figure, validate=False)) for figure in figures)
        totals.append(time.perf_counter() - started)
        forwards.append(computed - started)
    return FrameCost(*sizes, 1000 * statistics.median(totals), 1000 * statistics.median(forwards), grid_size)


def main(argv: list[str]) -> None:
    reps = int(argv[0]) if argv else 5
    print("| network | G | boundary KB | units KB | total KB | ms per frame | of it, forward pass |")
    print("|---|---|---|---|---|---|---|")
    for network in (LESSON, LARGEST):
        for grid_size in sorted(GRID_SIZES):
            cost = frame_cost(network, grid_size, reps)
            print(f"| {network.label} | {grid_size} | {cost.boundary_bytes / 1000:.1f} | "
                  f"{cost.units_bytes / 1000:.1f} | {cost.bytes / 1000:.1f} | {cost.ms:.1f} | {cost.forward_ms:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
