"""The lesson's training loop, one epoch at a time, handing out plain records.

    trainer = Trainer(Config())
    while not trainer.done:
        record = trainer.step()          # EpochRecord: epoch, loss, gradient norms
    snapshot = trainer.snapshot()        # weights and gradients as numpy, for drawing

Pages, tests and benchmarks all train through this class; none of them touch tensors.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from core.boundary import BoundaryData, boundary_data
from core.config import Config, ModelConfig, test_rows
from core.data import make_data
from core.device import resolve_device, torch_threads, use_torch_threads
from core.history import History
from core.model import build_model
from core.runs import snapshot_count, snapshot_epochs
from core.snapshots import Snapshot, SnapshotStore, model_tensors

# A short run's epochs at most this long are not copied while it trains (Trainer.snapshots):
# 200 of them train again in under a second.
DEFERRED_EPOCH_SECONDS = 0.005

# torch.manual_seed sets one process-wide generator; sessions build runs in parallel threads.
SEED_LOCK = threading.Lock()


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based, as the lesson counts
    loss: float  # loss of this epoch's forward pass, before its update (mini-batches: see Trainer._mini_batches)
    learning_rate: float
    grad_norms: dict[str, float]  # "0.weight" -> L2 norm of its gradient this epoch (mini-batches: the last batch's)

    @property
    def finite(self) -> bool:
        return math.isfinite(self.loss) and all(math.isfinite(v) for v in self.grad_norms.values())


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


def unseeded_model(config: ModelConfig, in_features: int) -> torch.nn.Sequential:
    """The config's network with whatever weights the global generator gives now: for its shape and size.

    Under SEED_LOCK all the same: initialising draws from the global generator, and a draw between
    another session's manual_seed and its build_run would give that run other weights.
    """
    with SEED_LOCK:
        return build_model(config, in_features)


def split(x: torch.Tensor, y: torch.Tensor, test_fraction: float, seed: int) -> tuple[torch.Tensor, ...]:
    """(x_train, y_train, x_test, y_test): test_rows(n, test_fraction) rows picked by a permutation drawn
    from a generator of its own, so holding rows out leaves the global generator, and the weights, alone."""
    held_out = test_rows(len(x), test_fraction)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    test, train = order[:held_out], order[held_out:]
    return x[train], y[train], x[test], y[test]


def penalised(loss: torch.Tensor, parameters: list[torch.Tensor], l1: float, l2: float) -> torch.Tensor:
    """The loss plus the l1 and l2 penalties over every parameter, written as the generated script writes it."""
    if l1:
        loss = loss + l1 * sum(p.abs().sum() for p in parameters)
    if l2:
        loss = loss + l2 * sum(p.pow(2).sum() for p in parameters)
    return loss


def correct(y_pred: torch.Tensor, y: torch.Tensor) -> int:
    """Rows classified right: a logit above 0 (a probability above 0.5) says class 1."""
    return int(((y_pred > 0).float() == y).sum().item())


class Trainer:
    """The lesson's training of the config's network on the config's data: full batch, or mini-batches
    from a DataLoader; regression, or classification from logits; with an optional test split and penalty."""

    def __init__(self, config: Config, data: tuple[np.ndarray, np.ndarray] | None = None, replay: bool = True,
                 classification: bool | None = None, feature_names: tuple[str, ...] | None = None):
        """`replay`: keep snapshots of the weights and gradients for replay (core/runs.py); off where
        only the time of an epoch matters. `classification`: uploaded `data` whose y holds 0/1 labels
        (core.tabular.Dataset.as_classification); by default the config's data set says. `feature_names`:
        the uploaded data's columns, for the charts (None: x1, x2, ...)."""
        self.config = config
        self.uploaded_rows = data  # every uploaded row, before any split: to train the run again (replay, checkpoints)
        self.feature_names = feature_names
        self.device = resolve_device(config.training.device)
        self.threads = torch_threads()
        x, y, model = build_run(config, data)
        training = config.training
        self.x_test = self.y_test = None  # (n_test, features), (n_test, 1) with a test split
        if training.test_fraction > 0:
            x, y, x_test, y_test = split(x, y, training.test_fraction, training.seed)
            self.x_test, self.y_test = x_test.to(self.device), y_test.to(self.device)
        self.x, self.y, self.model = x.to(self.device), y.to(self.device), model.to(self.device)  # training rows
        self.classification = config.data.classification if classification is None else classification
        # Logits in, the sigmoid inside the loss: log(sigmoid(z)) computed as one stable expression.
        self.bce = torch.nn.BCEWithLogitsLoss(reduction=training.reduction) if self.classification else None
        # Reseeded every epoch (seed + epoch), so each epoch's order depends on the seed alone and a run
        # resumed from a checkpoint shuffles as one never interrupted.
        self.shuffle = torch.Generator()
        self.loader = (DataLoader(TensorDataset(self.x, self.y), batch_size=training.batch_size, shuffle=True,
                                  generator=self.shuffle) if training.batch_size else None)
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
        self._snapshots = SnapshotStore(self.model, ())
        self._deferred = False  # a fast run's snapshots are made when first asked for: see `snapshots`
        self._plan_snapshots()
        if replay:
            self._snapshots.capture(0, model_tensors(self.model))

    def _may_defer(self, first_epoch_seconds: float) -> bool:
        """Whether to make this run's snapshots later, by training it again: every epoch kept (a short
        run), each as fast as the first (usually the slowest), and epochs 1 to now never restored."""
        every_epoch = len(self.snapshot_plan) == self.config.training.epochs + 1
        return every_epoch and first_epoch_seconds < DEFERRED_EPOCH_SECONDS

    def _make_optimizer(self) -> torch.optim.Optimizer | None:
        params = list(self.parameters.values())
        kind = self.config.training.optimizer
        if kind == "sgd":
            return torch.optim.SGD(params, lr=self.learning_rate)
        if kind == "adam":
            return torch.optim.Adam(params, lr=self.learning_rate)
        return None  # "manual_sgd": the lesson's own update

    @property
    def uploaded(self) -> bool:
        """Trained on uploaded rows; else on the lesson's synthetic data, drawn from config.data."""
        return self.uploaded_rows is not None

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
        end the run where it is: its total is then the epochs it has, so it never reads fewer than done."""
        self.config = self.config.replace(epochs=max(epochs, self.epoch))
        self._plan_snapshots()

    def _plan_snapshots(self) -> None:
        """The epochs to snapshot for this run length; kept snapshots off the new plan are dropped, so
        the run stays within its budget."""
        for _ in self.training_again():  # the deferred ones first: the new plan may not keep every epoch
            pass
        count = snapshot_count(self.config.layer_sizes(self.x.shape[1]))
        self.snapshot_plan = frozenset(snapshot_epochs(self.config.training.epochs, count) if self.replay else ())
        self._snapshots = self._snapshots.replanned(self.snapshot_plan)

    @property
    def snapshots(self) -> SnapshotStore:
        """Epoch -> every nn.Linear's weights and gradients after that epoch, at the plan's epochs trained.

        A run that keeps every epoch and trains each in under DEFERRED_EPOCH_SECONDS copies nothing
        while it trains: its snapshots are made by training it again from its seed with the same
        learning-rate changes (`training_again`), which gives the same bits, the first time they are
        asked for. Copying every epoch of a short fast run cost more than training it again once.
        """
        for _ in self.training_again():
            pass
        return self._snapshots

    @property
    def snapshots_deferred(self) -> bool:
        """Whether reading `snapshots` trains the run again first (`training_again` steps it)."""
        return self._deferred

    def training_again(self) -> Iterator[int]:
        """Fill deferred snapshots by training the run again, one step per iteration (yields the epoch
        reached); nothing when none are deferred. None are kept if that run ends elsewhere."""
        if not self._deferred:
            return
        with self.lock:
            self._deferred = False
            again = Trainer(self.config, data=self.uploaded_rows, replay=False, classification=self.classification)
            changes = dict(self.lr_changes)
            snapshots = self._snapshots.replanned(self.snapshot_plan)  # epoch 0's
            target = self.epoch
        while again.epoch < target:
            if again.epoch + 1 in changes:
                again.set_learning_rate(changes[again.epoch + 1])
            again.step()
            if again.epoch in self.snapshot_plan:
                snapshots.capture(again.epoch, model_tensors(again.model))
            yield again.epoch
        with self.lock:
            same = self.epoch == target and all(
                torch.equal(mine, theirs) for mine, theirs in zip(self.model.parameters(), again.model.parameters()))
            if same:
                self._snapshots = snapshots

    def restore(
        self,
        state_dict: dict[str, torch.Tensor],
        optimizer_state: dict[int, dict[str, torch.Tensor]],
        learning_rate: float,
        history_rows: Iterable[tuple[float, float, list[float]]],
        lr_changes: Iterable[tuple[int, float]],
        diverged_at: int | None,
        metric_rows: Iterable[tuple[float, float, float]] | None = None,
    ) -> None:
        """Carry on from a saved run: its next step() is epoch len(history_rows) + 1.

        `history_rows` are (loss, lr, grad norms) per epoch; `metric_rows` (test loss, accuracy,
        test accuracy) per epoch, NaN where not kept (history.METRICS); `optimizer_state` is
        optimizer.state_dict()["state"], {} for the lesson's update. Call on a fresh Trainer of the
        saved config, which rebuilds the same data from the seed.
        """
        self.model.load_state_dict(state_dict)
        self.learning_rate = learning_rate
        if self.optimizer is not None:
            # Clones: the optimizer updates its state in place, and a save may be restored more than once.
            state = {i: {key: value.clone() for key, value in s.items()} for i, s in optimizer_state.items()}
            self.optimizer.load_state_dict(
                {"state": state, "param_groups": self.optimizer.state_dict()["param_groups"]})
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate
        rows = list(history_rows)
        metrics = list(metric_rows) if metric_rows is not None else [(math.nan,) * 3] * len(rows)
        for (loss, lr, norms), extra in zip(rows, metrics, strict=True):
            self.history.append(loss, lr, norms, *extra)
        self.lr_changes = list(lr_changes)
        self.diverged_at = diverged_at

    def loss_of(self, y_pred: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The lesson's squared error, or BCEWithLogitsLoss for classification; against the training rows by default."""
        y = self.y if y is None else y
        if self.bce is not None:
            return self.bce(y_pred, y)
        squared = (y_pred - y).pow(2)
        return squared.sum() if self.config.training.reduction == "sum" else squared.mean()

    def step(self) -> EpochRecord:
        """One epoch of the lesson's loop: forward, loss, zero_grad, backward, update."""
        with self.lock:
            use_torch_threads(self.threads)  # in whichever thread trains
            started = time.perf_counter()
            record = self._step()
            if self.epoch in self.snapshot_plan and not self._deferred:  # due epochs only: the rest cost a lookup
                if self.epoch == 1 and self._may_defer(time.perf_counter() - started):
                    self._deferred = True
                else:
                    self._snapshots.capture(self.epoch, model_tensors(self.model))
            self.seconds += time.perf_counter() - started
            return record

    def _step(self) -> EpochRecord:
        test_loss, test_accuracy = self._test_metrics()
        train = self._full_batch if self.loader is None else self._mini_batches
        loss, accuracy, norms = train()
        record = self._record(loss, norms, test_loss, accuracy, test_accuracy)
        if not record.finite:
            self.diverged_at = record.epoch  # the weights stay as before the blow-up, so every chart still draws
        return record

    def _full_batch(self) -> tuple[float, float, list[float]]:
        """The lesson's epoch: forward, loss, zero_grad, backward, update; (loss, accuracy, gradient norms)."""
        y_pred = self.model(self.x)
        loss = self.loss_of(y_pred)
        accuracy = correct(y_pred, self.y) / len(self.y) if self.classification else math.nan
        values = self._backward(loss)
        if _finite(values):
            self._update()
        return values[0], accuracy, values[1:]

    def _mini_batches(self) -> tuple[float, float, list[float]]:
        """One pass over the training rows in shuffled batches, an update after each.

        The epoch's loss is that of every row, each counted once as its batch met it: with the mean
        reduction the batch losses' mean weighted by batch size, with sum their sum. A batch whose loss
        or gradient is not finite ends the epoch before its update, with a NaN loss.
        """
        self.shuffle.manual_seed(self.config.training.seed + self.epoch + 1)
        mean = self.config.training.reduction == "mean"
        total, right = 0.0, 0
        for x, y in self.loader:
            y_pred = self.model(x)
            loss = self.loss_of(y_pred, y)
            if self.classification:
                right += correct(y_pred, y)
            values = self._backward(loss)
            if not _finite(values):
                return math.nan, math.nan, values[1:]
            total += values[0] * len(x) if mean else values[0]
            self._update()
        accuracy = right / len(self.y) if self.classification else math.nan
        return (total / len(self.y) if mean else total), accuracy, values[1:]

    def _backward(self, loss: torch.Tensor) -> list[float]:
        """Gradients of the loss plus any penalty; [loss without the penalty, each gradient's norm]."""
        params = list(self.parameters.values())
        training = self.config.training
        objective = penalised(loss, params, training.l1, training.l2)
        # model.zero_grad() (grads to None), without walking the module tree every epoch.
        for p in params:
            p.grad = None
        objective.backward()
        return _to_floats([loss.detach(), *torch._foreach_norm([p.grad for p in params])], self.device)

    def _update(self) -> None:
        params = list(self.parameters.values())
        if self.optimizer is None:
            with torch.no_grad():
                # The lesson's `p.sub_(lr * p.grad)` for every p, in two calls instead of two per
                # parameter: the same float ops, so the same bits, with a quarter of the dispatches.
                torch._foreach_sub_(params, torch._foreach_mul([p.grad for p in params], self.learning_rate))
        else:
            self.optimizer.step()

    def _test_metrics(self) -> tuple[float, float]:
        """(test loss, test accuracy) with the weights this epoch starts from; NaN without a test split."""
        if self.x_test is None:
            return math.nan, math.nan
        self.model.eval()  # no layer here acts differently in eval mode yet; the habit matters once one does
        with torch.no_grad():
            y_pred = self.model(self.x_test)
            loss = self.loss_of(y_pred, self.y_test).item()
            accuracy = correct(y_pred, self.y_test) / len(self.y_test) if self.classification else math.nan
        self.model.train()
        return loss, accuracy

    def _record(self, loss: float, norms: list[float], test_loss: float, accuracy: float,
                test_accuracy: float) -> EpochRecord:
        self.history.append(loss, self.learning_rate, norms, test_loss, accuracy, test_accuracy)
        return EpochRecord(
            epoch=self.epoch,
            loss=loss,
            learning_rate=self.learning_rate,
            grad_norms=dict(zip(self.parameters, norms)),
        )

    def snapshot(self) -> Snapshot:
        """Every nn.Linear's weight, bias and their gradients, copied."""
        return Snapshot(self.epoch,
                        [(name, [_copy(t) for t in tensors]) for name, tensors in model_tensors(self.model)])

    def plane(self, snapshot: Snapshot | None = None) -> BoundaryData | None:
        """The network over its input plane with the training and test points (core/boundary.py), with
        the current weights or a snapshot's; None unless the data is classification with two inputs."""
        if not self.classification or self.x.shape[1] != 2:
            return None
        model = self.model
        if snapshot is not None:
            # A copy (training may go on), not a new model: initialising one would draw from the global
            # generator, which another session's build_run may be drawing from under SEED_LOCK.
            model = copy.deepcopy(self.model)
            model.load_state_dict(snapshot.weights())
        return boundary_data(model, self.x, self.y, self.x_test, self.y_test)

    # ------------------------------------------------------ after training ---

    def predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """(y_true, y_pred), each of shape (n,)."""
        with torch.no_grad():
            y_pred = self.model(self.x)
        return _numpy(self.y).ravel(), _numpy(y_pred).ravel()

    def r_squared(self) -> float:
        """1 - residual / total variance on the training rows; NaN for classification, whose outputs are logits."""
        if self.classification:
            return float("nan")
        y_true, y_pred = self.predictions()
        residual = float(np.sum((y_true - y_pred) ** 2))
        total = float(np.sum((y_true - y_true.mean()) ** 2))
        return 1.0 - residual / total if total > 0 else float("nan")

    def input_sensitivities(self) -> np.ndarray:
        """mean over samples of d y_pred / d x_i, shape (features,); a linear target gives its coefficients."""
        x = self.x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.model(x).sum(), x)
        return _numpy(grad.mean(dim=0))


