"""The Train page's run: one Trainer per browser session, and the transport's callbacks.

Every change of the run's Status is `transition(status, event, ...)` (core/status.py, a table tested
in tests/test_run_status.py); the callbacks below apply it to the session.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import wraps

import streamlit as st

from core.config import Config
from core.device import tensor_table
from core.status import Event, Status, transition
from core.tabular import Dataset
from core.trainer import Trainer, unseeded_model
from pages.ui.train.archive import keep_run
from server.gate import Refused, RunOwner, Work, budget_refusal, run_in_turns
from server.limits import SERVER_LIMITS, ServerLimits

# Fields a run may take on mid-run; any other change needs a Reset.
LIVE_FIELDS = ("learning_rate", "epochs")
SYNTHETIC_DATA_FIELDS = ("n_samples", "noise_std", "coefficients", "dataset")  # unused by a run on uploaded data


def run_owner() -> RunOwner:
    return st.session_state.setdefault("run_owner", RunOwner())


def claims_the_run(callback: Callable[..., None]) -> Callable[..., None]:
    """A transport callback: it runs in the new script run, possibly beside the old one, so it claims first."""

    @wraps(callback)
    def claimed(*args, **kwargs) -> None:
        run_owner().claim()  # what the old run left is overruled by the click
        callback(*args, **kwargs)

    return claimed


def init() -> int:
    """Per browser session: no run yet. Per script run: claim the run, apply what the last training
    run left (its final status), and return the claim."""
    st.session_state.setdefault("status", Status.IDLE)
    st.session_state.setdefault("trainer", None)
    owner = run_owner()
    st.session_state.update(owner.claim())
    return owner.newest


def changed_fields(config: Config, trainer: Trainer) -> list[str]:
    """Settings that differ from the run's, other than those a run may take on mid-run."""
    before, now = trainer.config.values(), config.values()
    ignored = (*LIVE_FIELDS, *SYNTHETIC_DATA_FIELDS) if trainer.uploaded else LIVE_FIELDS
    changed = [name for name in now if name not in ignored and now[name] != before[name]]
    if st.session_state.get("data_key") != st.session_state.get("run_data_key"):
        changed.append("the data")
    return changed


def needs_reset(config: Config | None, trainer: Trainer | None) -> bool:
    return trainer is not None and config is not None and bool(changed_fields(config, trainer))


def can_step(trainer: Trainer | None, status: Status) -> bool:
    return trainer is None or (not trainer.done and Status(status).resumable)


def play_label(trainer: Trainer | None, status: Status) -> str:
    if trainer is None:
        return "Train"
    return "Resume" if Status(status).resumable else "Train again"


def _apply(event: Event, trainer: Trainer | None = None) -> None:
    """The session's status after `event`, for the session's run (or `trainer`)."""
    trainer = trainer or st.session_state.trainer
    done, diverged = (trainer.done, trainer.diverged_at is not None) if trainer is not None else (False, False)
    st.session_state.status = transition(Status(st.session_state.status), event, done=done, diverged=diverged)


def sync_run(config: Config | None, claim: int, limits: ServerLimits) -> None:
    """Apply mid-run changes (learning rate, epochs) to the live run."""
    trainer: Trainer | None = st.session_state.trainer
    if trainer is None or config is None or needs_reset(config, trainer):
        return
    trainer.set_learning_rate(config.training.learning_rate)
    if config.training.epochs != trainer.config.training.epochs:
        if not fill_snapshots(trainer, claim, limits):  # a new plan keeps other epochs: the deferred ones first
            st.stop()  # a newer script run took the run over
        trainer.set_epochs(config.training.epochs)
        _apply(Event.MORE_EPOCHS, trainer)  # a finished run with epochs to go: Resume trains on


def fill_snapshots(trainer: Trainer, claim: int, limits: ServerLimits) -> bool:
    """Make a fast run's deferred snapshots (Trainer.snapshots) by training it again, in the server's queue
    like any training; False if a newer script run took the run over. Such a run is at most a second of
    training, so the budget never refuses it; if it did, the snapshots would stay deferred and unshown."""
    if not trainer.snapshots_deferred:
        return True
    rows = trainer.uploaded_rows[0].shape if trainer.uploaded_rows is not None else None
    try:
        return run_in_turns(_trained_again(trainer), Work(trainer.config, trainer.epoch, rows), limits, run_owner(),
                            claim, None, "Training the run again for replay", trainer) is not None
    except Refused:
        return True


def _trained_again(trainer: Trainer) -> Generator[int, None, bool]:
    yield from trainer.training_again()
    return True


def _start(config: Config | None, dataset: Dataset | None, event: Event, limits: ServerLimits) -> None:
    if config is None:
        return
    fresh = Status(st.session_state.status).ended or st.session_state.trainer is None
    run = None if fresh else st.session_state.trainer
    if event is Event.TRAIN and (refusal := budget_refusal(config, dataset, limits, run)):  # Step is one epoch
        st.session_state.run_error = refusal  # never starts: the message says how to shrink the run
        return
    if Status(st.session_state.status).ended:
        on_reset()  # "Train again": a fresh run of the same config
    if st.session_state.trainer is None:
        try:
            st.session_state.trainer = Trainer(config, data=None if dataset is None else (dataset.x, dataset.y),
                                               classification=classifies(config, dataset),
                                               feature_names=None if dataset is None else dataset.feature_names)
        except RuntimeError as error:  # CUDA chosen but unusable, or out of memory
            st.session_state.run_error = f"Could not start training: {error}."
            st.session_state.offer_cpu = config.training.device == "cuda"
            return
        st.session_state.run_data_key = st.session_state.get("data_key")
    st.session_state.run_error = None
    _apply(event)


