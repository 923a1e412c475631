"""The Train page's run status: every transition, as a table."""

import pytest

from core.status import Event, Status, transition

S, E = Status, Event

# (status before, event, trainer done after it, diverged, single step) -> status after
TRANSITIONS = [
    (S.IDLE, E.TRAIN, False, False, False, S.RUNNING),
    (S.IDLE, E.STEP, False, False, False, S.STEP),
    (S.PAUSED, E.TRAIN, False, False, False, S.RUNNING),  # Resume
    (S.STEP, E.BEGIN, False, False, False, S.RUNNING),  # the loop starts the one epoch
    (S.RUNNING, E.BEGIN, False, False, False, S.RUNNING),  # a script run picks up a run that trains
    (S.FINISHED, E.TRAIN, False, False, False, S.RUNNING),  # Train again (a fresh trainer)
    (S.RUNNING, E.PAUSE, False, False, False, S.PAUSED),
    (S.RUNNING, E.PAUSE, True, False, False, S.FINISHED),  # the click landed on the last epoch's frame
    (S.FINISHED, E.PAUSE, True, False, False, S.FINISHED),
    (S.STOPPED, E.PAUSE, False, False, False, S.STOPPED),
    (S.RUNNING, E.STOP, False, False, False, S.STOPPED),
    (S.PAUSED, E.STOP, False, False, False, S.STOPPED),
    (S.PAUSED, E.RESET, False, False, False, S.IDLE),
    (S.DIVERGED, E.RESET, False, False, False, S.IDLE),
    (S.RUNNING, E.RAN, True, False, False, S.FINISHED),
    (S.RUNNING, E.RAN, True, True, False, S.DIVERGED),
    (S.RUNNING, E.RAN, False, False, True, S.PAUSED),  # one Step
    (S.RUNNING, E.RAN, True, False, True, S.FINISHED),  # a Step onto the last epoch
    (S.RUNNING, E.RAN, False, False, False, S.RUNNING),
    (S.FINISHED, E.MORE_EPOCHS, False, False, False, S.PAUSED),  # Resume trains on
    (S.FINISHED, E.MORE_EPOCHS, True, False, False, S.FINISHED),  # fewer epochs: still finished
    (S.STOPPED, E.MORE_EPOCHS, False, False, False, S.STOPPED),
    (S.RUNNING, E.MORE_EPOCHS, False, False, False, S.RUNNING),
    (S.IDLE, E.LOADED, False, False, False, S.PAUSED),
    (S.RUNNING, E.LOADED, True, False, False, S.FINISHED),
    (S.PAUSED, E.LOADED, True, True, False, S.DIVERGED),
    (S.RUNNING, E.FAILED, False, False, False, S.FAILED),
]


@pytest.mark.parametrize("before,event,done,diverged,single_step,after", TRANSITIONS)
def test_transition(before, event, done, diverged, single_step, after):
    assert transition(before, event, done=done, diverged=diverged, single_step=single_step) is after


def test_every_event_is_in_the_table():
    assert {row[1] for row in TRANSITIONS} == set(Event)


def test_a_status_equals_its_text_and_prints_as_it():
    assert Status.PAUSED == "paused" and f"{Status.PAUSED}" == "paused"
    assert [s for s in Status if s.ended] == [S.STOPPED, S.FINISHED, S.DIVERGED, S.FAILED]
    assert [s for s in Status if s.resumable] == [S.RUNNING, S.PAUSED]


def test_every_status_change_in_the_pages_goes_through_the_table():
    """An assignment to the session's `status` anywhere in pages/ is `transition(...)`'s result."""
    import ast
    from pathlib import Path

    writes = []
    for path in (Path(__file__).resolve().parent.parent / "pages").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "status"
                                                    for t in node.targets):
                called = node.value.func if isinstance(node.value, ast.Call) else None
                writes.append((path.name, getattr(called, "id", None)))
    assert writes and all(function == "transition" for _, function in writes), writes
