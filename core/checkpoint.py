"""Checkpoints made of tensors and numbers only: saving a run, and loading one without running its code.

A checkpoint is a torch.save'd dict that `torch.load(..., weights_only=True)` reads back:
tensors, numbers, strings, lists and dicts, nothing that pickle could call. Loading checks
every part against the config the file carries before any of it reaches a model, so a bad or
hostile file is refused with a CheckpointError and nothing is half-loaded.

    data = save_checkpoint(trainer)                   # bytes for a download button
    trainer = restore_trainer(load_checkpoint(data))  # carries on where the run stopped
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch

from core.checkpoint_guard import REFUSED, CheckpointError, check_archive, check_pickle
from core.config import FIELDS, LIMITS, Config, ConfigError, Limits, parse_config, shown
from core.exports import plain_values
from core.history import METRICS
from core.model import build_model
from core.trainer import Trainer

FORMAT = "module-lab-checkpoint"
VERSION = 2  # 2: the history is float64 tensors, not lists of floats (bounded before unpickling)
MAX_CHECKPOINT_BYTES = 50_000_000

# What each optimizer keeps per parameter in torch 2.x: state name -> shaped like the parameter
# (True) or a scalar (False). manual_sgd and SGD without momentum keep nothing between steps.
OPTIMIZER_STATE = {
    "manual_sgd": {},
    "sgd": {},
    "adam": {"step": False, "exp_avg": True, "exp_avg_sq": True},
}


@dataclass(frozen=True, eq=False)
class Checkpoint:
    config: Config
    state_dict: dict[str, torch.Tensor]  # model.state_dict() on the CPU, checked against the config's network
    optimizer_state: dict[int, dict[str, torch.Tensor]]  # optimizer.state_dict()["state"]; {} if none kept
    learning_rate: float  # lr when saved; differs from config's after a mid-run change
    losses: np.ndarray  # (epochs,)
    learning_rates: np.ndarray  # (epochs,)
    grad_norms: dict[str, np.ndarray]  # parameter name -> (epochs,)
    metrics: dict[str, np.ndarray]  # core.history.METRICS name -> (epochs,), NaN where a run has none
    lr_changes: tuple[tuple[int, float], ...]  # (first epoch at the new lr, lr)
    diverged_at: int | None
    uploaded_rows: tuple[np.ndarray, np.ndarray] | None = None  # an uploaded CSV's (x, y); None: the config's data
    classification: bool | None = None  # how the uploaded rows were trained; None: as the config's data set says
    feature_names: tuple[str, ...] | None = None  # the uploaded columns' names

    @property
    def epoch(self) -> int:
        return len(self.losses)


# ------------------------------------------------------------------- export ---


def save_checkpoint(trainer: Trainer) -> bytes:
    """The run as bytes: weights, optimizer state, flat config, history; loadable with weights_only=True.

    Safe to call from another thread (a download while training runs): the copy is taken
    under the trainer's lock, between two epochs.
    """
    with trainer.lock:
        payload = _payload(trainer)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def _payload(trainer: Trainer) -> dict:
    history = trainer.history
    optimizer_state = trainer.optimizer.state_dict()["state"] if trainer.optimizer else {}
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": plain_values(trainer.config),
        "state_dict": {name: tensor.detach().cpu().clone() for name, tensor in trainer.model.state_dict().items()},
        "optimizer_state": {
            int(index): {key: value.detach().cpu().clone() for key, value in state.items()}
            for index, state in optimizer_state.items()
        },
        "learning_rate": float(trainer.learning_rate),
        "history": {
            "losses": _column_tensor(history.losses),
            "learning_rates": _column_tensor(history.learning_rates),
            "grad_norms": {name: _column_tensor(column) for name, column in history.grad_norms.items()},
            "metrics": {name: _column_tensor(column) for name, column in history.metrics.items()},
        },
        "lr_changes": [[int(epoch), float(lr)] for epoch, lr in trainer.lr_changes],
        "diverged_at": trainer.diverged_at,
        "uploaded_data": _uploaded_data(trainer),
    }
    return payload


def _uploaded_data(trainer: Trainer) -> dict | None:
    """An uploaded CSV's rows travel with its run: from the config alone a restore would draw the
    lesson's data and carry the run on there."""
    if trainer.uploaded_rows is None:
        return None
    x, y = trainer.uploaded_rows
    names = trainer.feature_names or tuple(f"x{i}" for i in range(1, x.shape[1] + 1))
    return {"x": torch.tensor(x, dtype=torch.float32), "y": torch.tensor(y, dtype=torch.float32),
            "classification": bool(trainer.classification), "feature_names": list(names)}


