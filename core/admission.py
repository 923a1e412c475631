"""Fair sharing of the server's cores: at most `slots` runs train at once, the others wait in order.

One process-wide queue serves every session (`shared_queue`). A run joins, then waits for a slot
in first-come order; while it waits, or once paused, it holds no slot and no CPU. It releases its
slot when it pauses, finishes, stops or is interrupted, and joins at the back when resumed.
"""

from __future__ import annotations

import itertools
import threading
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
        self._numbers = itertools.count(1)

    def join(self, session: str = "") -> Ticket:
        """Take a place at the back of the line."""
        with self._changed:
            ticket = Ticket(next(self._numbers), session)
            self._waiting.append(ticket)
            self._changed.notify_all()
            return ticket

    def _may_start(self, ticket: Ticket) -> bool:
        return len(self._training) < self.slots and bool(self._waiting) and self._waiting[0] is ticket

    def acquire(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """Wait up to `timeout` s for the ticket's turn and a free slot; True once it holds a slot."""
        with self._changed:
            if ticket in self._training:
                return True
            if not self._changed.wait_for(lambda: self._may_start(ticket), timeout):
                return False
            self._training.add(self._waiting.popleft())
            self._changed.notify_all()  # the next in line may now be first
            return True

    def release(self, ticket: Ticket) -> None:
        """Leave the line or give the slot back; safe to call more than once."""
        with self._changed:
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
