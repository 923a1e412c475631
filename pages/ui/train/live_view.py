"""The Train page's live view: its slots, the frames that fill them, and the loop that trains and draws.

A frame is a dict of slot name -> what to draw there. Live frames go through the in-place chart
component (pages/ui/train/live_chart.py); a paused or finished run's charts are interactive
st.plotly_charts. Each part has its own clock (pages/ui/train/live_schedule.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.trainer import Trainer
from pages.ui.train import state
from pages.ui.train.live_chart import live_chart
from pages.ui.train.live_schedule import LiveSchedule
from server.budget import TRAINING_CLOCK
from server.figure_cache import shared_json, shared_jsons
from server.gate import Admission, training_slot, wall_clock_note
from server.limits import SERVER_LIMITS, ServerLimits
from viz import training as figures
from viz.boundary import boundary_figures

if TYPE_CHECKING:
    import plotly.graph_objects as go

Frame = dict[str, Callable[[DeltaGenerator], object]]  # slot -> what to put in it, figures built
SLOW_CHARTS_NOTE = "updated twice a second while training"
# The gradient norms share half the width with the loss curve: the whole note would be cut there.
SLOW_CHARTS_NOTES = {"norms": "2×/s while training", "weights": SLOW_CHARTS_NOTE, "gradients": SLOW_CHARTS_NOTE}
PRINTOUT_LINES = 250  # at most; a longer run prints every 20, 50, 100, ... epochs instead of every 10
PRINTOUT_HEIGHT = 300  # px; a longer printout scrolls
WAITING_FOR_TURN = "waiting for its turn"  # the counter's status between a run's turns on a shared server


def live_figures(run: Trainer, log_scale: bool = False, slow: bool = True, plane: bool = False) -> dict[str, go.Figure]:
    """One frame's charts by slot: the loss curve; with `slow`, gradient norms, weights and gradients; with
    `plane`, for a classification set, the decision boundary and the first hidden layer's units."""
    history, total = run.history, run.config.training.epochs
    test = history.test_losses if run.x_test is not None else None
    charts = {"loss": figures.loss_figure(history.epochs, history.losses, log_scale=log_scale, test_losses=test,
                                          lr_changes=run.lr_changes, diverged_at=run.diverged_at, total_epochs=total)}
    if slow:
        snapshot = run.snapshot()
        charts["norms"] = figures.grad_norm_figure(history.epochs, history.grad_norms, epoch=run.epoch,
                                                   total_epochs=total)
        charts["weights"] = figures.weights_figure(snapshot.layers, epoch=run.epoch)
        charts["gradients"] = figures.gradients_figure(snapshot.layers, epoch=run.epoch)
    if plane and (data := run.plane()) is not None:
        charts |= boundary_figures(data, epoch=run.epoch)
    return charts


def printout_every(epochs: int, max_lines: int = PRINTOUT_LINES) -> int:
    """The lesson prints every 10 epochs; a run too long for `max_lines` such lines, every 20, 50, 100, ..."""
    every = 10
    while epochs // every > max_lines:
        every = every * 5 // 2 if str(every).startswith("2") else every * 2  # 10, 20, 50, 100, 200, 500, ...
    return every


def printout(run: Trainer) -> str:
    """The lesson's printout so far, every line of it while it fits, with a note when thinned."""
    every = printout_every(run.epoch)
    lines = run.history.log_lines(every=every)
    if not lines:
        return "(the lesson prints the loss every 10 epochs)"
    note = [f"# every {every} epochs: the lesson prints every 10, which would be {run.epoch // 10:,} lines"]
    return "\n".join((note if every > 10 else []) + lines)


def chart(name: str, live: bool, figure: go.Figure) -> Callable[[DeltaGenerator], object]:
    """A live frame is drawn in place; a paused or finished run's charts are interactive st.plotly_charts."""
    if live:
        return lambda slot: live_chart(slot, figure, name)
    return lambda slot: slot.plotly_chart(figure)


def start_frame(run: Trainer, log_scale: bool) -> Frame:
    """Before the first epoch (a fresh `run`): the weights nn.Linear initialised, an empty loss curve and,
    for a classification set, the boundary those weights draw.

    Drawn in place like live frames, so the browser loads plotly.js after the controls are on
    screen (an st.plotly_chart here held them back ~0.5 s), and before the click on Train."""
    loss = shared_json(figures.loss_figure, [], [], log_scale=log_scale, total_epochs=run.config.training.epochs,
                       test_losses=[] if run.x_test is not None else None)
    weights = shared_json(figures.weights_figure, run.snapshot().layers, epoch=0)
    frame: Frame = {
        "loss": lambda slot: live_chart(slot, loss, "loss", interactive=True),
        "weights": lambda slot: live_chart(slot, weights, "weights", interactive=True),
        "gradients": lambda slot: slot.caption("Gradients: every `weight.grad` and `bias.grad` is `None` "
                                               "until the first `loss.backward()`.")}
    if (data := run.plane()) is not None:
        for name, spec in shared_jsons(boundary_figures, data, epoch=0).items():
            frame[name] = lambda slot, spec=spec, name=name: live_chart(slot, spec, name, interactive=True)
    return frame


