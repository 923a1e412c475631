"""Building the nn.Sequential that the Train page trains."""

from __future__ import annotations

from torch import nn

from core.config import ACTIVATIONS, ModelConfig

assert all(hasattr(nn, name) for name in ACTIVATIONS)


def build_model(config: ModelConfig, in_features: int) -> nn.Sequential:
    """Linear -> activation for each hidden size, then Linear(last, 1), as in the lesson.

    With hidden_sizes=(32,) and ReLU this is nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1)).
    """
    sizes = [in_features, *config.hidden_sizes]
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), getattr(nn, config.activation)()]
    layers.append(nn.Linear(sizes[-1], 1))
    return nn.Sequential(*layers)


def linear_layers(model: nn.Sequential) -> list[tuple[str, nn.Linear]]:
    """(index in the Sequential, layer) for every nn.Linear: ("0", ...), ("2", ...)."""
    return [(name, module) for name, module in model.named_children() if isinstance(module, nn.Linear)]
