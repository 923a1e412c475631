"""A run's config as JSON and its metrics as CSV: the Train page's downloads besides the checkpoint."""

from __future__ import annotations

import json

import numpy as np

from core.config import Config
from core.trainer import Trainer


def plain_values(config: Config) -> dict[str, object]:
    """config.values() with tuples as lists: str, int and float only, for JSON and weights_only."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in config.values().items()}


def config_json(config: Config) -> str:
    """The flat config as readable JSON; parse_config(json.loads(text)) gives the config back."""
    return json.dumps(plain_values(config), indent=2)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


def spreadsheet_safe(cell: object) -> object:
    """A text cell that a spreadsheet would run as a formula, with a ' in front (OWASP's rule for CSV
    injection); numbers, and text that is just a number, stay as they are."""
    if not isinstance(cell, str) or not cell.startswith(FORMULA_STARTS) or _is_number(cell):
        return cell
    return "'" + cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text


def safe_csv(frame) -> str:
    """A pandas DataFrame as CSV text, every text cell and header spreadsheet_safe."""
    safe = frame.rename(columns=spreadsheet_safe)
    for column in safe.select_dtypes(exclude="number").columns:
        safe[column] = safe[column].map(spreadsheet_safe)
    return safe.to_csv(index=False, lineterminator="\n")


def metrics_csv(trainer: Trainer) -> str:
    """One row per epoch: epoch, loss, learning_rate, then test_loss, accuracy and test_accuracy where the run
    has them (a test split, classification), then grad_norm_<parameter name> per parameter."""
    import pandas as pd  # here, not at the top: ~0.3 s of every cold start (see core/tabular.py)

    history = trainer.history
    with trainer.lock:  # the columns grow while a run trains
        columns = {"epoch": history.epochs, "loss": history.losses.copy(),
                   "learning_rate": history.learning_rates.copy()}
        columns |= {name: column.copy() for name, column in history.metrics.items() if not np.isnan(column).all()}
        columns |= {f"grad_norm_{name}": norms.copy() for name, norms in history.grad_norms.items()}
    return safe_csv(pd.DataFrame(columns))
