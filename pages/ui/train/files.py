"""Save and load a run: checkpoint (.pt), metrics (.csv), config (.json), and a safe import."""

from __future__ import annotations

import dataclasses

import streamlit as st

from core.checkpoint import CheckpointError, load_checkpoint, restore_trainer, save_checkpoint
from core.config import Config, Limits
from core.device import cuda_unavailable_reason
from core.exports import config_json, metrics_csv
from core.trainer import Trainer
from pages.ui.common.text import plain
from pages.ui.train import state
from pages.ui.train.sidebar import widget_value


def download_buttons(config: Config | None, trainer: Trainer | None) -> None:
    """The files are made on click (deferred), so drawing the buttons costs nothing mid-run."""
    cols = st.columns(3)
    # on_click="ignore": a download must not rerun the script, which would interrupt training.
    cols[0].download_button("Checkpoint (.pt)", data=lambda: save_checkpoint(trainer), file_name="module_lab.pt",
                            mime="application/octet-stream", key="dl_checkpoint", on_click="ignore",
                            icon=":material/download:", disabled=trainer is None, width="stretch",
                            help="Weights, optimizer state, config and metrics; reload it below.")
    cols[1].download_button("Metrics (.csv)", data=lambda: metrics_csv(trainer), file_name="module_lab_metrics.csv",
                            mime="text/csv", key="dl_metrics", on_click="ignore", icon=":material/download:",
                            disabled=trainer is None, width="stretch",
                            help="Loss, lr, the test loss and accuracies where the run has them, and gradient norms "
                                 "per epoch.")
    run_config = trainer.config if trainer is not None else config
    cols[2].download_button("Config (.json)", data=lambda: config_json(run_config), file_name="module_lab_config.json",
                            mime="application/json", key="dl_config", on_click="ignore", icon=":material/download:",
                            disabled=run_config is None, width="stretch")


def checkpoint_uploader(limits: Limits) -> None:
    """Load a .pt saved here: checked against its config before a byte of it reaches the model."""
    st.file_uploader("Load a checkpoint (.pt)", type=["pt"], key="checkpoint_file", on_change=_load,
                     args=(limits,),
                     help="Only Module Lab checkpoints load: plain tensors and numbers, never code.")
    if message := st.session_state.pop("checkpoint_message", None):
        (st.error if message[0] == "error" else st.success)(message[1])


@state.claims_the_run  # replaces the session's run, so no older script run may step it on
def _load(limits: Limits) -> None:
    upload = st.session_state.checkpoint_file
    if upload is None:
        return
    try:
        checkpoint = load_checkpoint(upload.getvalue(), limits)
    except CheckpointError as error:
        st.session_state.checkpoint_message = ("error", f"{plain(upload.name)} was refused: {plain(str(error))}")
        return
    note = ""
    if checkpoint.config.training.device == "cuda" and (reason := cuda_unavailable_reason()):
        checkpoint = dataclasses.replace(checkpoint, config=checkpoint.config.replace(device="cpu"))
        note = f" It was trained on CUDA, which is unavailable here ({reason}), so it continues on the CPU."
    if checkpoint.uploaded_rows is not None:
        rows = len(checkpoint.uploaded_rows[0])
        note += (f" It carries on with the {rows:,} rows of the uploaded CSV saved with it; "
                 "the sidebar's data is for a new run.")
    trainer = restore_trainer(checkpoint)
    for name, value in checkpoint.config.values().items():
        st.session_state[name] = widget_value(value)
    st.session_state.data_source = "lesson"  # the upload widget cannot be set; the run keeps its own rows
    state.on_loaded(trainer)
    st.session_state.checkpoint_message = (
        "success", f"Loaded {plain(upload.name)}: epoch {trainer.epoch} of {trainer.config.training.epochs}.{note}")