def _column_tensor(column: np.ndarray) -> torch.Tensor:
    """A copy: a History column is a strided view, and torch.save would write the whole table behind it."""
    return torch.tensor(column, dtype=torch.float64)


# ------------------------------------------------------------------- import ---


def load_checkpoint(data: bytes, limits: Limits = LIMITS, max_bytes: int = MAX_CHECKPOINT_BYTES) -> Checkpoint:
    """Read and check a checkpoint made by save_checkpoint; CheckpointError if anything is off."""
    payload = _unpickle(data, limits, max_bytes)
    config = _config(payload.get("config"), limits)
    uploaded_rows, classification, feature_names = _uploaded_rows(payload.get("uploaded_data"), limits)
    features = config.data.n_features if uploaded_rows is None else uploaded_rows[0].shape[1]
    # Shapes and dtypes only: the meta device allocates nothing and draws nothing from the
    # global generator that Trainer seeds under its lock.
    with torch.device("meta"):
        expected = build_model(config.model, features).state_dict()
    losses, learning_rates, grad_norms, metrics = _history(payload.get("history"), list(expected),
                                                           config.training.epochs)
    epochs = len(losses)
    diverged_at = _diverged_at(payload.get("diverged_at"), epochs)
    _check_finite_history(losses, learning_rates, grad_norms, diverged_at)
    _check_metrics(metrics, diverged_at)
    state_dict = _state_dict(payload.get("state_dict"), expected)
    optimizer_state = _optimizer_state(payload.get("optimizer_state"), config.training.optimizer, expected)
    if diverged_at is None:  # a diverged run keeps the weights it stopped with, whatever they are
        _check_finite(state_dict, optimizer_state)
    return Checkpoint(
        config=config,
        state_dict=state_dict,
        optimizer_state=optimizer_state,
        learning_rate=_learning_rate(payload.get("learning_rate"), "learning_rate"),
        losses=losses,
        learning_rates=learning_rates,
        grad_norms=grad_norms,
        metrics=metrics,
        lr_changes=_lr_changes(payload.get("lr_changes"), epochs),
        diverged_at=diverged_at,
        uploaded_rows=uploaded_rows,
        classification=classification,
        feature_names=feature_names,
    )


def restore_trainer(checkpoint: Checkpoint) -> Trainer:
    """A Trainer that carries on from the checkpoint: its next step() is epoch checkpoint.epoch + 1.

    Weights, Adam's moments, the current lr and the history are restored, and the data is the
    uploaded rows saved with the run or else rebuilt from the config's seed, so the following
    losses equal those of a run never interrupted.
    Trainer raises RuntimeError for a config saved with device 'cuda' where no GPU is usable:
    pass dataclasses.replace(checkpoint, config=checkpoint.config.replace(device="cpu")) there.
    """
    trainer = Trainer(checkpoint.config, data=checkpoint.uploaded_rows, classification=checkpoint.classification,
                      feature_names=checkpoint.feature_names)
    rows = zip(checkpoint.losses, checkpoint.learning_rates, zip(*checkpoint.grad_norms.values()))
    trainer.restore(checkpoint.state_dict, checkpoint.optimizer_state, checkpoint.learning_rate,
                    ((loss, lr, list(norms)) for loss, lr, norms in rows), checkpoint.lr_changes,
                    checkpoint.diverged_at, zip(*checkpoint.metrics.values()))
    return trainer


