"""The Train page's share of the server: the compute budget checked before a run starts, and the
wait for a training slot (core/admission.py) with the run's place in line on screen."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.admission import FairQueue, Ticket, shared_queue
from core.budget import estimate
from core.config import Config, Limits
from core.tabular import Dataset
from core.trainer import Trainer

POLL_SECONDS = 0.25  # how often a waiting run looks at its place and lets a click stop it, in a short line
# All waiting runs together wake at most this often: each wake-up takes the GIL from the run training.
# A class of 30 on one server trained 1.08x faster than with every run polling every 0.25 s (116
# wake-ups a second). A run in a long line so polls less often: a click on Pause or Stop waits up to
# one poll, 1 s in a class of 30.
WAKEUPS_PER_SECOND = 30
REDRAW_SECONDS = 1.0  # a waiting run's place is redrawn at most this often
# How long a run that ended keeps its slot for the script run that draws its outcome (core/admission.py):
# that script run takes 0.2-0.7 s on a busy demo; a tab closed before it costs the next run this much.
OUTCOME_SECONDS = 2.0
HELD_SLOT = "held_slot"  # session_state: (queue, ticket) of a slot kept for the outcome


def budget_refusal(config: Config, dataset: Dataset | None, caps: Limits, trainer: Trainer | None) -> str | None:
    """Why the run (or what is left of it, when resuming) may not start, or None."""
    epochs_left = config.training.epochs - (trainer.epoch if trainer is not None else 0)
    if epochs_left <= 0:
        return None
    shape = dataset.x.shape if dataset is not None else None
    cost = estimate(config.replace(epochs=epochs_left), caps, shape)
    return cost.message() if cost.over else None


def queue_text(ahead: int, queue: FairQueue) -> str:
    runs = f"{ahead} run{'s' if ahead != 1 else ''} ahead of yours" if ahead else "yours is next"
    turns = f", in turns of {queue.turn:g} s while others wait" if math.isfinite(queue.turn) else ""
    return (f"**Queued: {runs}.** This server trains {queue.slots} run{'s' if queue.slots != 1 else ''} at once"
            f"{turns}, and {queue.training} {'is' if queue.training == 1 else 'are'} training now; yours starts "
            "by itself. Pause or Stop leaves the queue.")


def wait_for_slot(queue: FairQueue, ticket: Ticket, still_wanted: Callable[[], bool],
                  place: DeltaGenerator | None) -> bool:
    """Wait for the ticket's turn, showing its place in `place` (if any); False if a newer script run
    took the run over."""
    shown, drawn_at = None, -math.inf
    while not queue.acquire(ticket, timeout=poll_seconds(queue.waiting)):
        let_clicks_in()
        if not still_wanted():
            return False
        # Redrawn only when it changed, at most once a second: 29 runs waiting in a class, each redrawn
        # every poll, cost the training one 20%, and in turns of 0.1 s every place changes each poll.
        if place is None or time.monotonic() - drawn_at < REDRAW_SECONDS:
            continue
        if (text := queue_text(queue.ahead(ticket), queue)) != shown:
            place.info(text, icon=":material/hourglass_top:")
            shown, drawn_at = text, time.monotonic()
    if shown is not None:
        place.empty()
    return True


def poll_seconds(waiting: int) -> float:
    """How long a run waits between looks at its place when `waiting` runs wait."""
    return max(POLL_SECONDS, waiting / WAKEUPS_PER_SECOND)


def let_clicks_in() -> None:
    """Where Streamlit stops this script run for a click on Pause or Stop (a rerun or stop request)
    without sending anything: every access to the session state is such a point (SafeSessionState's
    yield callback), as every st element call is."""
    st.session_state.get(HELD_SLOT)


@dataclass
class Admission:
    """A run's place in the server's queue, as `training_slot` yields it."""

    queue: FairQueue
    ticket: Ticket
    still_wanted: Callable[[], bool]
    admitted: bool = False  # it may train
    keep_for_outcome: bool = False  # set once the run ended and this script run reruns the page to draw it

    def turn_over(self, seconds_left: float) -> bool:
        """The run has trained its turn, another waits, and it has more than a turn left: it should
        `wait_for_turn`."""
        return self.queue.turn_over(self.ticket, seconds_left)

    def wait_for_turn(self) -> bool:
        """Pass the slot on and wait at the back of the line; False if a newer script run took the run over."""
        self.queue.pass_turn(self.ticket)
        return wait_for_slot(self.queue, self.ticket, self.still_wanted, None)


@contextmanager
def training_slot(caps: Limits, still_wanted: Callable[[], bool], place: DeltaGenerator) -> Iterator[Admission]:
    """A place in the server's queue for the block, shown in `place` while it waits.

    The place is given back however the block ends, a Pause, Stop or closed tab (Streamlit's
    StopException or RerunException inside an st call) included; with `keep_for_outcome` set, only
    once the page has drawn the outcome (give_back_held_slot), or after OUTCOME_SECONDS."""
    queue = shared_queue(caps.max_concurrent_runs, caps.max_turn_ms / 1000)
    ticket = queue.join()
    admission = Admission(queue, ticket, still_wanted)
    try:
        admission.admitted = wait_for_slot(queue, ticket, still_wanted, place)
        yield admission
    finally:
        # Before any session-state access: in a script run a click has stopped, each one raises again.
        queue.release(ticket, linger=OUTCOME_SECONDS if admission.keep_for_outcome else 0.0)
    if admission.keep_for_outcome:
        give_back_held_slot()  # an older one, whose outcome never finished drawing
        st.session_state[HELD_SLOT] = queue, ticket


def give_back_held_slot() -> None:
    """The end of a Train page's script run: a slot kept for this session's outcome goes to the next in line."""
    if (held := st.session_state.pop(HELD_SLOT, None)) is not None:
        queue, ticket = held
        queue.release(ticket)
