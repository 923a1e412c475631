"""Another session's run on the server's shared queue, for tests of what takes turns with it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.config import Config
from core.trainer import Trainer


class OtherSession:
    """Another session's run on the shared queue, in a thread: it trains whenever it holds the slot,
    passing it on at the end of each turn, and notes each turn in `events`."""

    def __init__(self, queue, events: list[str], each_turn: Callable[[], None] = lambda: None):
        """`each_turn` runs at the start of each of its turns (a test's fake clock moves on, say)."""
        self.queue, self.events, self.done, self.each_turn = queue, events, threading.Event(), each_turn
        self.ticket = queue.join()
        self.trainer = Trainer(Config().replace(epochs=100_000))
        self.thread = threading.Thread(target=self._train)

    def _train(self) -> None:
        while not self.done.is_set():
            if not self.queue.acquire(self.ticket, timeout=0.05):
                continue
            self.events.append("other")
            self.each_turn()
            while not self.done.is_set() and not self.queue.turn_over(self.ticket):
                self.trainer.step()
            self.queue.pass_turn(self.ticket)
        self.queue.release(self.ticket)

    def __enter__(self) -> OtherSession:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join(timeout=30)
