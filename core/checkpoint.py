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
import json
import zipfile
from dataclasses import dataclass

import numpy as np
import torch

from core.config import FIELDS, LIMITS, Config, ConfigError, Limits, parse_config
from core.model import build_model
from core.trainer import Trainer

FORMAT = "module-lab-checkpoint"
VERSION = 1
MAX_CHECKPOINT_BYTES = 50_000_000
REFUSED = (
    "not a Module Lab checkpoint, or it contains code/objects that are not plain tensors and numbers; refused"
)

# What each optimizer keeps per parameter in torch 2.x: state name -> shaped like the parameter
# (True) or a scalar (False). manual_sgd and SGD without momentum keep nothing between steps.
OPTIMIZER_STATE = {
    "manual_sgd": {},
    "sgd": {},
    "adam": {"step": False, "exp_avg": True, "exp_avg_sq": True},
}


class CheckpointError(ValueError):
    """The file can't be used as a checkpoint; the message says why."""


@dataclass(frozen=True, eq=False)
class Checkpoint:
    config: Config
    state_dict: dict[str, torch.Tensor]  # model.state_dict() on the CPU, checked against the config's network
    optimizer_state: dict[int, dict[str, torch.Tensor]]  # optimizer.state_dict()["state"]; {} if none kept
    learning_rate: float  # lr when saved; differs from config's after a mid-run change
    losses: np.ndarray  # (epochs,)
    learning_rates: np.ndarray  # (epochs,)
    grad_norms: dict[str, np.ndarray]  # parameter name -> (epochs,)
    lr_changes: tuple[tuple[int, float], ...]  # (first epoch at the new lr, lr)
    diverged_at: int | None

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
        "config": _plain_values(trainer.config),
        "state_dict": {name: tensor.detach().cpu().clone() for name, tensor in trainer.model.state_dict().items()},
        "optimizer_state": {
            int(index): {key: value.detach().cpu().clone() for key, value in state.items()}
            for index, state in optimizer_state.items()
        },
        "learning_rate": float(trainer.learning_rate),
        "history": {
            "losses": history.losses.tolist(),
            "learning_rates": history.learning_rates.tolist(),
            "grad_norms": {name: column.tolist() for name, column in history.grad_norms.items()},
        },
        "lr_changes": [[int(epoch), float(lr)] for epoch, lr in trainer.lr_changes],
        "diverged_at": trainer.diverged_at,
    }
    return payload


