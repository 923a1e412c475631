"""What a run costs before it starts, and how long a run has trained: the per-run compute budget.

An epoch of full-batch training costs about `overhead + per_unit * parameters * samples` seconds:
the Python and dispatch cost of a step, plus the matrix products, which grow with both. Both
numbers are measured on this machine by timing a few epochs of two networks (`calibrate`), once
per process.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from core.config import Config, parameter_count, test_rows
from core.trainer import Trainer, seconds_per_epoch
from server.limits import ServerLimits

# Two calibration runs: the lesson's network (mostly overhead) and one whose products dominate.
SMALL = Config().replace(hidden_sizes=(8,), n_samples=100)
LARGE = Config().replace(hidden_sizes=(256, 256), n_samples=2_000)


@dataclass(frozen=True)
class Calibration:
    overhead: float  # seconds per epoch whatever the size
    per_unit: float  # seconds per (parameter x sample) per epoch

    def cost_of(self, units: float) -> float:
        """Seconds per epoch of `units` (parameters x samples)."""
        return self.overhead + self.per_unit * units


def work_units(config: Config, data_shape: tuple[int, int] | None = None) -> int:
    """parameters x samples of one epoch; `data_shape` is an upload's (rows, features)."""
    n_samples, n_features = data_shape or (config.data.n_samples, config.data.n_features)
    return parameter_count(config.layer_sizes(n_features)) * n_samples


def steps_per_epoch(config: Config, data_shape: tuple[int, int] | None = None) -> int:
    """Updates an epoch: one for the full batch, else one per batch of the training rows."""
    n_samples = data_shape[0] if data_shape else config.data.n_samples
    rows = n_samples - test_rows(n_samples, config.training.test_fraction)
    batch = config.training.batch_size
    return -(-rows // batch) if batch else 1


def fit(small: tuple[int, float], large: tuple[int, float]) -> Calibration:
    """The line through two (units, seconds per epoch) measurements; never negative."""
    (u1, s1), (u2, s2) = small, large
    per_unit = max((s2 - s1) / (u2 - u1), 0.0)
    return Calibration(overhead=max(s1 - per_unit * u1, 0.0), per_unit=per_unit)


@functools.cache
def calibrate() -> Calibration:
    """Time a few epochs of SMALL and LARGE here (about 0.3 s, once per process)."""
    return fit((work_units(SMALL), seconds_per_epoch(SMALL, "cpu", epochs=20, warmup=3)),
               (work_units(LARGE), seconds_per_epoch(LARGE, "cpu", epochs=4, warmup=1)))


@dataclass(frozen=True)
class Estimate:
    seconds: float  # the whole run
    seconds_per_epoch: float
    epochs: int
    limit: int  # ServerLimits.max_run_seconds

    @property
    def over(self) -> bool:
        return self.seconds > self.limit

    @property
    def epochs_that_fit(self) -> int:
        return int(self.limit / self.seconds_per_epoch) if self.seconds_per_epoch > 0 else self.epochs


def estimate(config: Config, limits: ServerLimits, data_shape: tuple[int, int] | None = None, *,
             calibration: Calibration, epochs: int | None = None) -> Estimate:
    """The training time of `epochs` (the config's by default) epochs on this machine, before they start.

    Mini-batches pay the per-step overhead once a batch; the products still cost parameters x samples.
    """
    fit = calibration
    extra_steps = steps_per_epoch(config, data_shape) - 1
    per_epoch = fit.cost_of(work_units(config, data_shape)) + fit.overhead * extra_steps
    epochs = config.training.epochs if epochs is None else epochs
    return Estimate(per_epoch * epochs, per_epoch, epochs, limits.max_run_seconds)


class TrainingClock:
    """Seconds each run has spent training, over all its resumes (the wall-clock limit counts these).

    Keyed weakly by Trainer: a reset or closed session drops its run and the count with it."""

    def __init__(self) -> None:
        self._seconds: weakref.WeakKeyDictionary[Trainer, float] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def seconds(self, run: Trainer) -> float:
        with self._lock:
            return self._seconds.get(run, 0.0)

    def add(self, run: Trainer, seconds: float) -> None:
        with self._lock:
            self._seconds[run] = self._seconds.get(run, 0.0) + seconds


    @contextmanager
    def timing(self, run: Trainer, limit: float) -> Iterator[Callable[[], bool]]:
        """Count the time inside the block as training; yields `over()`: True once the run's total passes `limit`."""
        started, left = time.perf_counter(), limit - self.seconds(run)
        try:
            yield lambda: time.perf_counter() - started > left
        finally:
            self.add(run, time.perf_counter() - started)


TRAINING_CLOCK = TrainingClock()
