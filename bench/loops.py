"""The lesson's loop timed two ways, each in a fresh Python process: written plainly in torch
(no app code), and through core.trainer.Trainer with its per-epoch recording (no UI).

    python bench/loops.py bare '{"epochs": 5000, "hidden_sizes": [32], "n_samples": 100, "learning_rate": 1e-4}'
    python bench/loops.py trainer '{...}' /path/to/app      # prints the seconds the run took
    python bench/loops.py trainer_no_snapshots '{...}' /path/to/app   # the same without replay's copies

Run as a script, not with -m, so that the bare loop's process imports nothing but torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SEED = 7  # the app's default seed
COEFFICIENTS = (0.2, -1.3, -0.5)  # the lesson's target


@dataclass(frozen=True)
class Run:
    """One network and run length, as the Train page's URL gives it."""

    label: str
    hidden_sizes: tuple[int, ...]
    n_samples: int
    epochs: int
    learning_rate: float = 1e-4  # the lesson's

    def query(self, live: bool) -> str:
        sizes = ",".join(map(str, self.hidden_sizes))
        return (f"epochs={self.epochs}&hidden_sizes={sizes}&n_samples={self.n_samples}"
                f"&learning_rate={self.learning_rate:g}&seed={SEED}&live={str(live).lower()}")


def bare(run: Run) -> float:
    """Seconds for data, model and every epoch of the lesson's loop, written plainly."""
    import torch
    from torch import nn

    started = time.perf_counter()
    torch.manual_seed(SEED)
    x = torch.randn(run.n_samples, 3)
    y = (x @ torch.tensor(COEFFICIENTS)).unsqueeze(1) + torch.randn(run.n_samples, 1)
    sizes = [3, *run.hidden_sizes]
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))
    for epoch in range(run.epochs):
        y_pred = model(x)
        loss = (y_pred - y).pow(2).sum()
        if epoch % 10 == 9:
            loss.item()  # the lesson prints the loss every 10 epochs
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.sub_(run.learning_rate * p.grad)
    return time.perf_counter() - started


def trainer(run: Run, snapshots: bool = True) -> float:
    """Seconds for the same run through Trainer, which records every epoch and, with `snapshots`,
    copies the weights and gradients at the epochs replay keeps (core/runs.py)."""
    from core.config import Config
    from core.trainer import Trainer

    config = Config().replace(hidden_sizes=run.hidden_sizes, n_samples=run.n_samples, epochs=run.epochs,
                              learning_rate=run.learning_rate, seed=SEED)
    started = time.perf_counter()
    trainer = Trainer(config, replay=snapshots)
    while not trainer.done:
        trainer.step()
    if trainer.diverged_at is not None:
        raise RuntimeError(f"{run.label} diverged at epoch {trainer.diverged_at}")
    return time.perf_counter() - started


def time_in_process(kind: str, run: Run, app_dir: Path, env: dict[str, str] | None = None) -> float:
    """One timing of `kind` ("bare", "trainer" or "trainer_no_snapshots") in a new Python process."""
    spec = json.dumps({**asdict(run), "hidden_sizes": list(run.hidden_sizes)})
    done = subprocess.run([sys.executable, __file__, kind, spec, str(app_dir)],
                          capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"{kind} loop failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


if __name__ == "__main__":
    kind, spec, app_dir = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    run = Run(**{**spec, "hidden_sizes": tuple(spec["hidden_sizes"])})
    if kind.startswith("trainer"):
        sys.path.insert(0, app_dir)
    kinds = {"bare": bare, "trainer": trainer, "trainer_no_snapshots": lambda run: trainer(run, snapshots=False)}
    print(kinds[kind](run))
