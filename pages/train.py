"""Train: build an nn.Sequential, train it with the lesson's loop, watch it live."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import pages.parts  # noqa: F401  (first, before torch: see pages/parts/__init__.py)

from core.codegen import r_training_script, training_script
from core.config import ConfigError
from core.device import cuda_unavailable_reason
from core.frames import LiveSchedule
from core.trainer import Snapshot, Trainer, seconds_per_epoch
from pages.parts import train_state as state
from pages.parts.code_panel import code_panel
from pages.parts.flush import before_rerun
from pages.parts.live_chart import live_chart
from pages.parts.train_data import plain
from pages.parts.train_files import checkpoint_uploader, download_buttons
from pages.parts.train_widgets import config_sidebar
from viz import figures

if TYPE_CHECKING:
    import plotly.graph_objects as go

st.title("Train")
st.caption(
    "The lesson's loop: `y_pred = model(x)`, `loss = (y_pred - y).pow(2).sum()`, `model.zero_grad()`, "
    "`loss.backward()`, then under `torch.no_grad()` each `p.sub_(lr * p.grad)`. Pick the network and "
    "watch every layer's weights and gradients change, epoch by epoch."
)

claim = state.init()  # this script run now owns the session's run (train_state.RunOwner)
setup = config_sidebar()
config, view = setup.config, setup.view
state.sync_run(config)
trainer: Trainer | None = st.session_state.get("trainer")


def show_model_summary() -> None:
    """print(model), its size, and where its tensors live."""
    if config is None:
        return
    n_features = setup.dataset.x.shape[1] if setup.dataset is not None else config.data.n_features
    model_text, count, tensors = state.model_summary(config, trainer, n_features)
    st.subheader("The model")
    left, right = st.columns(2)
    with left:
        st.markdown(f"`print(model)` · **{count:,}** parameters")
        st.code(model_text, language="text")
    with right:
        st.markdown("Tensors: device and type, as torch reports them")
        st.dataframe(tensors, hide_index=True, width="stretch")


def show_controls() -> None:
    """Train/Resume, Pause, Step, Stop, Reset: TensorFlow Playground's transport."""
    status = st.session_state.status
    blocked = config is None or state.needs_reset(config, trainer)
    cols = st.columns(5)
    cols[0].button(state.play_label(trainer, status), key="btn_train", icon=":material/play_arrow:", type="primary",
                   on_click=state.on_train, args=(config, setup.dataset), width="stretch", disabled=blocked or status == "running")
    cols[1].button("Pause", key="btn_pause", icon=":material/pause:", on_click=state.on_pause, width="stretch",
                   disabled=status != "running")
    cols[2].button("Step", key="btn_step", icon=":material/skip_next:", on_click=state.on_step, args=(config, setup.dataset),
                   width="stretch", disabled=blocked or not state.can_step(trainer, status),
                   help="Train one epoch, then pause.")
    cols[3].button("Stop", key="btn_stop", icon=":material/stop:", on_click=state.on_stop, width="stretch",
                   disabled=status not in ("running", "paused"), help="End the run; everything stays on screen.")
    cols[4].button("Reset", key="btn_reset", icon=":material/restart_alt:", on_click=state.on_reset,
                   width="stretch", disabled=trainer is None, help="Discard this run and start from fresh weights.")


Frame = dict[str, Callable[[DeltaGenerator], object]]  # LiveView slot -> what to put in it, figures built


def chart(name: str, live: bool, figure: go.Figure) -> Callable[[DeltaGenerator], object]:
    """A live frame is drawn in place (pages/parts/live_chart.py); a paused or finished run's
    charts are interactive st.plotly_charts."""
    if live:
        return lambda slot: live_chart(slot, figure, name)
    return lambda slot: slot.plotly_chart(figure)


def start_frame(start: Snapshot, total: int) -> Frame:
    """Before the first epoch: the weights nn.Linear initialised, an empty loss curve.

    Drawn in place like live frames, so the browser loads plotly.js after the controls are on
    screen (an st.plotly_chart here held them back ~0.5 s), and before the click on Train."""
    loss = figures.loss_figure([], [], log_scale=view["log_scale"], total_epochs=total)
    weights = figures.weights_figure(start.layers, epoch=0)
    return {"loss": lambda slot: live_chart(slot, loss, "loss", interactive=True),
            "weights": lambda slot: live_chart(slot, weights, "weights", interactive=True),
            "gradients": lambda slot: slot.caption("Gradients: every `weight.grad` and `bias.grad` is `None` "
                                                   "until the first `loss.backward()`.")}


