"""Per-epoch metrics kept as growing numpy columns, so drawing a frame never walks the run."""

from __future__ import annotations

import numpy as np


class History:
    """Loss, learning rate and each parameter's gradient norm, one row per epoch.

    Columns grow by doubling: appending is O(1) amortised and reading returns views.
    """

    def __init__(self, parameter_names: list[str], capacity: int = 256):
        self.parameter_names = list(parameter_names)
        self._rows = np.empty((capacity, 2 + len(parameter_names)))  # loss, lr, norms...
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, loss: float, learning_rate: float, grad_norms: list[float]) -> None:
        if self._size == len(self._rows):
            self._rows = np.concatenate([self._rows, np.empty_like(self._rows)])
        self._rows[self._size] = (loss, learning_rate, *grad_norms)
        self._size += 1

    @property
    def epochs(self) -> np.ndarray:
        """1, 2, ..., len: the lesson counts epochs from 1."""
        return np.arange(1, self._size + 1)

    @property
    def losses(self) -> np.ndarray:
        return self._rows[: self._size, 0]

    @property
    def learning_rates(self) -> np.ndarray:
        return self._rows[: self._size, 1]

    @property
    def grad_norms(self) -> dict[str, np.ndarray]:
        """"0.weight" -> that parameter's gradient norm at every epoch."""
        return {name: self._rows[: self._size, 2 + i] for i, name in enumerate(self.parameter_names)}

    def log_lines(self, every: int = 10, last: int | None = None) -> list[str]:
        """The lesson's printout, 'Epoch: 10  Loss: 52.1', for every `every`-th epoch."""
        epochs = np.arange(every, self._size + 1, every)
        if last is not None:
            epochs = epochs[-last:]
        return [f"Epoch: {epoch}  Loss: {self._rows[epoch - 1, 0]:.6f}" for epoch in epochs]
