"""The lesson's training loop, one epoch at a time, handing out plain records.

    trainer = Trainer(Config())
    while not trainer.done:
        record = trainer.step()          # EpochRecord: epoch, loss, gradient norms
    snapshot = trainer.snapshot()        # weights and gradients as numpy, for drawing

Pages, tests and benchmarks all train through this class; none of them touch tensors.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from core.config import Config
from core.data import make_data
from core.history import History
from core.device import resolve_device, torch_threads, use_torch_threads
from core.model import build_model, linear_layers
from core.runs import snapshot_count, snapshot_epochs

# torch.manual_seed sets one process-wide generator; sessions build runs in parallel threads.
SEED_LOCK = threading.Lock()


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based, as the lesson counts
    loss: float  # loss of this epoch's forward pass, before its update
    learning_rate: float
    grad_norms: dict[str, float]  # "0.weight" -> L2 norm of its gradient this epoch

    @property
    def finite(self) -> bool:
        return math.isfinite(self.loss) and all(math.isfinite(v) for v in self.grad_norms.values())


@dataclass(frozen=True)
class LayerState:
    name: str  # index of the nn.Linear in the Sequential: "0", "2", ...
    weight: np.ndarray  # (out_features, in_features)
    bias: np.ndarray  # (out_features,)
    weight_grad: np.ndarray | None  # same shapes; None before the first backward()
    bias_grad: np.ndarray | None


class Snapshot:
    """Every nn.Linear's weight, bias and gradients at one epoch.

    Taken as tensor clones, the cheapest copy (replay takes one every epoch of a short run: numpy
    copies cost 1.7x the clones), and turned into numpy (views of the clones on the CPU) when first drawn.
    """

    def __init__(self, epoch: int, layers: list[tuple[str, list[torch.Tensor | None]]]):
        self.epoch = epoch
        self._tensors = layers  # (name, [weight, bias, weight.grad, bias.grad]) per Linear

    @functools.cached_property
    def layers(self) -> list[LayerState]:
        return [LayerState(name, *(None if t is None else t.cpu().numpy() for t in tensors))
                for name, tensors in self._tensors]


def build_run(
    config: Config, data: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.nn.Sequential]:
    """Data then model, seeded in the lesson's order, on the CPU.

    `data` is uploaded (x, y) of shapes (n, features) and (n, 1); without it the lesson's
    synthetic data is drawn from the config.
    """
    with SEED_LOCK:
        torch.manual_seed(config.training.seed)
        if data is None:
            x, y = make_data(config.data)
        else:
            x, y = (torch.tensor(a, dtype=torch.float32) for a in data)  # copies: the upload stays as it was
        model = build_model(config.model, x.shape[1])
    return x, y, model


class Trainer:
    """Full-batch training of the config's network on the config's data."""

    def __init__(self, config: Config, data: tuple[np.ndarray, np.ndarray] | None = None, replay: bool = True):
        """`replay`: keep snapshots of the weights and gradients for replay (core/runs.py); off where
        only the time of an epoch matters."""
        self.config = config
        self.uploaded = data is not None  # else the lesson's synthetic data, drawn from config.data
        self.device = resolve_device(config.training.device)
        self.threads = torch_threads()
        x, y, model = build_run(config, data)
        self.x, self.y, self.model = x.to(self.device), y.to(self.device), model.to(self.device)
        self.parameters = dict(self.model.named_parameters())
        self.learning_rate = config.training.learning_rate
        self.optimizer = self._make_optimizer()
        self.history = History(list(self.parameters))
        self.lr_changes: list[tuple[int, float]] = []  # (first epoch at the new lr, lr)
        self.diverged_at: int | None = None  # epoch whose loss or gradient was NaN/inf
        # Held during each step: a download served by another thread copies a consistent epoch.
        self.lock = threading.Lock()
        self.seconds = 0.0  # spent in step(), for the runs table
        # Replay: epoch -> every nn.Linear's weights and gradients after that epoch (core/runs.py).
        self.replay = replay
        self.snapshots: dict[int, Snapshot] = {0: self.snapshot()} if replay else {}
        self._plan_snapshots()

    def _make_optimizer(self) -> torch.optim.Optimizer | None:
        params = list(self.parameters.values())
        kind = self.config.training.optimizer
        if kind == "sgd":
            return torch.optim.SGD(params, lr=self.learning_rate)
        if kind == "adam":
            return torch.optim.Adam(params, lr=self.learning_rate)
        return None  # "manual_sgd": the lesson's own update

    @property
    def epoch(self) -> int:
        return len(self.history)

    @property
    def done(self) -> bool:
        return self.diverged_at is not None or self.epoch >= self.config.training.epochs

    def set_learning_rate(self, learning_rate: float) -> None:
        """Change lr mid-run; the change is recorded so charts can mark it."""
        if learning_rate == self.learning_rate:
            return
        self.learning_rate = learning_rate
        self.lr_changes.append((self.epoch + 1, learning_rate))
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate

    def set_epochs(self, epochs: int) -> None:
        """Train longer (or stop earlier) without starting over. Fewer epochs than already trained
        end the run where it is: its total is then the epochs it has, never fewer ("75079 / 10")."""
        self.config = self.config.replace(epochs=max(epochs, self.epoch))
        self._plan_snapshots()

    def _plan_snapshots(self) -> None:
        """The epochs to snapshot for this run length; kept snapshots off the new plan are dropped, so
        the run stays within its budget."""
        count = snapshot_count(self.config.layer_sizes(self.x.shape[1]))
        self.snapshot_plan = frozenset(snapshot_epochs(self.config.training.epochs, count) if self.replay else ())
        self.snapshots = {epoch: s for epoch, s in self.snapshots.items() if epoch in self.snapshot_plan}

    def restore(
        self,
        state_dict: dict[str, torch.Tensor],
        optimizer_state: dict[int, dict[str, torch.Tensor]],
        learning_rate: float,
        history_rows: Iterable[tuple[float, float, list[float]]],
        lr_changes: Iterable[tuple[int, float]],
        diverged_at: int | None,
    ) -> None:
        """Carry on from a saved run: its next step() is epoch len(history_rows) + 1.

        `history_rows` are (loss, lr, grad norms) per epoch; `optimizer_state` is
        optimizer.state_dict()["state"], {} for the lesson's update. Call on a fresh Trainer of the
        saved config, which rebuilds the same data from the seed.
        """
        self.model.load_state_dict(state_dict)
        self.learning_rate = learning_rate
        if self.optimizer is not None:
            # Clones: the optimizer updates its state in place, and a save may be restored more than once.
            state = {i: {key: value.clone() for key, value in s.items()} for i, s in optimizer_state.items()}
            self.optimizer.load_state_dict({"state": state, "param_groups": self.optimizer.state_dict()["param_groups"]})
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate
        for loss, lr, norms in history_rows:
            self.history.append(loss, lr, norms)
        self.lr_changes = list(lr_changes)
        self.diverged_at = diverged_at

    def loss_of(self, y_pred: torch.Tensor) -> torch.Tensor:
        squared = (y_pred - self.y).pow(2)
        return squared.sum() if self.config.training.reduction == "sum" else squared.mean()

    def step(self) -> EpochRecord:
        """One epoch of the lesson's loop: forward, loss, zero_grad, backward, update."""
        with self.lock:
            use_torch_threads(self.threads)  # in whichever thread trains
            started = time.perf_counter()
            record = self._step()
            if self.epoch in self.snapshot_plan:  # a copy only at due epochs: the rest cost a set lookup
                self.snapshots[self.epoch] = self.snapshot()
            self.seconds += time.perf_counter() - started
            return record

    def _step(self) -> EpochRecord:
        y_pred = self.model(self.x)
        loss = self.loss_of(y_pred)
        params = list(self.parameters.values())
        # model.zero_grad() (grads to None), without walking the module tree every epoch.
        for p in params:
            p.grad = None
        loss.backward()
        grads = [p.grad for p in params]
        record = self._record(loss, grads)
        if not record.finite:
            # Leave the weights as they were before the blow-up, so every chart still draws.
            self.diverged_at = record.epoch
        elif self.optimizer is None:
            with torch.no_grad():
                # The lesson's `p.sub_(lr * p.grad)` for every p, in two calls instead of two per
                # parameter: the same float ops, so the same bits, with a quarter of the dispatches.
                torch._foreach_sub_(params, torch._foreach_mul(grads, self.learning_rate))
        else:
            self.optimizer.step()
        return record

    def _record(self, loss: torch.Tensor, grads: list[torch.Tensor]) -> EpochRecord:
        values = _to_floats([loss.detach(), *torch._foreach_norm(grads)], self.device)
        self.history.append(values[0], self.learning_rate, values[1:])
        return EpochRecord(
            epoch=self.epoch,
            loss=values[0],
            learning_rate=self.learning_rate,
            grad_norms=dict(zip(self.parameters, values[1:])),
        )

    def snapshot(self) -> Snapshot:
        """Every nn.Linear's weight, bias and their gradients, copied."""
        return Snapshot(self.epoch, [(name, [_copy(t) for t in (layer.weight, layer.bias, layer.weight.grad,
                                                                 layer.bias.grad)])
                                     for name, layer in linear_layers(self.model)])

    # ------------------------------------------------------ after training ---

    def predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """(y_true, y_pred), each of shape (n,)."""
        with torch.no_grad():
            y_pred = self.model(self.x)
        return _numpy(self.y).ravel(), _numpy(y_pred).ravel()

    def r_squared(self) -> float:
        y_true, y_pred = self.predictions()
        residual = float(np.sum((y_true - y_pred) ** 2))
        total = float(np.sum((y_true - y_true.mean()) ** 2))
        return 1.0 - residual / total if total > 0 else float("nan")

    def input_sensitivities(self) -> np.ndarray:
        """mean over samples of d y_pred / d x_i, shape (features,); a linear target gives its coefficients."""
        x = self.x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.model(x).sum(), x)
        return _numpy(grad.mean(dim=0))


def _to_floats(scalars: list[torch.Tensor], device: torch.device) -> list[float]:
    """0-d tensors to Python floats: one copy from a GPU (each sync costs ~10 us there);
    on the CPU .item() each is cheaper than stacking them first."""
    if device.type == "cpu":
        return [t.item() for t in scalars]
    return torch.stack(scalars).tolist()


def _numpy(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().cpu().numpy().copy()


def _copy(tensor: torch.Tensor | None) -> torch.Tensor | None:
    return None if tensor is None else tensor.detach().clone()


def seconds_per_epoch(config: Config, device: str, epochs: int = 50, warmup: int = 5) -> float:
    """Wall time of one epoch of this config on a device, averaged over `epochs` after a warm-up.

    CUDA runs asynchronously, so the clock stops only after torch.cuda.synchronize().
    """
    trainer = Trainer(config.replace(device=device, epochs=warmup + epochs), replay=False)  # copies would sync a GPU
    for _ in range(warmup):  # first calls allocate, pick kernels and fill caches
        trainer.step()
    _synchronize(trainer.device)
    started = time.perf_counter()
    for _ in range(epochs):
        trainer.step()
    _synchronize(trainer.device)
    return (time.perf_counter() - started) / epochs


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