def text_frame(run: Trainer, status: str | None = None) -> Frame:
    """The progress bar and the epoch counter; `status` when it is not yet in the session state."""
    total = run.config.training.epochs
    last = f" · loss {run.history.losses[-1]:.6g}" if len(run.history) else ""
    counter = f"**Epoch {run.epoch} / {total}**{last} · {status or st.session_state.status}"
    return {"progress": lambda slot: slot.progress(min(run.epoch / total, 1.0)),
            "counter": lambda slot: slot.markdown(counter)}


def run_frame(run: Trainer, live: bool, text: bool = True, slow: bool = True, status: str | None = None) -> Frame:
    """The loss curve first (the browser draws elements in the order they arrive); the counter and
    printout with `text`; gradient norms, weights and gradients with `slow`."""
    history, total = run.history, run.config.training.epochs
    frame = {"loss": chart("loss", live, figures.loss_figure(
        history.epochs, history.losses, log_scale=view["log_scale"], lr_changes=run.lr_changes,
        diverged_at=run.diverged_at, total_epochs=total))}
    if text:
        log = state.loss_log(run)
        frame |= text_frame(run, status) | {"log": lambda slot: slot.code(log, language="text")}
    if slow:
        snapshot = run.snapshot()
        frame["norms"] = chart("norms", live, figures.grad_norm_figure(
            history.epochs, history.grad_norms, epoch=run.epoch, total_epochs=total))
        frame["weights"] = chart("weights", live, figures.weights_figure(snapshot.layers, epoch=run.epoch))
        frame["gradients"] = chart("gradients", live, figures.gradients_figure(snapshot.layers, epoch=run.epoch))
    return frame


def first_frame(run: Trainer) -> Frame:
    """A run's first frame, before its first epoch: from epoch 0 the start view again, which the
    browser does not draw twice (pages/parts/live_chart.py); a resumed run, every chart live."""
    if run.epoch == 0:
        return text_frame(run) | start_frame(run.snapshot(), run.config.training.epochs)
    return run_frame(run, live=True)


class LiveView:
    """Placeholders for everything that changes while training; each frame fills some of them."""

    def __init__(self, first: Frame | None = None) -> None:
        """`first` fills its slots as they are made. A click on Train reruns the page, and a chart
        slot sent empty and filled only later collapsed in between (0.05-0.1 s, the matrices until
        their first frame) while the page below jumped up."""
        first = first or {}

        def slot(parent, name: str) -> DeltaGenerator:
            placeholder = parent.empty()
            if name in first:
                first[name](placeholder)
            return placeholder

        self.progress, self.counter = slot(st, "progress"), slot(st, "counter")
        left, right = st.columns(2)
        self.loss, self.norms = slot(left, "loss"), slot(right, "norms")
        self.weights, self.gradients, self.log = slot(st, "weights"), slot(st, "gradients"), slot(st, "log")
        self.schedule = LiveSchedule(live=view["live"])

    def show(self, frame: Frame) -> None:
        for name, draw in frame.items():
            draw(getattr(self, name))

    def draw(self, run: Trainer, live: bool = False, all_charts: bool = True, seconds_left: float = 0.0,
             status: str | None = None) -> None:
        """One frame: the loss curve, and the rest when `all_charts` or its clock says it is due
        (core.frames.LiveSchedule, given the run's `seconds_left`)."""
        text = all_charts or self.schedule.text.due()
        slow = all_charts or self.schedule.slow_due(seconds_left)
        started = self.schedule.slow.clock()
        self.show(run_frame(run, live, text, slow, status))
        if slow:  # the matrices' drawing budget; text costs too little to count
            self.schedule.slow.drew(started)
        if text:
            self.schedule.text.drew(self.schedule.text.clock())


def train_live(run: Trainer, live_view: LiveView, single_step: bool) -> bool:
    """Step epochs until done or interrupted, drawing a frame only when one is due.

    A click on Pause or Stop reruns the script. Streamlit stops this run inside its next st.* call
    (between epochs, so the history is never half-written), and a newer script run's claim stops it
    before its next epoch (runner.fastReruns runs both at once). The final status is left to the
    next script run (train_state.RunOwner). Returns False when a newer run took over: then this one
    has drawn and left nothing since.
    """
    schedule, owner = live_view.schedule, state.run_owner()
    clock, first_epoch, total = schedule.frame, run.epoch, run.config.training.epochs
    try:
        while not run.done:
            if not owner.step(run, claim):
                return False
            if single_step:
                break
            if clock.due():
                started = clock.clock()
                if view["live"]:
                    left = schedule.seconds_left(run.epoch - first_epoch, total - run.epoch)
                    live_view.draw(run, live=True, all_charts=False, seconds_left=left)
                else:
                    live_view.show(text_frame(run))
                clock.drew(started)
    except RuntimeError as error:  # CUDA out of memory, a lost device: keep what was trained
        return owner.finish(claim, **state.failure(error, run))
    status = state.status_after(run, single_step)
    if not owner.finish(claim, status=status):
        return False
    # The last epoch, every chart, drawn in place at once; the rerun that follows makes them interactive.
    live_view.draw(run, live=True, status=status)
    return True


