"""The server's share for each session: every path that trains goes through here.

What a request would cost and whether it may start (`refusal`), the wait for a training slot in
the server's one queue (server/admission.py) with its place on screen, turns with the other runs,
and `run_in_turns`, which takes any such work (One epoch's walk, replay's training again, the
CPU-against-CUDA timing) a step at a time. The Train page's own loop is pages/ui/train/live_view.py.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.config import Config
from core.tabular import Dataset
from core.trainer import Trainer
from server.admission import FairQueue, Ticket, shared_queue
from server.budget import TRAINING_CLOCK, Calibration, Estimate, calibrate, estimate
from server.limits import ServerLimits

T = TypeVar("T")
POLL_SECONDS = 0.25  # how often a waiting run looks at its place and lets a click stop it, in a short line
# All waiting runs together wake at most this often: each wake-up takes the GIL from the run training.
# A class of 30 on one server trained 1.08x faster than with every run polling every 0.25 s (116
# wake-ups a second). A run in a long line so polls less often: a click on Pause or Stop waits up to
# one poll, 1 s in a class of 30.
WAKEUPS_PER_SECOND = 30
REDRAW_SECONDS = 1.0  # a waiting run's place is redrawn at most this often
# How long a run that ended keeps its slot for the script run that draws its outcome (server/admission.py):
# that script run takes 0.2-0.7 s on a busy demo; a tab closed before it costs the next run this much.
OUTCOME_SECONDS = 2.0
HELD_SLOT = "held_slot"  # session_state: (queue, ticket) of a slot kept for the outcome
PROGRESS_SECONDS = 0.25  # run_in_turns redraws its progress at most this often


@dataclass(frozen=True)
class Work:
    """What a request would train: `epochs` epochs of `config`, on uploaded rows of `data_shape` if any."""

    config: Config
    epochs: int
    data_shape: tuple[int, int] | None = None
    reaching: int | None = None  # One epoch's link: the epoch the walk trains to from the seed


class Refused(Exception):
    """Work that may not start (over the budget) or go on (past the wall-clock limit); its message says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def refusal(work: Work, limits: ServerLimits) -> str | None:
    """Why `work` may not start on this server, or None: the one decision for every page."""
    if work.epochs <= 0:
        return None
    cost = estimate(work.config, limits, work.data_shape, calibration=calibration(limits), epochs=work.epochs)
    return refusal_text(cost, work.reaching) if cost.over else None


def refusal_text(cost: Estimate, reaching: int | None = None) -> str:
    """Why the work is refused and how to shrink it; `reaching` for a walk to that epoch."""
    if reaching is None:
        what, shrink, script = "This run", f"at most {max(cost.epochs_that_fit, 1):,} epochs", "under **The code**"
    else:
        what = f"Reaching epoch {reaching:,} from the seed"
        shrink, script = f"an epoch below {max(cost.epochs_that_fit, 1):,}", "below"
    return (
        f"{what} would train for about {cost.seconds:,.0f} s on this server ({cost.epochs:,} epochs at "
        f"{_duration(cost.seconds_per_epoch)} each), over the limit of {cost.limit:,} s per run that keeps "
        f"the shared demo fair. To shrink it: {shrink}, or fewer samples or smaller hidden layers (an epoch "
        f"costs about parameters × samples). Or run it on your own machine: the script {script} trains the "
        "same network."
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.2g} s" if seconds >= 1 else f"{1000 * seconds:.2g} ms"


def wall_clock_note(run: Trainer, limit: int) -> str:
    """Why a run stopped at the wall-clock limit."""
    return (
        f"Stopped at the limit of {limit:,} s of training per run on this shared server, at epoch {run.epoch:,} "
        f"of {run.config.training.epochs:,}; everything trained so far is kept. Train again with fewer epochs, "
        "or run the script under **The code** on your own machine to train longer."
    )


def budget_refusal(config: Config, dataset: Dataset | None, limits: ServerLimits,
                   trainer: Trainer | None) -> str | None:
    """Why the Train page's run (or what is left of it, when resuming) may not start, or None."""
    epochs_left = config.training.epochs - (trainer.epoch if trainer is not None else 0)
    return refusal(Work(config, epochs_left, dataset.x.shape if dataset is not None else None), limits)


CALIBRATION_WAIT = 30.0  # s: a calibration waits this long at most for a slot, then measures anyway


def calibration(limits: ServerLimits) -> Calibration:
    """The budget's measure of this machine. Taken once per process by training two small networks,
    so in a training slot like any run: measured beside a class's runs it would read their load."""
    if not calibrate.cache_info().currsize:
        queue = shared_queue(limits.max_concurrent_runs, limits.max_turn_ms / 1000)
        ticket = queue.join()
        try:
            with _admitted(queue.acquire(ticket, timeout=CALIBRATION_WAIT)):
                calibrate()
        finally:
            queue.release(ticket)
    return calibrate()


_THREAD = threading.local()


def admitted() -> bool:
    """Whether this thread holds a training slot now; every training step should (tests check it)."""
    return getattr(_THREAD, "admitted", False)


@contextmanager
def _admitted(holds_slot: bool = True) -> Iterator[None]:
    _THREAD.admitted = holds_slot
    try:
        yield
    finally:
        _THREAD.admitted = False


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
        _THREAD.admitted = False
        self.queue.pass_turn(self.ticket)
        _THREAD.admitted = wait_for_slot(self.queue, self.ticket, self.still_wanted, None)
        return _THREAD.admitted