def _unpickle(data: bytes, limits: Limits, max_bytes: int) -> dict:
    if not data:
        raise CheckpointError("the file is empty")
    if len(data) > max_bytes:
        raise CheckpointError(f"the file is {len(data) / 1e6:.1f} MB, over the cap of {max_bytes / 1e6:g} MB")
    try:
        pickled = check_archive(data, limits)
    except CheckpointError:
        raise
    except Exception as error:  # arbitrary bytes fail inside zipfile in many ways; each means "refuse"
        raise CheckpointError(REFUSED) from error
    check_pickle(pickled)
    del pickled  # torch reads its own copy
    try:
        payload = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as error:  # arbitrary bytes fail inside zipfile and torch in many ways; each means "refuse"
        raise CheckpointError(REFUSED) from error
    # Compared by type first: == on a tensor smuggled in here would not give a plain bool.
    if not isinstance(payload, dict) or not _plain_equal(payload.get("format"), FORMAT):
        raise CheckpointError("this PyTorch file was not saved by Module Lab (it has no Module Lab format tag)")
    if _plain_equal(payload.get("version"), 1):
        raise CheckpointError("this checkpoint was saved by an earlier Module Lab (format version 1, its history as "
                              "lists of numbers), which this app no longer reads: open its config with the "
                              "config file or link of that run, and train again")
    if not _plain_equal(payload.get("version"), VERSION):
        raise CheckpointError(f"this checkpoint's format is not version {VERSION}, the one this app reads")
    return payload


def _plain_equal(value: object, expected: str | int) -> bool:
    return type(value) is type(expected) and value == expected


def _config(raw: object, limits: Limits) -> Config:
    if not isinstance(raw, dict):
        raise CheckpointError("the checkpoint has no config")
    for name in FIELDS:
        if name not in raw:
            raise CheckpointError(f"the checkpoint's config has no {name!r} field")
        if not _plain_value(raw[name]):
            raise CheckpointError(f"the checkpoint's config field {name!r} should be text, a number or a list of them")
    try:
        return parse_config(raw, limits)
    except ConfigError as error:
        raise CheckpointError(f"the checkpoint's config can't be used here: {error}") from None


def _plain_value(value: object) -> bool:
    """str, int, float or a list of them: what core.exports.plain_values writes, and all parse_config is given."""
    if type(value) is list:
        return all(type(item) in (str, int, float) for item in value)
    return type(value) in (str, int, float)