def counter_frame(run: Trainer, status: str | None = None) -> Frame:
    """The epoch counter, drawn with the loss curve so both show one epoch; `status` when it is not yet
    in the session state."""
    last = f" · loss {run.history.losses[-1]:.6g}" if len(run.history) else ""
    last += latest_metrics(run)
    line = f"**Epoch {run.epoch} / {run.config.training.epochs}**{last} · {status or st.session_state.status}"
    return {"counter": lambda slot: slot.markdown(line)}


def latest_metrics(run: Trainer) -> str:
    """' · test loss 0.31 · accuracy 92.5% / test 88.0%' for the last epoch, where the run has them."""
    if not len(run.history):
        return ""
    history, text = run.history, ""
    if run.x_test is not None:
        text += f" · test loss {history.test_losses[-1]:.6g}"
    if run.classification:
        text += f" · accuracy {history.accuracies[-1]:.1%}"
        if run.x_test is not None:
            text += f" / test {history.test_accuracies[-1]:.1%}"
    return text


def text_frame(run: Trainer, with_printout: bool = True) -> Frame:
    """The progress bar and, `with_printout`, the printout (scrolling once it is long)."""
    fraction = min(run.epoch / run.config.training.epochs, 1.0)
    frame: Frame = {"progress": lambda slot: slot.progress(fraction)}
    if with_printout:
        log = printout(run)
        height = PRINTOUT_HEIGHT if log.count("\n") >= PRINTOUT_HEIGHT // 24 else "content"
        frame["log"] = lambda slot: slot.code(log, language="text", height=height)
    return frame


def run_frame(run: Trainer, live: bool, log_scale: bool, text: bool = True, slow: bool = True,
              status: str | None = None, note_slow: bool = False, plane: bool = True) -> Frame:
    """The loss curve and counter first (the browser draws elements in the order they arrive); the
    progress bar and printout with `text`; gradient norms, weights and gradients with `slow`, their
    titles saying how often they are drawn with `note_slow` (live frames: the counter runs ahead of them);
    the decision boundary and hidden units with `plane` (for a classification set)."""
    charts = live_figures(run, log_scale, slow, plane)
    for name, note in SLOW_CHARTS_NOTES.items() if note_slow else ():
        if name in charts:
            figures.add_title_note(charts[name], note)
    frame = {"loss": chart("loss", live, charts.pop("loss"))} | counter_frame(run, status)
    if text:
        frame |= text_frame(run)
    return frame | {name: chart(name, live, figure) for name, figure in charts.items()}


class LiveView:
    """Placeholders for everything that changes while training; each frame fills some of them."""

    def __init__(self, view: dict[str, bool], first: Frame | None = None, plane: bool = False) -> None:
        """`first` fills its slots as they are made: a chart slot sent empty and filled later
        collapses in between (0.05-0.1 s) and the page below jumps up. `plane`: slots for the decision
        boundary and the hidden units (a classification set), none otherwise."""
        first = first or {}

        def slot(parent, name: str) -> DeltaGenerator:
            placeholder = parent.empty()
            if name in first:
                first[name](placeholder)
            return placeholder

        self.view = view
        self.progress, self.counter = slot(st, "progress"), slot(st, "counter")
        left, right = st.columns(2)
        self.loss, self.norms = slot(left, "loss"), slot(right, "norms")
        self.plane = plane
        if plane:
            left, right = st.columns(2)
            self.boundary, self.units = slot(left, "boundary"), slot(right, "units")
        self.weights, self.gradients = slot(st, "weights"), slot(st, "gradients")
        self.replay, self.log = slot(st, "replay"), slot(st, "log")  # replay: the epoch slider of an idle run
        self.schedule = LiveSchedule(live=view["live"])

    def show(self, frame: Frame) -> None:
        for name, draw in frame.items():
            draw(getattr(self, name))

    def draw(self, run: Trainer, live: bool = False, all_charts: bool = True, seconds_left: float = 0.0,
             status: str | None = None) -> None:
        """One frame: the loss curve and counter, and the rest when `all_charts` or its clock says it is
        due (LiveSchedule, given the run's `seconds_left`)."""
        text = all_charts or self.schedule.text.due()
        slow = all_charts or self.schedule.slow_due(seconds_left)
        plane = self.plane and (all_charts or self.schedule.plane_due(seconds_left))
        started = self.schedule.slow.clock()
        self.show(run_frame(run, live, self.view["log_scale"], text, slow, status, note_slow=not all_charts,
                            plane=plane))
        # The matrices' and the plane's drawing budgets, each charged the whole frame when both were drawn;
        # text costs too little to count.
        if slow:
            self.schedule.slow.drew(started)
        if plane:
            self.schedule.plane.drew(started)
        if text:
            self.schedule.text.drew(self.schedule.text.clock())


