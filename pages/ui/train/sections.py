"""The Train page's sections below the live view and around it, each drawn from what it is given."""

from __future__ import annotations

import streamlit as st

from core.codegen import r_training_script, training_script
from core.config import Config, ConfigError
from core.device import cuda_unavailable_reason
from core.status import Status
from core.tabular import Dataset
from core.trainer import Trainer, device_seconds
from pages.ui.common.code_panel import code_panel
from pages.ui.common.text import show_errors
from pages.ui.train import state, teacher_link
from pages.ui.train.files import checkpoint_uploader, download_buttons
from server.gate import Refused, Work, run_in_turns
from server.limits import ServerLimits
from viz import training as figures

DEVICES = ("cpu", "cuda")
TIMED_EPOCHS = 50  # per device, after 5 to warm up

WHY_LOGITS = (
    "**Classification: the model outputs logits.** Its last `nn.Linear` gives one number per point, any real value; "
    "`nn.BCEWithLogitsLoss` applies the sigmoid inside the loss, where `log(sigmoid(z))` is computed as one "
    "numerically stable expression (a separate `nn.Sigmoid` then `nn.BCELoss` rounds large logits to probabilities "
    "of exactly 0 or 1, whose log is infinite). `torch.sigmoid(model(x))` turns a logit into the probability of "
    "class 1; a logit above 0 is a probability above 0.5, which is how accuracy counts a point as class 1."
)


def show_problems(errors: ConfigError | None) -> None:
    """Invalid settings, and a run that could not start or failed."""
    if errors is not None:
        show_errors(errors, "Some settings are not valid, so training is off until they are fixed")
    if failure := st.session_state.get("run_error"):
        st.error(failure)
        if st.session_state.get("offer_cpu"):
            st.button("Switch to CPU and reset", key="btn_use_cpu", icon=":material/memory:", on_click=state.use_cpu)


def show_task_notes(config: Config | None, dataset: Dataset | None) -> None:
    """What changes with the options beyond the lesson's: logits for classification, summed test losses."""
    if config is None:
        return
    if state.classifies(config, dataset):
        st.info(WHY_LOGITS, icon=":material/lightbulb:")
    if config.training.test_fraction and config.training.reduction == "sum":
        st.caption("With the sum reduction each loss adds up its own rows, and the test set has fewer of them; "
                   "choose **mean** to compare the two curves directly.")


def show_controls(config: Config | None, dataset: Dataset | None, trainer: Trainer | None,
                  limits: ServerLimits) -> None:
    """Train/Resume, Pause, Step, Stop, Reset: TensorFlow Playground's transport."""
    status = Status(st.session_state.status)
    blocked = config is None or state.needs_reset(config, trainer)
    start = (config, dataset, limits)
    cols = st.columns(5)
    cols[0].button(state.play_label(trainer, status), key="btn_train", icon=":material/play_arrow:", type="primary",
                   on_click=state.on_train, args=start, width="stretch",
                   disabled=blocked or status is Status.RUNNING)
    cols[1].button("Pause", key="btn_pause", icon=":material/pause:", on_click=state.on_pause, width="stretch",
                   disabled=status is not Status.RUNNING)
    cols[2].button("Step", key="btn_step", icon=":material/skip_next:", on_click=state.on_step, args=start,
                   width="stretch", disabled=blocked or not state.can_step(trainer, status),
                   help="Train one epoch, then pause.")
    cols[3].button("Stop", key="btn_stop", icon=":material/stop:", on_click=state.on_stop, width="stretch",
                   disabled=not status.resumable, help="End the run; everything stays on screen.")
    cols[4].button("Reset", key="btn_reset", icon=":material/restart_alt:", on_click=state.on_reset,
                   width="stretch", disabled=trainer is None, help="Discard this run and start from fresh weights.")


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
    if st.session_state.status not in (Status.FINISHED, Status.STOPPED):
        return
    if run.x_test is not None or run.classification:
        show_split_outcome(run)
        return
    y_true, y_pred = run.predictions()
    r2 = run.r_squared()
    cols = st.columns(3)
    cols[0].metric("Final loss", f"{run.history.losses[-1]:.6g}")
    cols[1].metric("R² on the data", f"{r2:.4f}")
    cols[2].metric("Epochs trained", run.epoch)
    left, right = st.columns(2)
    left.plotly_chart(figures.prediction_figure(y_true, y_pred, r_squared=r2), key="predictions")
    names = run.feature_names if run.uploaded else None
    true = None if run.uploaded else run.config.data.coefficients
    right.plotly_chart(figures.sensitivity_figure(run.input_sensitivities(), true, names=names), key="sensitivities")