@contextmanager
def training_slot(limits: ServerLimits, still_wanted: Callable[[], bool], place: DeltaGenerator) -> Iterator[Admission]:
    """A place in the server's queue for the block, shown in `place` while it waits.

    The place is given back however the block ends, a Pause, Stop or closed tab (Streamlit's
    StopException or RerunException inside an st call) included; with `keep_for_outcome` set, only
    once the page has drawn the outcome (give_back_held_slot), or after OUTCOME_SECONDS."""
    queue = shared_queue(limits.max_concurrent_runs, limits.max_turn_ms / 1000)
    ticket = queue.join()
    admission = Admission(queue, ticket, still_wanted)
    try:
        admission.admitted = wait_for_slot(queue, ticket, still_wanted, place)
        with _admitted(admission.admitted):
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


class RunOwner:
    """Which script run of this session may step its Trainer, and what the last run that trained left.

    With `runner.fastReruns` (forced on Streamlit Community Cloud) a click starts a new script run at
    once, while the interrupted one goes on in its own thread until its next st.* call, stepping the
    same Trainer meanwhile: a Pause at epoch 5315 then showed 5318 after one Step. So every script run
    of the page, and every transport callback, claims the run first; the training loop steps only
    while its claim is the newest, with the check and the step under one lock, so a claim waits for
    an epoch in progress and the new run draws the model as it is.

    The loop never writes session state: Streamlit runs callbacks holding the session state's lock,
    and a loop that held this lock while waiting for that one would deadlock with a callback that
    claims. It leaves its outcome here instead, which the next script run applies unless a callback
    claimed the run first (a click decides what happens next).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.newest = 0
        self.outcome: dict[str, object] = {}  # session state values the last training run left

    def claim(self) -> dict[str, object]:
        """Become the newest claim; returns the outcome a finished training run left (and drops it)."""
        with self.lock:
            self.newest += 1
            outcome, self.outcome = self.outcome, {}
            return outcome

    def step(self, trainer: Trainer, claim: int) -> bool:
        """One epoch if `claim` is still the newest; False (nothing stepped) once a newer run began."""
        with self.lock:
            if claim != self.newest:
                return False
            trainer.step()
            return True

    def finish(self, claim: int, **outcome: object) -> bool:
        """Leave the outcome for the next script run, if no newer run began; True if it was left."""
        with self.lock:
            if claim != self.newest:
                return False
            self.outcome = outcome
            return True


TURN_OVER = object()  # a turn's outcome when another run waits for the slot


def run_in_turns(work: Generator[object, None, T], cost: Work, limits: ServerLimits, owner: RunOwner, claim: int,
                 place: DeltaGenerator | None, label: str, clock_key: object) -> T | None:
    """Run `work`, which trains one step per iteration and returns its result, as the Train page runs:
    refused over the budget (Refused), in the server's queue, in turns while others wait, its time
    counted against the wall-clock limit (Refused once past it) under `clock_key`.

    Between steps: `label` and the progress of `cost.epochs` steps in `place` at most every
    PROGRESS_SECONDS, else a session-state access, where Streamlit stops the script run for a click,
    a closed tab or another page; a step only while `claim` is `owner`'s newest (None once it is not).
    """
    if message := refusal(cost, limits):
        raise Refused(message)
    with training_slot(limits, lambda: owner.newest == claim, place) as admission:
        if not admission.admitted:
            return None
        progress = Progress(place, label, cost.epochs)
        while True:
            with TRAINING_CLOCK.timing(clock_key, limits.max_wall_seconds) as over_time:
                outcome = _turn(work, admission, owner, claim, over_time, progress)
            if outcome is not TURN_OVER:
                break
            progress.waiting()
            if not admission.wait_for_turn():
                return None
        progress.done()
    if isinstance(outcome, StopIteration):
        return outcome.value
    if outcome is None:
        return None
    raise Refused(f"Stopped at the limit of {limits.max_wall_seconds:,} s of training per run on this shared "
                  "server. Ask for less, or run the script on your own machine.")


def _turn(work: Generator[object, None, T], admission: Admission, owner: RunOwner, claim: int,
          over_time: Callable[[], bool], progress: Progress) -> object:
    """Steps until the work ends (its StopIteration), a newer claim (None), the turn is over (TURN_OVER)
    or the time is (False)."""
    while True:
        if over_time():
            return False
        if admission.turn_over(progress.seconds_left()):
            return TURN_OVER
        with owner.lock:
            if claim != owner.newest:
                return None
            try:
                next(work)
            except StopIteration as ended:
                return ended
        progress.stepped()


class Progress:
    """run_in_turns' progress bar: drawn once the work has taken PROGRESS_SECONDS, then at most that often."""

    def __init__(self, place: DeltaGenerator | None, label: str, total: int):
        self.place, self.label, self.total = place, label, max(total, 1)
        self.steps, self.started = 0, time.monotonic()
        self.drawn_at = self.started

    def seconds_left(self) -> float:
        """At the pace so far; unknown (infinite) before the first step."""
        if not self.steps:
            return math.inf
        return (time.monotonic() - self.started) / self.steps * max(self.total - self.steps, 0)

    def stepped(self) -> None:
        self.steps += 1
        if self.place is not None and time.monotonic() - self.drawn_at >= PROGRESS_SECONDS:
            self._draw(f"{self.label}: {min(self.steps, self.total):,} of {self.total:,} epochs")
        else:
            let_clicks_in()

    def waiting(self) -> None:
        if self.place is not None:
            self._draw(f"{self.label}: {min(self.steps, self.total):,} of {self.total:,} epochs, waiting for its "
                       "turn while other runs train")

    def done(self) -> None:
        if self.place is not None and self.drawn_at > self.started:
            self.place.empty()

    def _draw(self, text: str) -> None:
        self.place.progress(min(self.steps / self.total, 1.0), text=text)
        self.drawn_at = time.monotonic()
