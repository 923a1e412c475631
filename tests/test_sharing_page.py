"""The Train page on a shared server: a run over the budget never starts, a run stops at the wall-clock limit."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).parent.parent / "pages" / "train.py")


def open_train(monkeypatch, **env: str) -> AppTest:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_a_run_over_the_budget_gets_a_message_and_never_starts(monkeypatch):
    at = open_train(monkeypatch, MODULE_LAB_MAX_RUN_SECONDS="1")
    at.text_input(key="hidden_sizes").set_value("512, 512").run()
    at.number_input(key="epochs").set_value(100_000).run()
    at.button(key="btn_train").click().run()
    assert not at.exception
    assert at.session_state.trainer is None and at.session_state.status == "idle"
    [error] = [e.value for e in at.error]
    assert "over the limit of 1 s per run" in error and "epochs" in error and "The code" in error
    at.number_input(key="epochs").set_value(2).run()  # small enough: trains
    at.button(key="btn_train").click().run()
    assert at.session_state.status == "finished" and not at.error


def test_a_run_stops_at_the_wall_clock_limit_and_keeps_its_history(monkeypatch):
    # A budget far above the run: this test is about the wall clock (a busy machine estimates high).
    at = open_train(monkeypatch, MODULE_LAB_MAX_WALL_SECONDS="1", MODULE_LAB_MAX_RUN_SECONDS="1000000", live="false")
    at.toggle(key="live").set_value(False).run()
    at.number_input(key="epochs").set_value(100_000).run()
    at.button(key="btn_train").click().run()
    assert not at.exception
    run = at.session_state.trainer
    assert at.session_state.status == "stopped"
    assert 0 < run.epoch < 100_000 and len(run.history.losses) == run.epoch
    [error] = [e.value for e in at.error]
    assert "limit of 1 s of training per run" in error and f"epoch {run.epoch:,} of 100,000" in error


def test_a_finished_run_keeps_its_slot_only_until_its_outcome_is_drawn(monkeypatch):
    """The slot waits for the script run that draws the outcome, then the next run in line may start."""
    from server.admission import shared_queue
    from server.limits import SERVER_LIMITS as LIMITS

    at = open_train(monkeypatch)
    at.number_input(key="epochs").set_value(3).run()
    at.button(key="btn_train").click().run()
    assert at.session_state.status == "finished" and "held_slot" not in at.session_state
    queue = shared_queue(LIMITS.max_concurrent_runs)
    ticket = queue.join()
    try:
        assert queue.acquire(ticket, timeout=0)  # free at once, not after the 2 s a closed tab costs
    finally:
        queue.release(ticket)


class StoppedRunState(dict):
    """The session state of a script run that a click has stopped: every access raises again."""

    def _stopped(self, *args, **kwargs):
        raise InterruptedError("StopException")

    __getitem__ = __setitem__ = __contains__ = get = pop = _stopped


def test_a_script_run_stopped_by_a_click_never_keeps_the_slot(monkeypatch):
    """With runner.fastReruns a click starts a new script run and stops the old one at its next
    session-state access; the slot must be given back before any (it once stayed taken for good)."""

    from server import gate
    from server.admission import shared_queue
    from server.limits import SERVER_LIMITS as LIMITS

    monkeypatch.setattr(gate.st, "session_state", StoppedRunState())
    monkeypatch.setattr(gate, "OUTCOME_SECONDS", 0.1)
    with gate.training_slot(LIMITS, lambda: True, None) as admission:  # taken over: nothing kept
        assert admission.admitted
    with pytest.raises(InterruptedError):
        with gate.training_slot(LIMITS, lambda: True, None) as admission:
            admission.keep_for_outcome = True  # ended, then stopped while noting the slot it keeps
    queue = shared_queue(LIMITS.max_concurrent_runs)
    ticket = queue.join()
    try:
        assert queue.acquire(ticket, timeout=5)  # kept at most OUTCOME_SECONDS, never for good
    finally:
        queue.release(ticket)


class Place:
    """A slot on the page that records what is drawn in it."""

    def __init__(self):
        self.drawn = []

    def info(self, text, icon=None):
        self.drawn.append(text)

    def empty(self):
        self.drawn.append(None)


class ScriptedQueue:
    """A queue whose line moves as a test scripts it, on a fake clock: each look (a timed-out acquire)
    moves the clock on by its timeout and the line by one entry of `ahead`; past the script, the slot
    is free. It records the timeout of every look."""

    slots, turn, training = 1, 0.1, 1

    def __init__(self, ahead: list[int], clock: list[float]):
        self.script, self.clock, self.timeouts = list(ahead), clock, []

    @property
    def waiting(self) -> int:
        return (self.script[0] if self.script else 0) + 1

    def acquire(self, ticket, timeout=None) -> bool:
        if not self.script:
            return True
        self.timeouts.append(timeout)
        self.clock[0] += timeout
        self.script.pop(0)
        return False

    def ahead(self, ticket) -> int:
        return self.script[0] if self.script else 0


@pytest.fixture
def fake_clock(monkeypatch) -> list[float]:
    import types

    from server import gate

    clock = [100.0]
    monkeypatch.setattr(gate, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    return clock


def test_a_queued_run_draws_its_place_only_when_it_changes(monkeypatch, fake_clock):
    """Several looks with one run ahead, then it is next, then it starts: three drawings (two places and
    the emptied slot), however many looks; each look lets a click in."""
    from server import gate

    reads = []
    monkeypatch.setattr(gate, "let_clicks_in", lambda: reads.append(1))
    monkeypatch.setattr(gate, "REDRAW_SECONDS", 0.0)
    queue, place = ScriptedQueue([1, 1, 1, 1, 0, 0, 0], fake_clock), Place()
    assert gate.wait_for_slot(queue, None, lambda: True, place)
    assert place.drawn == [gate.queue_text(1, queue), gate.queue_text(0, queue), None]
    assert len(reads) == 7


def test_a_look_that_finds_a_newer_script_run_stops_waiting(monkeypatch, fake_clock):
    from server import gate

    monkeypatch.setattr(gate, "let_clicks_in", lambda: None)
    looks = iter([True, True, False])
    assert not gate.wait_for_slot(ScriptedQueue([3] * 10, fake_clock), None, lambda: next(looks), Place())


@pytest.mark.parametrize("waiting, seconds", [(2, 0.1), (4, 0.2), (30, 1.5)])
def test_waiting_runs_poll_less_often_in_a_long_line(monkeypatch, fake_clock, waiting, seconds):
    """All waiting runs together look at their places (and let a click in) about WAKEUPS_PER_SECOND
    times a second at most: one of 2 looks every POLL_SECONDS, one of 4 every 0.2 s, one of 30 every 1.5 s."""
    from server import gate

    monkeypatch.setattr(gate, "let_clicks_in", lambda: None)
    monkeypatch.setattr(gate, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(gate, "WAKEUPS_PER_SECOND", 20)
    queue = ScriptedQueue([waiting - 1] * 5, fake_clock)
    assert gate.wait_for_slot(queue, None, lambda: True, None)
    assert queue.timeouts == [pytest.approx(seconds)] * 5


def test_a_waiting_run_starts_when_the_slot_is_given_back_not_at_its_next_look():
    """The release notifies the first in line: a wait of up to an hour returns once the slot is free."""
    import threading

    from server.admission import FairQueue

    queue = FairQueue(slots=1)
    training, mine = queue.join(), queue.join()
    queue.acquire(training, timeout=0)
    started = threading.Event()
    waiter = threading.Thread(target=lambda: queue.acquire(mine, timeout=3600) and started.set())
    waiter.start()
    assert not started.wait(timeout=0.2)  # waits while the slot is taken
    queue.release(training)
    assert started.wait(timeout=60)  # well before its hour: woken by the release
    waiter.join()
    queue.release(mine)


def test_a_waiting_runs_place_is_redrawn_at_most_once_a_redraw_interval(monkeypatch, fake_clock):
    """In turns the line moves every look: six moves at 0.1 s a look, redrawn at most every 0.25 s, are
    drawn as two places (at 0 s and 0.3 s), then the slot is emptied."""
    from server import gate

    monkeypatch.setattr(gate, "let_clicks_in", lambda: None)
    monkeypatch.setattr(gate, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(gate, "WAKEUPS_PER_SECOND", 1000)
    monkeypatch.setattr(gate, "REDRAW_SECONDS", 0.25)
    queue, place = ScriptedQueue([6, 5, 4, 3, 2, 1], fake_clock), Place()
    assert gate.wait_for_slot(queue, None, lambda: True, place)
    assert place.drawn == [gate.queue_text(5, queue), gate.queue_text(2, queue), None]


def test_a_run_takes_turns_with_another_sessions_and_only_its_turns_count_as_training(monkeypatch):
    """Another session's run (a thread here) trains in turns of 30 ms on the one slot. The page's run
    takes turns with it, ends with the loss of a run trained alone, and its training time (what the
    wall-clock limit counts) leaves out the other's turns. The training clock reads a fake clock that
    moves 1 ms a step of the page's run and 10 s a turn of the other's, so the sum is exact."""
    import types

    from other_session import OtherSession

    import server.budget
    from core.config import Config
    from core.trainer import Trainer
    from server.admission import shared_queue
    from server.budget import TRAINING_CLOCK

    fake = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(server.budget, "time", types.SimpleNamespace(perf_counter=lambda: fake.now))
    at = open_train(monkeypatch, MODULE_LAB_MAX_CONCURRENT_RUNS="1", MODULE_LAB_MAX_TURN_MS="30")
    at.number_input(key="epochs").set_value(1500).run()
    events: list[str] = []
    step = Trainer.step

    def page_step(trainer: Trainer):
        if trainer.config.training.epochs == 1500:
            events.append("page")
            fake.now += 0.001
        return step(trainer)

    def a_long_turn():
        fake.now += 10.0

    monkeypatch.setattr(Trainer, "step", page_step)
    with OtherSession(shared_queue(1, 0.03), events, each_turn=a_long_turn):
        at.button(key="btn_train").click().run()
    assert not at.exception and at.session_state.status == "finished"
    run, reference = at.session_state.trainer, Trainer(Config().replace(epochs=1500))
    while not reference.done:
        step(reference)
    assert list(run.history.losses) == list(reference.history.losses)
    page = [i for i, event in enumerate(events) if event == "page"]
    assert len(page) == 1500 and sum(event == "other" for event in events[page[0]:page[-1]]) >= 2  # turns between
    assert TRAINING_CLOCK.seconds(run) == pytest.approx(1500 * 0.001)  # none of the other's 10 s turns
