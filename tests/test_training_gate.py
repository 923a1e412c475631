"""Every path that trains goes through the server's gate (server/gate.py): the budget first, then a
slot in the one queue, in turns with other sessions' runs, with a point between steps where Streamlit can
stop the script run (a click, a closed tab, another page)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from apptest import open_page
from other_session import OtherSession
from streamlit.testing.v1 import AppTest

from core.config import Config
from core.epoch import EpochWalker
from core.trainer import Trainer
from server import gate
from server.limits import SERVER_LIMITS

ROOT = Path(__file__).resolve().parent.parent
LARGEST = {"hidden_sizes": "512,512,512,512", "n_samples": "10000", "reduction": "mean", "epochs": "100000"}


@pytest.fixture
def steps(monkeypatch) -> Iterator[list[tuple[tuple[int, ...], bool, tuple[str, str]]]]:
    """Every Trainer.step taken: its network's hidden sizes, whether the thread held a training slot, and
    the nearest function of the app's code (pages/, server/) on the stack, as (file, function)."""
    taken: list[tuple[tuple[int, ...], bool, tuple[str, str]]] = []
    step = Trainer.step

    def recorded(trainer: Trainer):
        taken.append((trainer.config.model.hidden_sizes, gate.admitted(), _caller()))
        return step(trainer)

    monkeypatch.setattr(Trainer, "step", recorded)
    yield taken


def _caller() -> tuple[str, str]:
    frame = sys._getframe(2)
    while frame is not None and not frame.f_code.co_filename.startswith((str(ROOT / "pages"), str(ROOT / "server"))):
        frame = frame.f_back
    return ("", "") if frame is None else (Path(frame.f_code.co_filename).relative_to(ROOT).as_posix(),
                                           frame.f_code.co_name)


def open_epoch(**params: str) -> AppTest:
    return open_page("epoch", **params)


def test_the_hostile_epoch_link_is_refused_before_any_step_with_the_train_pages_message(steps):
    at = open_epoch(**LARGEST, epoch="99999", phase="forward")
    [error] = [e.value for e in at.error]
    assert error.startswith("Reaching epoch 99,999 from the seed would train for about")
    assert "over the limit of 600 s per run" in error and "an epoch below" in error and "the script below" in error
    downloads = [b.proto.label for b in at.get("download_button")]
    assert downloads == ["Download train_module_lab.py", "Download train_module_lab.R"]
    assert at.session_state.epoch_walker.trainer.epoch == 0
    assert not [hidden for hidden, *_ in steps if hidden == (512,) * 4]  # the calibration's networks only
    assert not at.subheader  # no phase drawn


def test_every_training_step_of_every_page_holds_a_slot(steps, monkeypatch):
    """The Train page's run and Step, replay's training again, raising the epochs of a deferred run, One
    epoch's walk, the CPU-against-CUDA timing and the budget's calibration: each step in a slot."""
    import core.device
    import pages.ui.common.device_radio
    import pages.ui.train.sections
    import pages.ui.train.sidebar

    monkeypatch.setattr(core.trainer, "DEFERRED_EPOCH_SECONDS", 60.0)  # a short run's snapshots: made on replay
    train = open_page("train")
    train.number_input(key="epochs").set_value(20).run()
    train.button(key="btn_step").click().run()
    train.button(key="btn_train").click().run()  # finished, its replay slider drawn
    assert train.session_state.status == "finished" and train.select_slider
    train.button(key="btn_reset").click().run()
    train.button(key="btn_step").click().run()  # a fresh run, paused after one epoch
    train.number_input(key="epochs").set_value(30).run()  # a new plan
    pretend_a_gpu = (core.device, pages.ui.common.device_radio, pages.ui.train.sidebar, pages.ui.train.sections)
    for module in pretend_a_gpu:
        monkeypatch.setattr(module, "cuda_unavailable_reason", lambda: None)
    monkeypatch.setattr(core.trainer, "_synchronize", lambda device: None)
    monkeypatch.setattr(core.trainer, "resolve_device", lambda name: core.device.torch.device("cpu"))
    train.run()
    train.button(key="btn_time_devices").click().run()
    assert not train.exception and any("faster for this config" in m.value for m in train.markdown)
    open_epoch(hidden_sizes="8", epochs="50", epoch="12", phase="update")

    callers = {caller for *_, caller in steps}
    assert callers - {("server/gate.py", "calibration")} == {
        ("server/gate.py", "step"),  # the Train page's loop: RunOwner.step
        ("pages/ui/train/state.py", "_trained_again"),  # replay, and the new plan
        ("server/gate.py", "_turn"),  # run_in_turns driving core's device_seconds
        ("pages/epoch.py", "walking"),
    }
    # 20 epochs (the first a Step), replay's 1 (it trained again at the paused Step), 1 Step, its replay's 1,
    # 55 epochs on each device, 12 to epoch 12 and the walk's update; the calibration's, if not made yet
    assert len(steps) - sum(caller[1] == "calibration" for *_, caller in steps) == 20 + 1 + 1 + 1 + 2 * 55 + 13
    assert [admitted for _, admitted, _ in steps] == [True] * len(steps)


