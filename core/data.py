"""The lesson's synthetic regression data, and TensorFlow Playground's four classification sets.

The classification sets put n points on the plane, (n, 2), about within [-1, 1] on each axis, with
labels 0.0 or 1.0 of shape (n, 1): the first n - n // 2 rows are class 1, the rest class 0. Each draws
from torch's generator in a fixed order, so core.codegen's script, written with the same calls in the
same order, draws the same points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from core.config import DataConfig


def weighted_sum(x: torch.Tensor, coefficients: Sequence[float]) -> torch.Tensor:
    """c_1*x_1 + c_2*x_2 + ..., added left to right as the lesson writes 0.2*x1 - 1.3*x2 - 0.5*x3.

    x: (n, features) -> (n,). Not `x @ coefficients`: a matmul's rounding depends on the CPU
    (MKL sums in a different order with AVX-512 than with AVX2), while one float32 multiply or add
    rounds the same everywhere. Adding c*x for a negative c gives the bits of subtracting |c|*x, as
    the generated scripts write it: IEEE rounding is symmetric in sign.
    """
    total = coefficients[0] * x[:, 0]
    for i, c in enumerate(coefficients[1:], start=1):
        total = total + c * x[:, i]
    return total


def make_data(config: DataConfig, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The config's data set: the lesson's regression, or a classification set (CLASSIFICATION_SETS)."""
    if config.classification:
        return CLASSIFICATION_SETS[config.dataset](config.n_samples, config.noise_std, generator)
    return lesson_data(config, generator)


def lesson_data(config: DataConfig, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, 1) of shape (n, features); y = sum_i c_i * x_i + N(0, noise_std^2), shape (n, 1).

    Drawn on the CPU in the lesson's order (x first, then the noise), so a run seeded the
    same way matches the lesson's script whatever device trains on it.
    """
    x = torch.randn(config.n_samples, config.n_features, generator=generator)
    noise = torch.randn(config.n_samples, 1, generator=generator) * config.noise_std
    y = weighted_sum(x, config.coefficients).unsqueeze(1) + noise
    return x, y


# noise_std times this is the std of the N(0, std^2) noise added to each coordinate: at the default
# noise_std=1, a tenth of the sets' unit scale, so the classes touch but stay apart.
POSITION_NOISE = 0.1
# gauss: each blob's std is GAUSS_SPREAD + GAUSS_NOISE * noise_std; at noise_std=1 the blobs around
# (0.6, 0.6) and (-0.6, -0.6) overlap a little, so a straight line gets nearly all right.
GAUSS_SPREAD, GAUSS_NOISE = 0.15, 0.3
XOR_PADDING = 0.05  # points are pushed this far off the axes, where the label flips
SPIRAL_TURNS = 1.75  # each arm winds this many turns from the centre out to radius 1


def classes(n: int) -> torch.Tensor:
    """Labels (n, 1): n - n // 2 ones, then n // 2 zeros."""
    return torch.cat([torch.ones(n - n // 2), torch.zeros(n // 2)]).unsqueeze(1)


def circle(n: int, noise_std: float, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 1 inside radius 0.5, class 0 on a ring from radius 0.7 to 1, at uniform angles."""
    n1, n0 = n - n // 2, n // 2
    radius = torch.cat([torch.rand(n1, generator=generator) * 0.5, 0.7 + torch.rand(n0, generator=generator) * 0.3])
    angle = torch.rand(n, generator=generator) * (2 * math.pi)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    x = x + torch.randn(n, 2, generator=generator) * (POSITION_NOISE * noise_std)
    return x, classes(n)


def xor(n: int, noise_std: float, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform on the square [-1, 1]^2, off the axes; class 1 where x1 * x2 > 0 (two opposite quadrants)."""
    x = torch.rand(n, 2, generator=generator) * 2 - 1
    x = x + torch.sign(x) * XOR_PADDING
    y = (x[:, 0] * x[:, 1] > 0).float().unsqueeze(1)
    x = x + torch.randn(n, 2, generator=generator) * (POSITION_NOISE * noise_std)
    return x, y


def gauss(n: int, noise_std: float, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two round blobs: class 1 around (0.6, 0.6), class 0 around (-0.6, -0.6)."""
    y = classes(n)
    centre = y * 1.2 - 0.6  # (n, 1): the same on both axes
    x = centre + torch.randn(n, 2, generator=generator) * (GAUSS_SPREAD + GAUSS_NOISE * noise_std)
    return x, y


def spiral(n: int, noise_std: float, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved arms, class 1 and class 0 half a turn apart, from the centre out to radius 1."""
    n1, n0 = n - n // 2, n // 2
    x = torch.cat([spiral_arm(n1, 0.0), spiral_arm(n0, math.pi)])
    x = x + torch.randn(n, 2, generator=generator) * (POSITION_NOISE * noise_std)
    return x, classes(n)


def spiral_arm(m: int, turn: float) -> torch.Tensor:
    """m points (m, 2) along one arm, evenly spaced in radius from 0, rotated by `turn` radians."""
    radius = torch.arange(m) / m
    angle = radius * (SPIRAL_TURNS * 2 * math.pi) + turn
    return torch.stack([radius * torch.sin(angle), radius * torch.cos(angle)], dim=1)


Maker = Callable[[int, float, "torch.Generator | None"], tuple[torch.Tensor, torch.Tensor]]
CLASSIFICATION_SETS: dict[str, Maker] = {"circle": circle, "xor": xor, "gauss": gauss, "spiral": spiral}
