"""The lesson's synthetic regression data."""

from __future__ import annotations

import torch

from core.config import DataConfig


def make_data(config: DataConfig, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, 1) of shape (n, features); y = x @ coefficients + N(0, noise_std^2), shape (n, 1).

    Drawn on the CPU in the lesson's order (x first, then the noise), so a run seeded the
    same way matches the lesson's script whatever device trains on it.
    """
    x = torch.randn(config.n_samples, config.n_features, generator=generator)
    coefficients = torch.tensor(config.coefficients, dtype=x.dtype)
    noise = torch.randn(config.n_samples, 1, generator=generator) * config.noise_std
    y = (x @ coefficients).unsqueeze(1) + noise
    return x, y