def _finite(values: list[float]) -> bool:
    return all(math.isfinite(v) for v in values)


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
    """Wall time of one epoch of this config on a device, averaged over `epochs` after a warm-up."""
    times = [seconds for seconds in epoch_seconds(config, device, epochs, warmup) if seconds is not None]
    return sum(times) / len(times)


def device_seconds(config: Config, devices: Iterable[str], epochs: int = 50,
                   warmup: int = 5) -> Generator[None, None, dict[str, float]]:
    """Seconds per epoch of this config on each device (as seconds_per_epoch), one epoch per iteration."""
    times = {}
    for device in devices:
        seconds = []
        for epoch_time in epoch_seconds(config, device, epochs, warmup):
            if epoch_time is not None:
                seconds.append(epoch_time)
            yield
        times[device] = sum(seconds) / len(seconds)
    return times


def epoch_seconds(config: Config, device: str, epochs: int = 50, warmup: int = 5) -> Iterator[float | None]:
    """Train `warmup` then `epochs` epochs of this config on a device, one per iteration: None for a
    warm-up epoch (first calls allocate, pick kernels and fill caches), then each epoch's wall time.

    CUDA runs asynchronously, so each clock stops only after torch.cuda.synchronize(); a caller may
    pause between epochs without the pause being counted.
    """
    trainer = Trainer(config.replace(device=device, epochs=warmup + epochs), replay=False)  # copies would sync a GPU
    for epoch in range(warmup + epochs):
        _synchronize(trainer.device)
        started = time.perf_counter()
        trainer.step()
        _synchronize(trainer.device)
        yield None if epoch < warmup else time.perf_counter() - started


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
