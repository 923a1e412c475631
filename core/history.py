"""Per-epoch metrics kept as growing numpy columns, so drawing a frame never walks the run."""

from __future__ import annotations

import math

import numpy as np

# Columns beside the loss and lr, NaN where they don't apply: the test ones without a test split,
# the accuracies for regression.
METRICS = ("test_loss", "accuracy", "test_accuracy")
_FIRST_NORM = 2 + len(METRICS)  # loss, lr, the metrics, then one gradient norm per parameter
NAN = math.nan


class History:
    """Loss, learning rate, test loss, accuracies and each parameter's gradient norm, one row per epoch.

    Columns grow by doubling: appending is O(1) amortised and reading returns views.
    """

    def __init__(self, parameter_names: list[str], capacity: int = 256):
        self.parameter_names = list(parameter_names)
        self._rows = np.empty((capacity, _FIRST_NORM + len(parameter_names)))
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, loss: float, learning_rate: float, grad_norms: list[float], test_loss: float = NAN,
               accuracy: float = NAN, test_accuracy: float = NAN) -> None:
        """One epoch; accuracies are fractions (0.95), the test values NaN without a test split."""
        if self._size == len(self._rows):
            self._rows = np.concatenate([self._rows, np.empty_like(self._rows)])
        self._rows[self._size] = (loss, learning_rate, test_loss, accuracy, test_accuracy, *grad_norms)
        self._size += 1

    def _column(self, index: int) -> np.ndarray:
        return self._rows[: self._size, index]

    @property
    def epochs(self) -> np.ndarray:
        """1, 2, ..., len: the lesson counts epochs from 1."""
        return np.arange(1, self._size + 1)

    @property
    def losses(self) -> np.ndarray:
        """The training loss of each epoch, without the l1/l2 penalty (so it compares with the test loss)."""
        return self._column(0)

    @property
    def learning_rates(self) -> np.ndarray:
        return self._column(1)

    @property
    def test_losses(self) -> np.ndarray:
        """The loss on the held-out rows at the start of each epoch, NaN without a test split."""
        return self._column(2 + METRICS.index("test_loss"))

    @property
    def accuracies(self) -> np.ndarray:
        """Fraction of training rows classified right (logit > 0 is class 1); NaN for regression."""
        return self._column(2 + METRICS.index("accuracy"))

    @property
    def test_accuracies(self) -> np.ndarray:
        return self._column(2 + METRICS.index("test_accuracy"))

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        """{"test_loss": column, "accuracy": ..., "test_accuracy": ...}, for saving and restoring."""
        return {name: self._column(2 + i) for i, name in enumerate(METRICS)}

    @property
    def has_test(self) -> bool:
        return bool(self._size) and not np.isnan(self.test_losses).all()

    @property
    def has_accuracy(self) -> bool:
        return bool(self._size) and not np.isnan(self.accuracies).all()

    @property
    def grad_norms(self) -> dict[str, np.ndarray]:
        """"0.weight" -> that parameter's gradient norm at every epoch."""
        return {name: self._column(_FIRST_NORM + i) for i, name in enumerate(self.parameter_names)}

    def log_line(self, epoch: int) -> str:
        """'Epoch: 10  Loss: 52.123456', then the test loss and accuracies where the run has them."""
        loss, _, test_loss, accuracy, test_accuracy = self._rows[epoch - 1, :_FIRST_NORM]
        line = f"Epoch: {epoch}  Loss: {loss:.6f}"
        if not math.isnan(test_loss):
            line += f"  Test loss: {test_loss:.6f}"
        if not math.isnan(accuracy):
            line += f"  Accuracy: {accuracy:.1%}"
        if not math.isnan(test_accuracy):
            line += f"  Test accuracy: {test_accuracy:.1%}"
        return line

    def log_lines(self, every: int = 10, last: int | None = None) -> list[str]:
        """The lesson's printout, 'Epoch: 10  Loss: 52.1', for every `every`-th epoch."""
        epochs = np.arange(every, self._size + 1, every)
        if last is not None:
            epochs = epochs[-last:]
        return [self.log_line(int(epoch)) for epoch in epochs]
