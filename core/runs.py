"""Runs a session keeps: which epochs a run snapshots for replay, and the store of finished runs.

Replay: the Trainer copies every nn.Linear's weights and gradients at the epochs `snapshot_epochs`
picks, within `SNAPSHOT_BUDGET_BYTES` per run. Only the session's current run holds snapshots; a
kept run holds its config, a bounded loss curve and its final metrics (~20 KB), so a session's
runs cost at most one snapshot budget plus `max_runs` small records.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.config import FIELDS, LIMITS, Config, parameter_count

# float32 weights and gradients per run: the largest allowed network still keeps 10 epochs, the lesson's
# all 200.
SNAPSHOT_BUDGET_BYTES = 64 * 2**20
MAX_SNAPSHOTS = 201  # slider positions: every epoch of the lesson's 200-epoch run, and epoch 0
CURVE_POINTS = 1200  # points of a kept run's loss curve (min/max pairs), twice a live chart's


def snapshot_bytes(layer_sizes: Sequence[int]) -> int:
    """One snapshot: every weight and bias, and their gradients, as float32."""
    return 2 * 4 * parameter_count(list(layer_sizes))


def snapshot_count(layer_sizes: Sequence[int], budget: int = SNAPSHOT_BUDGET_BYTES, most: int = MAX_SNAPSHOTS) -> int:
    """How many snapshots fit the budget; never fewer than 2 (epoch 0 and the last)."""
    return max(2, min(most, budget // snapshot_bytes(layer_sizes)))


def snapshot_epochs(total: int, count: int) -> list[int]:
    """At most `count` epochs of 0..total to snapshot: all of them when they fit; else about half
    log-spaced (early epochs change most) and the rest evenly spaced, always 0 and `total`."""
    if total + 1 <= count:
        return list(range(total + 1))
    early = np.rint(np.geomspace(1, total, (count - 2) // 2)).astype(int).tolist()
    epochs: set[int] = set()
    even = count - len(early)
    while len(epochs) < count and even <= count:  # log-spaced epochs round onto each other early on: top up
        epochs = {*early, *np.rint(np.linspace(0, total, even)).astype(int).tolist()}
        even += count - len(epochs)
    while len(epochs) > count:  # the last top-up overshot: drop the evenly spaced epochs nearest others
        epochs.discard(sorted(epochs)[-2])
    return sorted(epochs)


def differing_fields(configs: Sequence[Config]) -> list[str]:
    """The config fields, in the sidebar's order, whose values are not the same in every config."""
    values = [config.values() for config in configs]
    return [name for name in FIELDS if len({repr(v[name]) for v in values}) > 1]


@dataclass
class KeptRun:
    """A run that ended, as the comparison chart and table show it."""

    number: int  # run 1, run 2, ... in the order the session started them
    name: str  # "run 1" until renamed
    config: Config
    epochs: np.ndarray  # (points,) a bounded copy of the loss curve: at most CURVE_POINTS
    losses: np.ndarray  # (points,)
    final_loss: float
    r_squared: float
    epochs_trained: int
    seconds: float  # time spent in Trainer.step
    outcome: str  # finished, stopped, diverged, failed or reset
    test_loss: float = math.nan  # the last epoch's, NaN without a test split
    accuracy: float = math.nan  # fraction of training rows right at the last epoch, NaN for regression
    test_accuracy: float = math.nan
    test_curve: tuple[np.ndarray, np.ndarray] | None = None  # (epochs, test losses), bounded as the loss curve
    ticked: bool = True  # drawn on the comparison chart
    pinned: bool = False  # never dropped by the cap while an unpinned run is left

    @property
    def nbytes(self) -> int:
        test = sum(column.nbytes for column in self.test_curve) if self.test_curve is not None else 0
        return self.epochs.nbytes + self.losses.nbytes + test


class RunStore:
    """A session's kept runs, oldest first, at most `max_runs`; numbers are never reused."""

    def __init__(self, max_runs: int = LIMITS.max_runs) -> None:
        self.max_runs = max_runs
        self.runs: list[KeptRun] = []
        self.last_number = 0
        # (the session's trainer, its number); weak, so a trainer Reset let go frees its snapshots
        self._current: tuple[weakref.ref, int] | None = None

    def number_of(self, trainer: object) -> int:
        """The run number of the session's current trainer, a new one for a new trainer."""
        if self._current is None or self._current[0]() is not trainer:
            self.last_number += 1
            self._current = (weakref.ref(trainer), self.last_number)
        return self._current[1]

    def get(self, number: int) -> KeptRun | None:
        return next((run for run in self.runs if run.number == number), None)

    def keep(self, run: KeptRun) -> list[str]:
        """Add `run`, or update the kept run of its number (keeping its name, tick and pin); returns the
        names of the runs the cap dropped."""
        if (old := self.get(run.number)) is not None:
            run.name, run.ticked, run.pinned = old.name, old.ticked, old.pinned
            self.runs[self.runs.index(old)] = run
            return []
        self.runs.append(run)
        return self._cap()

    def _cap(self) -> list[str]:
        dropped = []
        while len(self.runs) > self.max_runs:
            unpinned = [run for run in self.runs if not run.pinned]
            oldest = (unpinned or self.runs)[0]
            self.runs.remove(oldest)
            dropped.append(oldest.name)
        return dropped

    def rename(self, number: int, name: str) -> None:
        """A new name, trimmed to 40 characters; a blank name keeps the old one."""
        run = self.get(number)
        if run is not None and name.strip():
            run.name = name.strip()[:40]

    def ticked(self) -> list[KeptRun]:
        return [run for run in self.runs if run.ticked]