def _state_dict(raw: object, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The file's weights, if their names, shapes and dtypes are exactly the config's network's."""
    if not isinstance(raw, dict) or not all(type(name) is str for name in raw):
        raise CheckpointError("the checkpoint has no weights (a state_dict named by parameter)")
    for name, want in expected.items():
        if name not in raw:
            raise CheckpointError(f"weight {name!r} is missing; the config's network needs shape {tuple(want.shape)}")
        _check_tensor(f"weight {name!r}", raw[name], want.shape, want.dtype)
    extra = [name for name in raw if name not in expected]
    if extra:
        raise CheckpointError(f"weight {shown(extra[0])} is not part of the config's network ({', '.join(expected)})")
    return {name: raw[name] for name in expected}


def _check_tensor(what: str, value: object, shape: torch.Size, dtype: torch.dtype) -> None:
    if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
        raise CheckpointError(f"{what} is not a plain tensor")
    if value.shape != shape:
        raise CheckpointError(
            f"{what} has shape {tuple(value.shape)} in the file, but the config's network needs {tuple(shape)}"
        )
    if value.dtype != dtype:
        raise CheckpointError(f"{what} has dtype {value.dtype} in the file, but the config's network needs {dtype}")


def _optimizer_state(
    raw: object, optimizer: str, expected: dict[str, torch.Tensor]
) -> dict[int, dict[str, torch.Tensor]]:
    """Per parameter index, the tensors the config's optimizer keeps; {} before the first step."""
    if isinstance(raw, dict) and not raw:
        return {}
    layout, params = OPTIMIZER_STATE[optimizer], list(expected.values())
    if not _has_keys(raw, list(range(len(params)))):
        raise CheckpointError(f"the {optimizer} optimizer state does not match the network's {len(params)} parameters")
    for index, param in enumerate(params):
        state = raw[index]
        if not _has_keys(state, list(layout)):
            raise CheckpointError(f"the {optimizer} state of parameter {index} should hold {sorted(layout)}")
        for key, shaped in layout.items():
            shape = param.shape if shaped else torch.Size()
            _check_tensor(f"{optimizer} state {key!r} of parameter {index}", state[key], shape, param.dtype)
    return {index: dict(raw[index]) for index in range(len(params))}


def _has_keys(raw: object, keys: list[str] | list[int]) -> bool:
    """raw is a dict with exactly these keys, compared by type first (True is not 1, a tensor is no name)."""
    return isinstance(raw, dict) and all(type(key) in (str, int) for key in raw) and set(raw) == set(keys)


def _uploaded_rows(raw: object, limits: Limits
                   ) -> tuple[tuple[np.ndarray, np.ndarray] | None, bool | None, tuple[str, ...] | None]:
    """An uploaded CSV's (x, y), whether they were trained as classification and the columns' names;
    (None, None, None) for generated data."""
    if raw is None:
        return None, None, None
    if not _has_keys(raw, ["x", "y", "classification", "feature_names"]) or type(raw["classification"]) is not bool:
        raise CheckpointError("the checkpoint's uploaded data should hold x, y, whether it is classification "
                              "and the feature names")
    x, y, classification = raw["x"], raw["y"], raw["classification"]
    if not (isinstance(x, torch.Tensor) and x.layout == torch.strided and x.dtype == torch.float32 and x.ndim == 2):
        raise CheckpointError("the checkpoint's uploaded x should be a table of numbers (a 2-D float32 tensor)")
    rows, features = x.shape
    if not (1 <= rows <= limits.max_samples and 1 <= features <= limits.max_features):
        raise CheckpointError(f"the checkpoint's uploaded data has {rows:,} rows of {features:,} features; this "
                              f"server allows 1 to {limits.max_samples:,} rows of 1 to {limits.max_features} features")
    _check_tensor("the checkpoint's uploaded y", y, torch.Size([rows, 1]), torch.float32)
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise CheckpointError("the checkpoint's uploaded data holds NaN or infinite values")
    if classification and not ((y == 0) | (y == 1)).all():
        raise CheckpointError("the checkpoint's uploaded data is classification, but its labels are not all 0 or 1")
    names = raw["feature_names"]
    if not (type(names) is list and len(names) == features and all(type(name) is str for name in names)):
        raise CheckpointError(f"the checkpoint's uploaded data should name its {features} features")
    return (x.numpy().copy(), y.numpy().copy()), classification, tuple(names)


def _history(raw: object, names: list[str], max_epochs: int
             ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The per-epoch columns; no longer than the config's epochs (a run stops there)."""
    if not isinstance(raw, dict):
        raise CheckpointError("the checkpoint has no history")
    losses = raw.get("losses")
    if isinstance(losses, torch.Tensor) and losses.ndim == 1 and len(losses) > max_epochs:
        raise CheckpointError(f"the history has {len(losses):,} epochs, more than the config's {max_epochs:,}")
    losses = _floats(losses, "losses")
    learning_rates = _floats(raw.get("learning_rates"), "learning_rates", len(losses))
    norms = raw.get("grad_norms")
    if not _has_keys(norms, names) or list(norms) != names:
        raise CheckpointError(f"the history's gradient norms should be for {', '.join(names)}, in that order")
    grad_norms = {name: _floats(norms[name], f"grad_norms {name!r}", len(losses)) for name in names}
    metrics = raw.get("metrics")
    if not _has_keys(metrics, list(METRICS)):
        raise CheckpointError(f"the history's metrics should be {', '.join(METRICS)}")
    metrics = {name: _floats(metrics[name], f"metrics {name!r}", len(losses)) for name in METRICS}
    return losses, learning_rates, grad_norms, metrics


def _floats(raw: object, what: str, length: int | None = None) -> np.ndarray:
    """A 1-D float64 tensor as a numpy column; `length` when it must match the losses'."""
    if not (isinstance(raw, torch.Tensor) and raw.layout == torch.strided and raw.dtype == torch.float64
            and raw.ndim == 1):
        raise CheckpointError(f"the history's {what} should be a column of numbers (a 1-D float64 tensor)")
    if length is not None and len(raw) != length:
        raise CheckpointError(f"the history is inconsistent: {length} losses but {len(raw)} {_column(what)}")
    return raw.numpy().copy()


def _column(what: str) -> str:
    """'learning_rates' -> 'learning rates', "grad_norms '0.bias'" -> "gradient norms of '0.bias'"."""
    return what.replace("learning_rates", "learning rates").replace("grad_norms ", "gradient norms of ")


def _check_finite_history(
    losses: np.ndarray, learning_rates: np.ndarray, grad_norms: dict[str, np.ndarray], diverged_at: int | None
) -> None:
    """NaN or inf only where a run diverged: the epoch it stopped at, the last one."""
    columns = {"loss": losses, **{f"gradient norm of {shown(name)}": column for name, column in grad_norms.items()}}
    for what, column in columns.items():
        bad = [epoch for epoch in np.flatnonzero(~np.isfinite(column)) + 1 if epoch != diverged_at]
        if bad:
            raise CheckpointError(f"the history's {what} is NaN or infinite at epoch {bad[0]}, "
                                  + ("but the run did not diverge" if diverged_at is None else
                                     f"but the run diverged at epoch {diverged_at}"))
    bad = np.flatnonzero(~np.isfinite(learning_rates)) + 1
    if len(bad):
        raise CheckpointError(f"the history's learning rate is NaN or infinite at epoch {bad[0]}")


def _check_metrics(metrics: dict[str, np.ndarray], diverged_at: int | None) -> None:
    """NaN is a value here (no test split, a regression's accuracy); infinity only where a run diverged."""
    for name, column in metrics.items():
        bad = [epoch for epoch in np.flatnonzero(np.isinf(column)) + 1 if epoch != diverged_at]
        if bad:
            raise CheckpointError(f"the history's {name} is infinite at epoch {bad[0]}")


def _check_finite(state_dict: dict[str, torch.Tensor], optimizer_state: dict[int, dict[str, torch.Tensor]]) -> None:
    """Weights of a run that did not diverge are finite: a NaN would have stopped it. Adam's
    exp_avg_sq may overflow to +inf in a run that goes on (its update is then 0), so the
    optimizer's state is only checked for NaN."""
    for name, tensor in state_dict.items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"weight {shown(name)} holds NaN or infinite values, but the run did not diverge")
    for index, state in optimizer_state.items():
        for key, tensor in state.items():
            if torch.isnan(tensor).any():
                raise CheckpointError(f"optimizer state {key!r} of parameter {index} holds NaN values")


def _learning_rate(raw: object, what: str) -> float:
    if type(raw) is not float:
        raise CheckpointError(f"{what} should be a number; got {type(raw).__name__}")
    try:
        return FIELDS["learning_rate"].parse(raw)
    except ValueError as error:
        raise CheckpointError(f"{what}: {error}") from None


def _lr_changes(raw: object, epochs: int) -> tuple[tuple[int, float], ...]:
    if not isinstance(raw, list):
        raise CheckpointError("the checkpoint's lr_changes should be a list of [epoch, learning rate] pairs")
    changes = []
    for position, pair in enumerate(raw, start=1):
        if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) is int and 1 <= pair[0] <= epochs + 1):
            raise CheckpointError(
                f"lr_changes entry {position} should be [epoch from 1 to {epochs + 1}, learning rate]"
            )
        changes.append((pair[0], _learning_rate(pair[1], f"lr_changes entry {position}")))
    return tuple(changes)


def _diverged_at(raw: object, epochs: int) -> int | None:
    if raw is not None and not (type(raw) is int and 1 <= raw <= epochs):
        raise CheckpointError(f"diverged_at should be empty or an epoch from 1 to {epochs}; got {shown(raw)}")
    return raw
