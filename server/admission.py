"""Fair sharing of the server's cores: at most `slots` runs train at once, the others wait in order.

One process-wide queue serves every session (`shared_queue`). A run joins, then waits for a slot
in first-come order; while it waits, or once paused, it holds no slot and no CPU. It releases its
slot when it pauses, stops or is interrupted, and joins at the back when resumed.

Runs take turns: once a run has trained `turn` seconds while another waits, it passes its slot on
and goes to the back of the line (`turn_over`, `pass_turn`), as a time-sharing OS schedules
processes, so that a long run does not hold up everyone's lesson-sized runs until it ends.

A run that finishes may keep its slot for a short while (`release(ticket, linger=...)`) while its
page draws the outcome; the page gives the slot back once the outcome is drawn.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, eq=False)
class Ticket:
    number: int  # order of joining, for messages and tests
    session: str = field(default="", compare=False)


class FairQueue:
    """First come, first served admission of training runs to `slots` at once, in turns of `turn` s."""

    def __init__(self, slots: int, turn: float = math.inf):
        self.slots = max(1, slots)
        self.turn = turn
        self._lock = threading.Lock()
        # One condition per ticket on the one lock: a change wakes only the run first in line, not every
        # waiting run, each of which would take the GIL from the training one.
        self._signals: dict[Ticket, threading.Condition] = {}
        self._waiting: deque[Ticket] = deque()
        self._training: dict[Ticket, float] = {}  # time.monotonic() its turn began
        self._lingering: dict[Ticket, float] = {}  # finished runs' slots, until their time.monotonic() deadline
        self._numbers = itertools.count(1)

    def join(self, session: str = "") -> Ticket:
        """Take a place at the back of the line."""
        with self._lock:
            ticket = Ticket(next(self._numbers), session)
            self._signals[ticket] = threading.Condition(self._lock)
            self._waiting.append(ticket)
            self._wake_first()
            return ticket

    def _wake_first(self) -> None:
        """After any change: the run first in line may now start (the others only move up)."""
        if self._waiting:
            self._signals[self._waiting[0]].notify()

    def _busy(self, now: float) -> int:
        """Slots taken: runs training, and finished runs' slots not yet given back or expired."""
        self._lingering = {ticket: until for ticket, until in self._lingering.items() if until > now}
        return len(self._training) + len(self._lingering)

    def _may_start(self, ticket: Ticket) -> bool:
        return self._busy(time.monotonic()) < self.slots and bool(self._waiting) and self._waiting[0] is ticket

    def _waits(self, now: float, give_up: float | None) -> list[float]:
        """Seconds until something may change without a notify: the caller's timeout, a lingering slot's deadline."""
        return [t - now for t in (give_up, min(self._lingering.values(), default=None)) if t is not None]

    def acquire(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """Wait up to `timeout` s for the ticket's turn and a free slot; True once it holds a slot."""
        give_up = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if ticket in self._training:
                return True
            if ticket not in self._signals:  # it left the line
                return False
            while not self._may_start(ticket):
                now = time.monotonic()
                if give_up is not None and now >= give_up:
                    return False
                self._signals[ticket].wait(min(self._waits(now, give_up), default=None))
            self._training[self._waiting.popleft()] = time.monotonic()
            self._wake_first()  # the next in line, with another free slot, may start too
            return True

    def turn_over(self, ticket: Ticket, seconds_left: float = math.inf) -> bool:
        """True once the ticket's run has trained its turn, another run waits for a slot, and the run
        has more than a turn left (`seconds_left` at its own pace): one about to end finishes rather
        than wait a whole round for its last epochs. Called every epoch, so without the lock:
        reading a deque's length and a dict entry is atomic."""
        began = self._training.get(ticket)
        return (bool(self._waiting) and began is not None and time.monotonic() - began >= self.turn
                and seconds_left > self.turn)

    def pass_turn(self, ticket: Ticket) -> None:
        """Give the slot to the next in line and wait at the back (acquire again)."""
        with self._lock:
            if self._training.pop(ticket, None) is not None:
                self._waiting.append(ticket)
                self._wake_first()

    def release(self, ticket: Ticket, linger: float = 0.0) -> None:
        """Leave the line or give the slot back; safe to call more than once. With `linger` > 0 a
        training run keeps its slot that many seconds more, or until it is released again: the next run
        would otherwise start beside the script run that draws the outcome, which holds the GIL it needs.
        A tab closed in between costs the others `linger` seconds at most."""
        with self._lock:
            if ticket in self._training and linger > 0:
                self._lingering[ticket] = time.monotonic() + linger
            else:
                self._lingering.pop(ticket, None)
            self._training.pop(ticket, None)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._signals.pop(ticket, None)
            self._wake_first()

    def ahead(self, ticket: Ticket) -> int:
        """Runs that will start before this one (0: it starts at the next free slot)."""
        with self._lock:
            return self._waiting.index(ticket) if ticket in self._waiting else 0

    @property
    def training(self) -> int:
        with self._lock:
            return len(self._training)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    @property
    def idle(self) -> bool:
        """No run trains, waits, or keeps a slot for its outcome."""
        with self._lock:
            return not self._waiting and not self._busy(time.monotonic())  # busy: training or kept

    def resize(self, slots: int, turn: float = math.inf) -> None:
        with self._lock:
            self.slots, self.turn = max(1, slots), turn
            self._wake_first()


_SHARED: FairQueue | None = None
_SHARED_LOCK = threading.Lock()


def shared_queue(slots: int, turn: float = math.inf) -> FairQueue:
    """The server's one queue, with `slots` (Limits.max_concurrent_runs) and `turn` (Limits.max_turn_ms,
    in seconds) taken from the latest caller."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = FairQueue(slots, turn)
        elif (_SHARED.slots, _SHARED.turn) != (slots, turn):
            _SHARED.resize(slots, turn)
        return _SHARED


def server_idle() -> bool:
    """No run trains or waits on this server (none has yet, if the queue was never made)."""
    with _SHARED_LOCK:
        return _SHARED is None or _SHARED.idle