def first_frame(run: Trainer, view: dict[str, bool]) -> Frame:
    """A run's first frame, before its first epoch: from epoch 0 the start view again, which the
    browser does not draw twice (pages/ui/train/live_chart.py); a resumed run, every chart live."""
    if run.epoch == 0:
        return counter_frame(run) | text_frame(run) | start_frame(run, view["log_scale"])
    return run_frame(run, True, view["log_scale"])


def train_live(run: Trainer, live_view: LiveView, single_step: bool, claim: int,
               limits: ServerLimits = SERVER_LIMITS) -> bool:
    """Step epochs until done or interrupted, drawing a frame only when one is due.

    A click on Pause or Stop reruns the script. Streamlit stops this run inside its next st.* call
    (between epochs, so the history is never half-written), and a newer script run's claim stops it
    before its next epoch (runner.fastReruns runs both at once). The final status is left to the
    next script run (train_state.RunOwner). Returns False when a newer run took over: then this one
    has drawn and left nothing since.

    It first waits for a slot in the server's queue (server/gate.py), holds it while stepping,
    in turns while others wait, and, once the run ended, until the next script run has drawn the
    outcome, and stops the run once its training time passes `limits.max_wall_seconds`.
    """
    owner = state.run_owner()
    with training_slot(limits, lambda: owner.newest == claim, live_view.progress) as admission:
        if not admission.admitted:
            return False
        status = TrainingLoop(run, live_view, single_step, claim, admission, limits.max_wall_seconds).train()
        if status is None:
            return False
        if isinstance(status, dict):  # failed or out of time: left as it is, the rerun draws it
            ended = owner.finish(claim, **status)
        elif ended := owner.finish(claim, status=status):
            # The last epoch, every chart, drawn in place at once; the rerun that follows makes them interactive.
            live_view.draw(run, live=True, status=status)
        admission.keep_for_outcome = ended
        return ended


Outcome = state.Status | dict[str, object] | None  # how training ended, see TrainingLoop.train
TURN_OVER = object()  # a turn's outcome when the run's turn is over and another waits for the slot


@dataclass
class TrainingLoop:
    """train_live's loop: step and draw, turn after turn, until the run ends or is interrupted."""

    run: Trainer
    live_view: LiveView
    single_step: bool
    claim: int
    admission: Admission
    wall_seconds: int

    def __post_init__(self) -> None:
        self.first_epoch = self.run.epoch  # the schedule's pace counts from here

    def train(self) -> Outcome:
        """The status the run ends with, an outcome dict (failure, wall-clock limit), or None when a
        newer script run took over. Only the turns count as training time."""
        schedule = self.live_view.schedule
        try:
            while True:
                with TRAINING_CLOCK.timing(self.run, self.wall_seconds) as over_time:
                    outcome = self.turn(over_time)
                if outcome is not TURN_OVER:
                    return outcome
                self.live_view.show(counter_frame(self.run, status=f"{state.Status.RUNNING}, {WAITING_FOR_TURN}"))
                waited = schedule.clock()
                if not self.admission.wait_for_turn():
                    return None
                schedule.skip(schedule.clock() - waited)
        except RuntimeError as error:  # CUDA out of memory, a lost device: keep what was trained
            return state.failure(error, self.run)

    def seconds_left(self) -> float:
        """Until the run ends, at its pace since it started (its turns only)."""
        return self.live_view.schedule.seconds_left(self.run.epoch - self.first_epoch,
                                                    self.run.config.training.epochs - self.run.epoch)

    def turn(self, over_time: Callable[[], bool]) -> Outcome | object:
        """Step and draw until the run ends, a newer script run takes over (None) or the turn is over (TURN_OVER)."""
        run, live_view, owner = self.run, self.live_view, state.run_owner()
        schedule = live_view.schedule
        while not run.done:
            if over_time():
                stopped = state.transition(state.Status.RUNNING, state.Event.STOP)
                return {"status": stopped, "run_error": wall_clock_note(run, self.wall_seconds)}
            if self.admission.turn_over(self.seconds_left()):
                return TURN_OVER
            if not owner.step(run, self.claim):
                return None
            if self.single_step:
                break
            if schedule.frame.due():
                started = schedule.frame.clock()
                if live_view.view["live"]:
                    live_view.draw(run, live=True, all_charts=False, seconds_left=self.seconds_left())
                else:
                    live_view.show(counter_frame(run) | text_frame(run, with_printout=False))
                schedule.frame.drew(started)
        return state.status_after(run, self.single_step)
