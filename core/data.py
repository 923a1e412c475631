"""The lesson's synthetic regression data."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from core.config import DataConfig


def weighted_sum(x: torch.Tensor, coefficients: Sequence[float]) -> torch.Tensor:
    """c_1*x_1 + c_2*x_2 + ..., added left to right as the lesson writes 0.2*x1 - 1.3*x2 - 0.5*x3.

    x: (n, features) -> (n,). Not `x @ coefficients`: a matmul's rounding depends on the CPU
    (MKL sums in a different order with AVX-512 than with AVX2; on an AVX-512 Xeon 73 of the
    default run's 200 losses moved, by up to 1.5e-05), while one float32 multiply or add rounds
    the same everywhere. Adding c*x for a negative c gives the bits of subtracting |c|*x, as the
    generated scripts write it: IEEE rounding is symmetric in sign.
    """
    total = coefficients[0] * x[:, 0]
    for i, c in enumerate(coefficients[1:], start=1):
        total = total + c * x[:, i]
    return total


def make_data(config: DataConfig, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, 1) of shape (n, features); y = sum_i c_i * x_i + N(0, noise_std^2), shape (n, 1).

    Drawn on the CPU in the lesson's order (x first, then the noise), so a run seeded the
    same way matches the lesson's script whatever device trains on it.
    """
    x = torch.randn(config.n_samples, config.n_features, generator=generator)
    noise = torch.randn(config.n_samples, 1, generator=generator) * config.noise_std
    y = weighted_sum(x, config.coefficients).unsqueeze(1) + noise
    return x, y