def show_outcome(run: Trainer) -> None:
    """Divergence advice, or the fit: final loss, R², predictions and input sensitivities."""
    if run.diverged_at is not None:
        st.error(
            f"Training diverged at epoch {run.diverged_at}: the loss or a gradient became NaN or infinite, "
            "so training stopped and the charts show the history up to there. Try a smaller learning rate "
            "(10× smaller is a good start) or the \"mean\" reduction, which divides the gradient by the number "
            "of samples."
        )
        return
    if st.session_state.status not in ("finished", "stopped"):
        return
    y_true, y_pred = run.predictions()
    r2 = run.r_squared()
    cols = st.columns(3)
    cols[0].metric("Final loss", f"{run.history.losses[-1]:.6g}")
    cols[1].metric("R² on the data", f"{r2:.4f}")
    cols[2].metric("Epochs trained", run.epoch)
    left, right = st.columns(2)
    left.plotly_chart(figures.prediction_figure(y_true, y_pred, r_squared=r2), key="predictions")
    names = setup.dataset.feature_names if run.uploaded and setup.dataset is not None else None
    true = None if run.uploaded else run.config.data.coefficients
    right.plotly_chart(figures.sensitivity_figure(run.input_sensitivities(), true, names=names), key="sensitivities")


def show_device_timing() -> None:
    """Where CUDA exists: one epoch of this config timed on each device."""
    if config is None or cuda_unavailable_reason() is not None:
        return
    with st.expander("CPU vs CUDA: time one epoch on each", icon=":material/speed:"):
        st.caption("The lesson's tiny network is bound by kernel launches on a GPU, so the CPU often wins; "
                   "CUDA pulls ahead as layers and samples grow.")
        if st.button("Time 50 epochs on each", key="btn_time_devices", disabled=st.session_state.status == "running"):
            times = {device: seconds_per_epoch(config, device) for device in ("cpu", "cuda")}
            st.dataframe([{"device": d, "ms per epoch": round(1000 * t, 3)} for d, t in times.items()],
                         hide_index=True)
            faster, slower = sorted(times, key=times.get)
            st.markdown(f"**{faster.upper()}** is {times[slower] / times[faster]:.1f}× faster for this config.")


def show_code() -> None:
    """The whole training script for this config: run it and it prints the losses shown above."""
    if config is None:
        return
    st.subheader("The code")
    if setup.dataset is not None:
        st.caption("This script draws the lesson's synthetic data; your uploaded CSV stays in this session.")
    code_panel(training_script(config), r_training_script(config), key="train_code",
               download_name="train_module_lab.py")


def show_files() -> None:
    st.subheader("Save and load")
    download_buttons(config, trainer)
    checkpoint_uploader(setup.caps)


def show_errors(errors: ConfigError | None) -> None:
    if errors is not None:
        lines = "\n".join(f"- **{name}**: {plain(message)}" for name, message in errors.errors.items())
        st.error(f"Some settings are not valid, so training is off until they are fixed:\n\n{lines}")
    if failure := st.session_state.get("run_error"):
        st.error(failure)
        if st.session_state.get("offer_cpu"):
            st.button("Switch to CPU and reset", key="btn_use_cpu", icon=":material/memory:", on_click=state.use_cpu)


show_errors(st.session_state.get("config_error"))
for warning in state.warnings(config, trainer):
    st.warning(warning)
show_controls()
ready_to_start = trainer is None and config is not None  # invalid settings: the error above says what to fix
training = trainer is not None and st.session_state.status in ("running", "step") and not state.needs_reset(config, trainer)
if training:
    single_step = st.session_state.status == "step"
    st.session_state.status = "running"
live_view = LiveView(first_frame(trainer) if training else None)
if ready_to_start:
    # In the progress bar's slot: when the run starts, every chart below keeps its place on the page,
    # so the browser updates the start view's plots in place instead of building new ones.
    live_view.progress.info("Press **Train** to train live, or **Step** to run one epoch at a time.")
if training:
    if not train_live(trainer, live_view, single_step):
        st.stop()  # a newer script run owns the session's run and draws the page
    before_rerun()  # the final frame sent and drawn first (pages/parts/flush.py)
    st.rerun()  # redraw the controls for the new status
elif trainer is not None:
    live_view.draw(trainer)
    show_outcome(trainer)
show_model_summary()
show_device_timing()
show_code()
show_files()
if ready_to_start:
    # Last: nothing above waits for building the start view's Trainer and figures.
    live_view.show(start_frame(state.initial_weights(config, setup.dataset), config.training.epochs))