def test_a_walk_lets_streamlit_stop_it_between_every_two_steps(steps, monkeypatch):
    """A closed tab or a click raises in the script run's next session-state access or st call: the walk
    makes one after every step, so it stops within a step of being asked to."""
    looks = []
    draw = gate.Progress._draw
    monkeypatch.setattr(gate, "let_clicks_in", lambda: looks.append(len(steps)))
    monkeypatch.setattr(gate.Progress, "_draw", lambda self, text: (looks.append(len(steps)), draw(self, text)))
    at = open_epoch(hidden_sizes="8", epochs="500", epoch="300")
    assert at.subheader[0].value == "1 · forward"
    # One look after each of the 300 steps to epoch 300; the walk's own step ends the work, and the page
    # draws the phase right after it.
    assert len(looks) == 300 and all(later - earlier == 1 for earlier, later in zip(looks, looks[1:]))


def test_a_walk_takes_turns_with_another_sessions_run_and_walks_the_same_weights(monkeypatch):
    """One slot, turns of 20 ms: the walk to epoch 3,000 and another session's run alternate, and the
    walk's weights are those of a walk alone."""
    monkeypatch.setenv("MODULE_LAB_MAX_CONCURRENT_RUNS", "1")
    monkeypatch.setenv("MODULE_LAB_MAX_TURN_MS", "20")
    events: list[str] = []
    step = Trainer.step

    def noted(trainer: Trainer):
        if trainer.config.training.epochs == 5_000:
            events.append("walk")
        return step(trainer)

    monkeypatch.setattr(Trainer, "step", noted)
    gate.calibration(SERVER_LIMITS)  # first, so that its steps are not the walk's
    with OtherSession(gate.shared_queue(1, 0.02), events):
        at = open_epoch(epochs="5000", epoch="3000", phase="update")
    assert not at.exception and at.subheader[0].value == "6 · update"
    walk = [i for i, event in enumerate(events) if event == "walk"]
    assert len(walk) == 3_000 + 1  # the steps to epoch 3,000, then the walk's own update
    turns_between = sum(1 for i in range(walk[0], walk[-1]) if events[i] == "other")
    assert turns_between >= 2  # the other session trained while the walk waited its turn
    walker = at.session_state.epoch_walker
    reference = EpochWalker(Config().replace(epochs=5000))
    reference.walk(3000)
    for mine, theirs in zip(walker.trainer.model.parameters(), reference.trainer.model.parameters(), strict=True):
        assert mine.detach().equal(theirs.detach())


# ------------------------------------------------------------ callers ---

# Every place in the app's code (pages/, server/, app.py) that calls something that trains, and why it is in
# a slot. A new caller fails the test below until it goes through the gate and is listed here.
TRAINING_CALLS = {"step", "training_again", "steps_to", "walk", "epoch_seconds", "seconds_per_epoch",
                  "device_seconds", "calibrate", "snapshots"}
LISTED_CALLERS = {
    ("server/gate.py", "calibration", "calibrate"): "in a slot it takes itself",
    ("server/budget.py", "calibrate", "seconds_per_epoch"): "only from gate.calibration",
    ("server/gate.py", "RunOwner.step", "step"): "only from the Train page's loop, inside training_slot",
    ("pages/ui/train/live_view.py", "TrainingLoop.turn", "step"): "RunOwner.step, inside training_slot",
    ("pages/ui/train/state.py", "_trained_again", "training_again"): "a generator run_in_turns drives",
    ("pages/epoch.py", "walking", "steps_to"): "a generator run_in_turns drives",
    ("pages/epoch.py", "walking", "walk"): "a generator run_in_turns drives",
    ("pages/epoch.py", "_walk", "walk"): "a kept walk: walker.kept() said it trains nothing",
    ("pages/ui/train/sections.py", "show_device_timing", "device_seconds"): "a generator passed to run_in_turns",
    ("pages/ui/train/runs.py", "replay_slider", "snapshots"): "after fill_snapshots trained it again in turns",
    ("pages/ui/train/runs.py", "replay_frame", "snapshots"): "after replay_slider",
}


class Calls(ast.NodeVisitor):
    """(function, name) of each call of a TRAINING_CALLS name, and each read of a run's `snapshots`."""

    def __init__(self) -> None:
        self.found: set[tuple[str, str]] = set()
        self.where: list[str] = []

    def _scope(self, node) -> None:
        self.where.append(node.name)
        self.generic_visit(node)
        self.where.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def _note(self, name: str) -> None:
        self.found.add((".".join(self.where) or "<module>", name))

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if isinstance(function, ast.Name) and function.id in TRAINING_CALLS:
            self._note(function.id)
        if isinstance(function, ast.Attribute) and function.attr in TRAINING_CALLS and not _optimizer(function):
            self._note(function.attr)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "snapshots":  # a property that may train the run again
            self._note(node.attr)
        self.generic_visit(node)


def _optimizer(node: ast.Attribute) -> bool:
    """torch's optimizer.step() is part of a training step, not a call of one."""
    return isinstance(node.value, ast.Attribute) and node.value.attr == "optimizer"


def test_every_caller_of_a_training_step_in_the_server_is_listed():
    found = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").rglob("*.py")), *sorted((ROOT / "server").rglob("*.py"))]:
        calls = Calls()
        calls.visit(ast.parse(path.read_text(encoding="utf-8")))
        relative = path.relative_to(ROOT).as_posix()
        found |= {(relative, where, name) for where, name in calls.found}
    assert found == set(LISTED_CALLERS)
