"""Fair sharing of the server's cores: at most `slots` runs train at once, the others wait in order.

One process-wide queue serves every session (`shared_queue`). A run joins, then waits for a slot
in first-come order; while it waits, or once paused, it holds no slot and no CPU. It releases its
slot when it pauses, stops or is interrupted, and joins at the back when resumed.

A run that finishes may keep its slot for a short while (`release(ticket, linger=...)`): its page
then draws the outcome, a script run of a few tenths of a second that shares the server's one GIL.
Started during that script run, the next run in line trained at a sixth of its speed for its first
half second; started after it, at full speed. The page gives the slot back once the outcome is drawn
(`release(ticket)` again); a tab closed in between costs the others `linger` seconds at most.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, eq=False)
class Ticket:
    number: int  # order of joining, for messages and tests
    session: str = field(default="", compare=False)


class FairQueue:
    """First come, first served admission of training runs to `slots` at once."""

    def __init__(self, slots: int):
        self.slots = max(1, slots)
        self._changed = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._training: set[Ticket] = set()
        self._lingering: dict[Ticket, float] = {}  # finished runs' slots, until their time.monotonic() deadline
        self._numbers = itertools.count(1)

    def join(self, session: str = "") -> Ticket:
        """Take a place at the back of the line."""
        with self._changed:
            ticket = Ticket(next(self._numbers), session)
            self._waiting.append(ticket)
            self._changed.notify_all()
            return ticket

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
        with self._changed:
            if ticket in self._training:
                return True
            while not self._may_start(ticket):
                now = time.monotonic()
                if give_up is not None and now >= give_up:
                    return False
                self._changed.wait(min(self._waits(now, give_up), default=None))
            self._training.add(self._waiting.popleft())
            self._changed.notify_all()  # the next in line may now be first
            return True

    def release(self, ticket: Ticket, linger: float = 0.0) -> None:
        """Leave the line or give the slot back; safe to call more than once. With `linger` > 0 a
        training run keeps its slot that many seconds more, or until it is released again."""
        with self._changed:
            if ticket in self._training and linger > 0:
                self._lingering[ticket] = time.monotonic() + linger
            else:
                self._lingering.pop(ticket, None)
            self._training.discard(ticket)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._changed.notify_all()

    def ahead(self, ticket: Ticket) -> int:
        """Runs that will start before this one (0: it starts at the next free slot)."""
        with self._changed:
            return self._waiting.index(ticket) if ticket in self._waiting else 0

    @property
    def training(self) -> int:
        with self._changed:
            return len(self._training)

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)

    def resize(self, slots: int) -> None:
        with self._changed:
            self.slots = max(1, slots)
            self._changed.notify_all()


_SHARED: FairQueue | None = None
_SHARED_LOCK = threading.Lock()


def shared_queue(slots: int) -> FairQueue:
    """The server's one queue, with `slots` (Limits.max_concurrent_runs) taken from the latest caller."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = FairQueue(slots)
        elif _SHARED.slots != slots:
            _SHARED.resize(slots)
        return _SHARED
