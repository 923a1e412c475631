"""The One epoch page's URL: the Train page's config fields (same names), then `epoch` and `phase`.

    /epoch?hidden_sizes=32&learning_rate=0.0001&seed=7&...&epoch=12&phase=backward

The Train page links here when paused (`inspect_epoch_link`); the One epoch page reads it back
with `read_request`, which names every bad field as the Train page does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import streamlit as st

from core.config import FIELDS, Config, ConfigError, Limits, parse_config, parse_fields, shown, whole_number
from core.device import cuda_unavailable_reason
from core.epoch import PHASES, unwalked_options

if TYPE_CHECKING:
    from core.trainer import Trainer

URL_PATH = "epoch"  # app.py's url_path for pages/epoch.py


@dataclass(frozen=True)
class Request:
    """What the URL asks the One epoch page to show."""

    config: Config | None  # None when a field is bad
    epoch: int = 0  # weights after this many epochs; 0 = as nn.Linear initialised them
    phase: str = PHASES[0]
    errors: dict[str, str] = field(default_factory=dict)  # field -> message, as the Train page words them


def epoch_query(config: Config, epoch: int, phase: str = PHASES[0]) -> dict[str, str]:
    return {**config.to_query_params(), "epoch": str(epoch), "phase": phase}


def epoch_url(config: Config, epoch: int, phase: str = PHASES[0]) -> str:
    """The One epoch page's address relative to another page's ('epoch?...'), so a base path is kept."""
    return f"{URL_PATH}?{urlencode(epoch_query(config, epoch, phase))}"


def inspect_epoch_link(trainer: Trainer) -> None:
    """On the Train page, paused: a link that opens this run's network at its current epoch, phase by phase.

    A Markdown link, which Streamlit opens in a new tab: the paused run stays in this one.
    """
    if trainer.uploaded:
        st.caption("An uploaded CSV cannot travel in a link, so the One epoch page cannot replay this run.")
        return
    if unwalked_options(trainer.config):
        st.caption("The One epoch page walks the lesson's loop (full batch, squared error, no penalty), "
                   "so it cannot replay this run.")
        return
    st.markdown(f"[Inspect this epoch]({epoch_url(trainer.config, trainer.epoch)}): epoch {trainer.epoch} → "
                f"{trainer.epoch + 1} of this run, phase by phase (forward, loss, the autograd graph, zero_grad, "
                "backward, update).")
    if trainer.lr_changes:
        st.caption(f"The learning rate changed mid-run; the link replays the run at "
                   f"{trainer.config.training.learning_rate:g} throughout, so its weights differ from these.")


def read_request(params: Mapping[str, str], fallback: Mapping[str, object], limits: Limits) -> Request:
    """The config from the URL's fields (or, when it has none, `fallback`: the Train page's widgets),
    then `epoch` (0 to epochs - 1) and `phase`."""
    source = params if any(name in params for name in FIELDS) else fallback
    values, errors = parse_fields(source, limits)
    config = None
    if not errors:
        try:
            config = parse_config(values, limits)
        except ConfigError as error:  # over a cap on the whole network
            errors.update(error.errors)
    if config is not None and (unwalked := unwalked_options(config)):
        errors.update(unwalked)
        config = None
    if config is not None and config.training.device == "cuda" and (reason := cuda_unavailable_reason()):
        errors["device"] = f"'cuda' is not usable here ({reason})"
        config = None
    epochs = config.training.epochs if config is not None else limits.max_epochs
    epoch = _epoch(params.get("epoch", "0"), epochs, errors)
    phase = params.get("phase", PHASES[0])
    if phase not in PHASES:
        errors["phase"] = f"{shown(phase)} is not one of {', '.join(PHASES)}"
        phase = PHASES[0]
    return Request(None if errors else config, epoch, phase, errors)


def _epoch(raw: str, epochs: int, errors: dict[str, str]) -> int:
    """The epoch to start from: 0 to epochs - 1, since the walk goes one epoch on and the run has `epochs`."""
    try:
        return whole_number(0, epochs - 1)(raw)
    except ValueError as error:
        errors["epoch"] = f"{error} (the run has {epochs} epochs)"
        return 0
