"""Replay snapshots: the memory one run keeps, measured on the Trainer's own copies.

    python -m bench --only replay
"""

from __future__ import annotations

from core.config import Config
from core.runs import SNAPSHOT_BUDGET_BYTES
from core.trainer import Trainer


def snapshot_memory(config: Config, epochs: int | None = None) -> tuple[int, int]:
    """(snapshots kept, their bytes) after training `config` for `epochs` (all of its epochs by default)."""
    trainer = Trainer(config)
    for _ in range(config.training.epochs if epochs is None else epochs):
        trainer.step()
    arrays = [a for snapshot in trainer.snapshots.values() for layer in snapshot.layers
              for a in (layer.weight, layer.bias, layer.weight_grad, layer.bias_grad) if a is not None]
    return len(trainer.snapshots), sum(a.nbytes for a in arrays)


def budget_mb() -> float:
    return SNAPSHOT_BUDGET_BYTES / 2**20