def _plain_values(config: Config) -> dict[str, object]:
    """config.values() with tuples as lists: str, int and float only, for JSON and weights_only."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in config.values().items()}


def config_json(config: Config) -> str:
    """The flat config as readable JSON; parse_config(json.loads(text)) gives the config back."""
    return json.dumps(_plain_values(config), indent=2)


def metrics_csv(trainer: Trainer) -> str:
    """One row per epoch: epoch, loss, learning_rate, then grad_norm_<parameter name> per parameter."""
    import pandas as pd  # here, not at the top: ~0.3 s of every cold start (see core/tabular.py)

    history = trainer.history
    with trainer.lock:  # the columns grow while a run trains
        columns = {"epoch": history.epochs, "loss": history.losses.copy(), "learning_rate": history.learning_rates.copy()}
        columns |= {f"grad_norm_{name}": norms.copy() for name, norms in history.grad_norms.items()}
    return pd.DataFrame(columns).to_csv(index=False, lineterminator="\n")


# ------------------------------------------------------------------- import ---


def load_checkpoint(data: bytes, limits: Limits = LIMITS, max_bytes: int = MAX_CHECKPOINT_BYTES) -> Checkpoint:
    """Read and check a checkpoint made by save_checkpoint; CheckpointError if anything is off."""
    payload = _unpickle(data, max_bytes)
    config = _config(payload.get("config"), limits)
    # Shapes and dtypes only: the meta device allocates nothing and draws nothing from the
    # global generator that Trainer seeds under its lock.
    with torch.device("meta"):
        expected = build_model(config.model, config.data.n_features).state_dict()
    state_dict = _state_dict(payload.get("state_dict"), expected)
    losses, learning_rates, grad_norms = _history(payload.get("history"), list(expected))
    epochs = len(losses)
    return Checkpoint(
        config=config,
        state_dict=state_dict,
        optimizer_state=_optimizer_state(payload.get("optimizer_state"), config.training.optimizer, expected),
        learning_rate=_learning_rate(payload.get("learning_rate"), "learning_rate"),
        losses=losses,
        learning_rates=learning_rates,
        grad_norms=grad_norms,
        lr_changes=_lr_changes(payload.get("lr_changes"), epochs),
        diverged_at=_diverged_at(payload.get("diverged_at"), epochs),
    )


def restore_trainer(checkpoint: Checkpoint) -> Trainer:
    """A Trainer that carries on from the checkpoint: its next step() is epoch checkpoint.epoch + 1.

    Weights, Adam's moments, the current lr and the history are restored, and the data is rebuilt
    from the config's seed, so the following losses equal those of a run never interrupted.
    Trainer raises RuntimeError for a config saved with device 'cuda' where no GPU is usable:
    pass dataclasses.replace(checkpoint, config=checkpoint.config.replace(device="cpu")) there.
    """
    trainer = Trainer(checkpoint.config)
    rows = zip(checkpoint.losses, checkpoint.learning_rates, zip(*checkpoint.grad_norms.values()))
    trainer.restore(checkpoint.state_dict, checkpoint.optimizer_state, checkpoint.learning_rate,
                    ((loss, lr, list(norms)) for loss, lr, norms in rows), checkpoint.lr_changes,
                    checkpoint.diverged_at)
    return trainer


def _unpickle(data: bytes, max_bytes: int) -> dict:
    if not data:
        raise CheckpointError("the file is empty")
    if len(data) > max_bytes:
        raise CheckpointError(f"the file is {len(data) / 1e6:.1f} MB, over the cap of {max_bytes / 1e6:g} MB")
    try:
        _check_archive(data)
        payload = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as error:  # arbitrary bytes fail inside zipfile and torch in many ways; each means "refuse"
        raise CheckpointError(REFUSED) from error
    # Compared by type first: == on a tensor smuggled in here would not give a plain bool.
    if not isinstance(payload, dict) or not _plain_equal(payload.get("format"), FORMAT):
        raise CheckpointError("this PyTorch file was not saved by Module Lab (it has no Module Lab format tag)")
    if not _plain_equal(payload.get("version"), VERSION):
        raise CheckpointError(f"this checkpoint's format is not version {VERSION}, the one this app reads")
    return payload


def _plain_equal(value: object, expected: str | int) -> bool:
    return type(value) is type(expected) and value == expected


def _check_archive(data: bytes) -> None:
    """torch.save writes an uncompressed zip: refuse compressed or oversized entries before torch
    reads them, so that a small upload can't unpack to gigabytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
    if any(e.compress_type != zipfile.ZIP_STORED for e in entries) or sum(e.file_size for e in entries) > len(data):
        raise CheckpointError(REFUSED)


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
    """str, int, float or a list of them: what _plain_values writes, and all parse_config is given."""
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
        raise CheckpointError(f"weight {extra[0]!r} is not part of the config's network ({', '.join(expected)})")
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


def _history(raw: object, names: list[str]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    if not isinstance(raw, dict):
        raise CheckpointError("the checkpoint has no history")
    losses = _floats(raw.get("losses"), "losses")
    learning_rates = _floats(raw.get("learning_rates"), "learning_rates")
    norms = raw.get("grad_norms")
    if not _has_keys(norms, names) or list(norms) != names:
        raise CheckpointError(f"the history's gradient norms should be for {', '.join(names)}, in that order")
    grad_norms = {name: _floats(norms[name], f"grad_norms {name!r}") for name in names}
    columns = {"learning rates": learning_rates, **{f"gradient norms of {n!r}": c for n, c in grad_norms.items()}}
    for what, column in columns.items():
        if len(column) != len(losses):
            raise CheckpointError(f"the history is inconsistent: {len(losses)} losses but {len(column)} {what}")
    return losses, learning_rates, grad_norms


def _floats(raw: object, what: str) -> np.ndarray:
    if not isinstance(raw, list) or not all(type(value) is float for value in raw):
        raise CheckpointError(f"the history's {what} should be a list of numbers")
    return np.array(raw, dtype=np.float64)


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
        raise CheckpointError(f"diverged_at should be empty or an epoch from 1 to {epochs}; got {raw!r}")
    return raw
