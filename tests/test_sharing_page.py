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


def test_a_queued_run_draws_its_place_only_when_it_changes(monkeypatch):
    """It waits through several polls with one run ahead, then is next, then starts: three drawings
    (two places and the emptied slot), however many polls; each poll still lets a click in."""
    import threading
    import time

    from server import gate
    from server.admission import FairQueue

    reads = []
    monkeypatch.setattr(gate, "let_clicks_in", lambda: reads.append(1))
    monkeypatch.setattr(gate, "POLL_SECONDS", 0.02)
    monkeypatch.setattr(gate, "WAKEUPS_PER_SECOND", 1000)
    monkeypatch.setattr(gate, "REDRAW_SECONDS", 0.0)
    queue, place = FairQueue(slots=1), Place()
    training, ahead, mine = queue.join(), queue.join(), queue.join()
    queue.acquire(training, timeout=0)

    def the_others_leave():
        time.sleep(0.2)
        queue.release(ahead)  # left the line: mine is next
        time.sleep(0.2)
        queue.release(training)

    others = threading.Thread(target=the_others_leave)
    others.start()
    assert gate.wait_for_slot(queue, mine, lambda: True, place)
    others.join()
    assert place.drawn == [gate.queue_text(1, queue), gate.queue_text(0, queue), None]
    assert len(reads) >= 10  # polled every 0.02 s for 0.4 s


@pytest.mark.parametrize("waiting, most_polls", [(2, 12), (30, 2)])
def test_waiting_runs_poll_less_often_in_a_long_line(monkeypatch, waiting, most_polls):
    """All waiting runs together look at their places (and let a click in) about WAKEUPS_PER_SECOND
    times a second at most: here one of 2 looks every POLL_SECONDS (0.1 s), one of 30 every 1.5 s.
    Either starts as soon as the slot is free, not at its next look."""
    import threading
    import time

    from server import gate
    from server.admission import FairQueue

    reads = []
    monkeypatch.setattr(gate, "let_clicks_in", lambda: reads.append(time.perf_counter()))
    monkeypatch.setattr(gate, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(gate, "WAKEUPS_PER_SECOND", 20)
    queue = FairQueue(slots=1)
    training, mine, *behind = [queue.join() for _ in range(waiting + 1)]
    queue.acquire(training, timeout=0)
    release = threading.Timer(1.0, queue.release, args=(training,))
    release.start()
    began = time.perf_counter()
    assert gate.wait_for_slot(queue, mine, lambda: True, None)
    started = time.perf_counter() - began
    release.join()
    assert 0.95 < started < 1.3  # woken by the release, not by its next poll
    expected = 1.0 / gate.poll_seconds(waiting)  # looks in the second it waited: 10 for 2, 0.67 for 30
    assert expected - 2 <= len(reads) <= most_polls


def test_a_waiting_runs_place_is_redrawn_at_most_once_a_redraw_interval(monkeypatch):
    """In turns, the line moves every turn: six moves in ~0.4 s are drawn as two or three places."""
    import threading
    import time

    from server import gate
    from server.admission import FairQueue

    monkeypatch.setattr(gate, "let_clicks_in", lambda: None)
    monkeypatch.setattr(gate, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(gate, "WAKEUPS_PER_SECOND", 1000)
    monkeypatch.setattr(gate, "REDRAW_SECONDS", 0.25)
    queue, place = FairQueue(slots=1), Place()
    training, *ahead = [queue.join() for _ in range(7)]
    mine = queue.join()
    queue.acquire(training, timeout=0)

    def the_line_moves():
        for ticket in ahead:
            time.sleep(0.06)
            queue.release(ticket)
        queue.release(training)

    mover = threading.Thread(target=the_line_moves)
    mover.start()
    assert gate.wait_for_slot(queue, mine, lambda: True, place)
    mover.join()
    places = place.drawn[:-1]
    assert place.drawn[0] == gate.queue_text(6, queue) and place.drawn[-1] is None
    assert 1 <= len(places) <= 3 < len(ahead)


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
