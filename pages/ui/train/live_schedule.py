"""When the Train page draws each part of its live view: frame clocks that keep drawing from slowing training down."""

from __future__ import annotations

import time
from collections.abc import Callable


class FrameClock:
    """Says when a frame is due: at most `max_fps` a second, and spending at most
    `budget` of the wall time on drawing (a slow frame pushes the next one back).

    Record every epoch, draw only when due: the drawing cost then no longer scales with
    the number of epochs.
    """

    def __init__(self, max_fps: float = 20.0, budget: float = 0.15, clock: Callable[[], float] = time.perf_counter):
        self.min_interval = 1.0 / max_fps
        self.budget = budget
        self.clock = clock
        self.next_due = clock()  # the first frame is due at once

    def due(self) -> bool:
        return self.clock() >= self.next_due

    def drew(self, started: float) -> None:
        """Call after drawing a frame that began at `started` (a clock() reading)."""
        now = self.clock()
        cost = now - started
        self.next_due = now + max(self.min_interval - cost, cost * (1 - self.budget) / self.budget)


class LiveSchedule:
    """When each part of the live view is due during a run; one FrameClock per part.

    - `frame`: the loss curve and the epoch counter beside it (one epoch on both), what a reader
      watches: up to 20 frames a second (4 with live drawing off, where only the text moves).
    - `text`: the progress bar and printout. Text that changes 20 times a second cannot be read,
      and each is one more element the browser renders per frame: 5 a second.
    - `slow`: weight and gradient matrices, gradient norms. They change slowly and cost the browser
      the most (~0.15 s a frame for the lesson's three, on two busy cores): 2 a second, within 2%
      of the server's time, the first one interval after the start (the start view shows epoch 0).
    """

    def __init__(self, live: bool = True, clock: Callable[[], float] = time.perf_counter):
        self.frame = FrameClock(max_fps=20 if live else 4, clock=clock)
        self.text = FrameClock(max_fps=5, budget=0.05, clock=clock)
        self.slow = FrameClock(max_fps=2, budget=0.02, clock=clock)
        self.slow.next_due += self.slow.min_interval
        self.plane = FrameClock(max_fps=4, budget=0.10, clock=clock)
        self.plane.next_due += self.plane.min_interval
        self.clock = clock
        self.started = clock()

    def skip(self, seconds: float) -> None:
        """Leave out a wait for the run's next turn (server/admission.py): every clock, and the pace,
        carry on from where they were. Otherwise each turn would begin by drawing every chart."""
        for clock in (self.frame, self.text, self.slow, self.plane):
            clock.next_due += seconds
        self.started += seconds

    def slow_due(self, seconds_left: float) -> bool:
        """The matrices' clock says so, and the run will not end before their next frame would be
        due: the final frame draws them anyway, and the browser, busy drawing them, drew that
        final frame up to 0.15 s late."""
        return self.slow.due() and seconds_left > self.slow.min_interval

    def plane_due(self, seconds_left: float) -> bool:
        """As slow_due, for the decision boundary's clock."""
        return self.plane.due() and seconds_left > self.plane.min_interval

    def seconds_left(self, epochs_done: int, epochs_left: int) -> float:
        """At the pace of this run so far: `epochs_done` since the schedule started."""
        if epochs_done <= 0:
            return float("inf")
        return epochs_left * (self.frame.clock() - self.started) / epochs_done