@claims_the_run
def on_train(config: Config | None, dataset: Dataset | None, limits: ServerLimits = SERVER_LIMITS) -> None:
    _start(config, dataset, Event.TRAIN, limits)


@claims_the_run
def on_step(config: Config | None, dataset: Dataset | None, limits: ServerLimits = SERVER_LIMITS) -> None:
    _start(config, dataset, Event.STEP, limits)


@claims_the_run
def on_pause() -> None:
    _apply(Event.PAUSE)  # the click may land on the frame of the last epoch: then the run is simply over


@claims_the_run
def on_stop() -> None:
    _apply(Event.STOP)


@claims_the_run
def on_reset() -> None:
    keep_run(st.session_state.trainer, st.session_state.status)  # a run left after an epoch or more is kept
    st.session_state.trainer = None
    st.session_state.run_data_key = None
    _apply(Event.RESET)
    st.session_state.run_error = None
    st.session_state.offer_cpu = False


def on_loaded(trainer: Trainer) -> None:
    """A checkpoint replaced the session's run (called from a callback that claims the run)."""
    keep_run(st.session_state.get("trainer"), st.session_state.get("status", Status.IDLE))
    st.session_state.trainer, st.session_state.run_data_key = trainer, None
    _apply(Event.LOADED, trainer)


def begin_training(config: Config | None, trainer: Trainer | None) -> bool | None:
    """When the session's run is to train in this script run (Train or Step clicked, its settings
    unchanged), mark it running and return whether it trains a single step; else None."""
    status = Status(st.session_state.status)
    if trainer is None or status not in (Status.RUNNING, Status.STEP) or needs_reset(config, trainer):
        return None
    st.session_state.status = transition(status, Event.BEGIN)
    return status is Status.STEP


def status_after(trainer: Trainer, single_step: bool) -> Status:
    """The status the training loop leaves when it ends (train_live)."""
    return transition(Status.RUNNING, Event.RAN, done=trainer.done, diverged=trainer.diverged_at is not None,
                      single_step=single_step)


def failure(error: RuntimeError, trainer: Trainer) -> dict[str, object]:
    """Training raised (CUDA out of memory, a lost device): stop, keep the history, say what happened."""
    where = "on CUDA " if trainer.device.type == "cuda" else ""
    message = (
        f"Training failed {where}at epoch {trainer.epoch + 1}: {error}. Everything up to epoch {trainer.epoch} "
        "is kept on screen." + (" Switch to CPU to go on training." if where else "")
    )
    return {"status": transition(Status.RUNNING, Event.FAILED), "run_error": message, "offer_cpu": bool(where)}


@claims_the_run
def use_cpu() -> None:
    st.session_state.device = "cpu"
    on_reset()


def warnings(config: Config | None, trainer: Trainer | None) -> list[str]:
    messages = []
    if config is not None and trainer is not None and (changed := changed_fields(config, trainer)):
        messages.append(
            f"You changed {', '.join(changed)} since this run began. The charts still show the run as it was; "
            "press **↺ Reset** to train with the new settings (learning rate and epochs may change mid-run)."
        )
    return messages


def model_summary(config: Config, trainer: Trainer | None, n_features: int) -> tuple[str, int, list[dict]]:
    """print(model), the parameter count and the tensor table, for the run or the config."""
    if trainer is not None and not needs_reset(config, trainer):
        model = trainer.model
        held_out = {"x_test": trainer.x_test, "y_test": trainer.y_test} if trainer.x_test is not None else {}
        tensors = {"x": trainer.x, "y": trainer.y, **held_out, **dict(model.named_parameters())}
    else:
        model = unseeded_model(config.model, n_features)
        tensors = dict(model.named_parameters())
    return str(model), sum(p.numel() for p in model.parameters()), tensor_table(tensors)


def initial_run(config: Config, dataset: Dataset | None) -> Trainer:
    """A fresh run of this config on the CPU (same seed, same data), before any epoch: the start view's
    weights and boundary."""
    data = None if dataset is None else (dataset.x, dataset.y)
    # Built on the CPU whatever the device: it only shows the starting weights.
    return Trainer(config.replace(device="cpu"), data=data, classification=classifies(config, dataset))


def classifies(config: Config, dataset: Dataset | None) -> bool:
    """A classification run: a generated classification set, or an upload whose two-valued target is labels."""
    return dataset.classes is not None if dataset is not None else config.data.classification


def draws_plane(config: Config | None, dataset: Dataset | None, trainer: Trainer | None) -> bool:
    """Whether the live view has the decision boundary's slots: a classification run on two inputs."""
    if trainer is not None:
        return trainer.classification and trainer.x.shape[1] == 2
    inputs = dataset.x.shape[1] if dataset is not None else 2
    return config is not None and classifies(config, dataset) and inputs == 2
