"""Bytes of chart data in one live frame: every figure the Train page's live view draws
(pages/ui/train/live_view.py live_figures), as the JSON that st.plotly_chart sends
(plotly.io.to_json(fig, validate=False))."""

from __future__ import annotations

import numpy as np
import plotly.io as pio

from core.config import Config
from core.trainer import Trainer
from pages.ui.train.live_view import live_figures


def frame_bytes(config: Config, trained_epochs: int | None = None) -> int:
    """JSON bytes of one frame at the run's last epoch.

    The first `trained_epochs` epochs are trained for real (weights and gradients as they would
    be); the rest of the history is filled with noisy values, so that curves are as long and as
    hard to decimate as a real run's end without training it.
    """
    trainer = Trainer(config)
    for _ in range(min(trained_epochs or config.training.epochs, config.training.epochs)):
        trainer.step()
    rng = np.random.default_rng(0)
    names = trainer.history.parameter_names
    while trainer.epoch < config.training.epochs:
        trainer.history.append(float(rng.lognormal(3)), trainer.learning_rate, rng.lognormal(size=len(names)).tolist())
    return sum(len(pio.to_json(figure, validate=False)) for figure in live_figures(trainer).values())
