"""The session's kept runs (core.runs.RunStore): a run is kept when it ends, or when Reset leaves it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.config import LIMITS
from core.runs import CURVE_POINTS, KeptRun, RunStore
from core.status import Status
from core.trainer import Trainer
from pages.ui.common.text import listed
from viz.common import decimate

ENDED = tuple(status for status in Status if status.ended)  # a run that is over


def run_store(max_runs: int | None = None) -> RunStore:
    """The session's store; `max_runs` (the session's cap) applies from the next kept run on."""
    store = st.session_state.setdefault("runs", RunStore(LIMITS.max_runs))
    if max_runs is not None:
        store.max_runs = max_runs
    return store


def keep_run(trainer: Trainer | None, status: str) -> None:
    """Keep the session's run if it trained at least one epoch: its outcome is `status` when the run
    ended, "reset" when Reset leaves it mid-run. Nothing new since it was last kept: nothing to do."""
    if trainer is None or trainer.epoch < 1:
        return
    store = run_store()
    number = store.number_of(trainer)
    outcome = status if status in ENDED else "reset"
    kept = store.get(number)
    if kept is not None and kept.epochs_trained == trainer.epoch:
        return
    history = trainer.history
    epochs, losses = decimate(history.epochs, history.losses, CURVE_POINTS)
    test_curve = None
    if trainer.x_test is not None:
        test_epochs, test_losses = decimate(history.epochs, history.test_losses, CURVE_POINTS)
        test_curve = (test_epochs.astype(np.int32), test_losses.astype(np.float32))
    dropped = store.keep(KeptRun(
        number=number, name=f"run {number}", config=trainer.config,
        epochs=epochs.astype(np.int32), losses=losses.astype(np.float32), final_loss=float(history.losses[-1]),
        r_squared=trainer.r_squared() if trainer.diverged_at is None else float("nan"),
        epochs_trained=trainer.epoch, seconds=trainer.seconds, outcome=outcome,
        test_loss=float(history.test_losses[-1]), accuracy=float(history.accuracies[-1]),
        test_accuracy=float(history.test_accuracies[-1]), test_curve=test_curve))
    if dropped:
        st.session_state.runs_note = (f"At most {store.max_runs} runs are kept per session, so the oldest unpinned "
                                      f"({listed(dropped)}) was dropped. Pin a run to keep it.")