def show_split_outcome(run: Trainer) -> None:
    """Train and test side by side: the last epoch's loss, and for classification its accuracy."""
    history, held_out = run.history, run.x_test is not None
    # 4 digits: five metrics share the width, and six (0.0357954) were cut to "0.03579..."
    metrics = [("loss · train", f"{history.losses[-1]:.4g}")]
    if held_out:
        metrics.append(("loss · test", f"{history.test_losses[-1]:.4g}"))
    if run.classification:
        metrics.append(("accuracy · train", f"{history.accuracies[-1]:.1%}"))
        if held_out:
            metrics.append(("accuracy · test", f"{history.test_accuracies[-1]:.1%}"))
    metrics.append(("Epochs trained", f"{run.epoch:,}"))
    for col, (label, value) in zip(st.columns(len(metrics)), metrics):
        col.metric(label, value)
    if held_out:
        st.caption(f"Train: the {len(run.y):,} rows the model learns from; test: the {len(run.y_test):,} held out. "
                   "The last epoch's values, with the weights that epoch started from.")
    if not run.classification:
        y_true, y_pred = run.predictions()
        st.plotly_chart(figures.prediction_figure(y_true, y_pred, r_squared=run.r_squared()), key="predictions")


def show_model_summary(config: Config | None, dataset: Dataset | None, trainer: Trainer | None) -> None:
    """print(model), its size, and where its tensors live."""
    if config is None:
        return
    n_features = dataset.x.shape[1] if dataset is not None else config.data.n_features
    model_text, count, tensors = state.model_summary(config, trainer, n_features)
    st.subheader("The model")
    # One under the other: print(model)'s lines and the five-column table are each wider than half the page.
    st.markdown(f"`print(model)` · **{count:,}** parameters")
    st.code(model_text, language="text")
    st.markdown("Tensors: device and type, as torch reports them")
    st.dataframe(tensors, hide_index=True, width="stretch")


def show_device_timing(config: Config | None, dataset: Dataset | None, limits: ServerLimits, claim: int) -> None:
    """Where CUDA exists: one epoch of this config timed on each device, in the server's queue like a run."""
    if config is None or cuda_unavailable_reason() is not None:
        return
    with st.expander("CPU vs CUDA: time one epoch on each", icon=":material/speed:"):
        st.caption("The lesson's tiny network is bound by kernel launches on a GPU, so the CPU often wins; "
                   "CUDA pulls ahead as layers and samples grow.")
        if not st.button("Time 50 epochs on each", key="btn_time_devices",
                         disabled=st.session_state.status == Status.RUNNING):
            return
        work = Work(config, len(DEVICES) * (TIMED_EPOCHS + 5), None if dataset is None else dataset.x.shape)
        try:
            times = run_in_turns(device_seconds(config, DEVICES, TIMED_EPOCHS), work, limits, state.run_owner(),
                                 claim, st.empty(), "Timing each device", state.run_owner())
        except Refused as refused:
            st.error(refused.message)
            return
        if times is None:
            st.stop()  # a newer script run took over
        st.dataframe([{"device": d, "ms per epoch": round(1000 * t, 3)} for d, t in times.items()], hide_index=True)
        faster, slower = sorted(times, key=times.get)
        st.markdown(f"**{faster.upper()}** is {times[slower] / times[faster]:.1f}× faster for this config.")


def show_code(config: Config | None, dataset: Dataset | None) -> None:
    """The whole training script for this config: run it and it prints the losses shown above."""
    if config is None or not teacher_link.shows("code"):
        return
    st.subheader("The code")
    if dataset is not None:
        st.caption("This script draws the lesson's synthetic data; your uploaded CSV stays in this session.")
    code_panel(training_script(config), r_training_script(config), key="train_code",
               download_name="train_module_lab.py")


def show_files(config: Config | None, trainer: Trainer | None, limits: ServerLimits) -> None:
    if not teacher_link.shows("files"):
        return
    st.subheader("Save and load")
    download_buttons(config, trainer)
    if not teacher_link.exercise().locked:  # a checkpoint brings its own settings
        checkpoint_uploader(limits)
