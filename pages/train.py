"""Train: build an nn.Sequential, train it with the lesson's loop, watch it live."""

from __future__ import annotations

import streamlit as st

import pages.ui  # noqa: F401  (first, before torch: see pages/ui/__init__.py)
from core.status import Status
from pages.ui.epoch.link import inspect_epoch_link
from pages.ui.train import sections, state, teacher_link
from pages.ui.train.live_view import LiveView, first_frame, start_frame, train_live
from pages.ui.train.runs import draw_run, runs_section
from pages.ui.train.sidebar import config_sidebar
from server.gate import give_back_held_slot
from server.streamlit_internals import before_rerun

st.title("Train")
st.caption(
    "The lesson's loop: `y_pred = model(x)`, `loss = (y_pred - y).pow(2).sum()`, `model.zero_grad()`, "
    "`loss.backward()`, then under `torch.no_grad()` each `p.sub_(lr * p.grad)`. Pick the network and "
    "watch every layer's weights and gradients change, epoch by epoch."
)

claim = state.init()  # this script run now owns the session's run (server/gate.py RunOwner)
setup = config_sidebar()
teacher_link.banner()  # a teacher's link: the exercise, and what it hides
config, dataset, limits, view = setup.config, setup.dataset, setup.limits, setup.view
state.sync_run(config, claim, limits)
trainer = st.session_state.get("trainer")

sections.show_problems(st.session_state.get("config_error"))
sections.show_task_notes(config, dataset)
for warning in state.warnings(config, trainer):
    st.warning(warning)
sections.show_controls(config, dataset, trainer, limits)

ready_to_start = trainer is None and config is not None  # invalid settings: the error above says what to fix
single_step = state.begin_training(config, trainer)  # None: no epoch to train in this script run
live_view = LiveView(view, None if single_step is None else first_frame(trainer, view),
                     plane=state.draws_plane(config, dataset, trainer))
if ready_to_start:
    # In the progress bar's slot: when the run starts, every chart below keeps its place on the page,
    # so the browser updates the start view's plots in place instead of building new ones.
    live_view.progress.info("Press **Train** to train live, or **Step** to run one epoch at a time.")
if single_step is not None:
    if not train_live(trainer, live_view, single_step, claim, limits):
        st.stop()  # a newer script run owns the session's run and draws the page
    before_rerun()  # the final frame sent and drawn first (server/streamlit_internals.py)
    st.rerun()  # redraw the controls for the new status
elif trainer is not None:
    draw_run(live_view, trainer, st.session_state.status, claim, limits)
    sections.show_outcome(trainer)
    if st.session_state.status == Status.PAUSED:
        inspect_epoch_link(trainer)

runs_section(trainer, st.session_state.status, limits.max_runs)
sections.show_model_summary(config, dataset, trainer)
sections.show_device_timing(config, dataset, limits, claim)
sections.show_code(config, dataset)
sections.show_files(config, trainer, limits)
if ready_to_start:
    # Last: nothing above waits for building the start view's Trainer and figures.
    live_view.show(start_frame(state.initial_run(config, dataset), view["log_scale"]))
give_back_held_slot()  # the outcome is drawn: the next run in line starts at full speed (server/gate.py)
