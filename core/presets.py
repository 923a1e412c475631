"""Runs worth a link: each shows one idea of the Playground's options (overfitting, why xor needs a hidden
layer, a spiral)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Config


@dataclass(frozen=True)
class Preset:
    name: str  # the link's text
    shows: str  # what to watch, one sentence
    changes: dict[str, object]  # config fields changed from the defaults

    @property
    def config(self) -> Config:
        return Config().replace(**self.changes)


_XOR = dict(dataset="xor", n_samples=200, noise_std=0.0, activation="Tanh", optimizer="adam", learning_rate=0.03,
            reduction="mean", epochs=300, test_fraction=0.3)

PRESETS = (
    Preset("overfit", "30 of the lesson's rows, half held out, a 64-64 network: the training loss keeps falling "
                      "while the test loss turns up.",
           dict(n_samples=30, test_fraction=0.5, hidden_sizes=(64, 64), optimizer="adam", learning_rate=0.003,
                reduction="mean", epochs=300)),
    Preset("xor needs a hidden layer", "With no hidden layer the boundary is a straight line: about half right, "
                                       "whatever the training. Add one layer of 4 units (next link) and it solves it.",
           dict(_XOR, hidden_sizes=())),
    Preset("xor, one hidden layer of 4", "Four Tanh units bend the boundary around the quadrants.",
           dict(_XOR, hidden_sizes=(4,))),
    Preset("spiral", "Two interleaved arms: a deeper Tanh network, 16-16-16, with Adam.",
           dict(dataset="spiral", n_samples=300, noise_std=0.0, hidden_sizes=(16, 16, 16), activation="Tanh",
                optimizer="adam", learning_rate=0.01, reduction="mean", epochs=500, test_fraction=0.2)),
)
