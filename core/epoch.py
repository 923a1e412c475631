"""One epoch of the Train page's run, phase by phase, seen through hooks on the real model.

    walker = EpochWalker(config)
    walk = walker.walk(5)     # the weights the Train page shows at epoch 5, through one more pass
    walk.forward[0].output    # (n_samples, 32): what model[0] gave, recorded by a forward hook

The run is core.trainer.Trainer's own (same seed, data, model, loss and optimizer), stepped with
Trainer.step up to the epoch asked for, so the weights equal the Train page's. The pass after it is
walked on that model with forward hooks, the loss's grad_fn graph, hooks on the graph's nodes and
on the parameters during backward(); the update is Trainer.step itself. Results are plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.config import Config
from core.device import use_torch_threads
from core.trainer import Trainer

PHASES = ("forward", "loss", "graph", "zero_grad", "backward", "update")
MAX_GRAPH_NODES = 200  # far more than 4 hidden layers make (~30); a guard, not a limit in practice
KEPT_WALKS = 2  # the current epoch's walk and the one before, so Back over an epoch costs nothing
# Rows of each module's output kept for drawing: a heatmap shows at most 32 row blocks, and 10,000
# samples x 512 units x 8 modules would keep 160 MB per walk in the session; this keeps at most 17 MB.
MAX_KEPT_SAMPLES = 1024


@dataclass(frozen=True)
class ModuleOutput:
    """What one module of the Sequential gave in the forward pass, as its forward hook saw it."""

    name: str  # index in the Sequential: "0", "1", ...
    module: str  # print(module): 'Linear(in_features=3, out_features=32, bias=True)', 'ReLU()'
    kind: str  # 'Linear', 'ReLU', ...
    output: np.ndarray  # (samples kept, units): the first MAX_KEPT_SAMPLES rows
    samples: int  # rows of the whole output, n_samples
    shape: str  # as torch prints it: 'torch.Size([100, 32])'
    printed: str  # print(output), summarised by torch for large tensors
    dead_units: list[int]  # an activation's units that output exactly 0 for every sample: dead ReLUs


@dataclass(frozen=True)
class LossParts:
    """loss = (y_pred - y).pow(2).sum() (or .mean()), piece by piece."""

    y_pred: np.ndarray  # (n_samples, 1)
    y: np.ndarray  # (n_samples, 1)
    residuals: np.ndarray  # y_pred - y
    squares: np.ndarray  # (y_pred - y) ** 2
    reduction: str  # 'sum' or 'mean'
    loss: float


@dataclass(frozen=True)
class GraphNode:
    """One node of the loss's backward graph."""

    name: str  # 'SumBackward0', 'AddmmBackward0', 'AccumulateGrad', or 'None' for x or y (no gradient needed)
    label: str  # an AccumulateGrad's parameter ('0.weight'), 'x' or 'y' for a None, else ''
    depth: int  # steps from loss.grad_fn, which has depth 0
    backward_order: int | None  # 1 for the first node backward() ran, ...; None for 'None' nodes


@dataclass(frozen=True)
class Graph:
    nodes: list[GraphNode]  # depth-first from loss.grad_fn, the order next_functions list them
    edges: list[tuple[int, int]]  # (node, one of its next_functions), as indices into nodes


@dataclass(frozen=True)
class ParameterUpdate:
    """One parameter in the update phase."""

    name: str  # '0.weight'
    old: np.ndarray  # before the update
    step: np.ndarray  # what was subtracted: lr * grad (SGD), or old - new (Adam's own step)
    new: np.ndarray  # after the update


@dataclass(frozen=True)
class EpochWalk:
    """The pass of the loop that takes the weights from `epoch` to `epoch + 1`."""

    epoch: int  # weights at the start: after this many epochs (0: as nn.Linear initialised them)
    device: str
    optimizer: str
    learning_rate: float
    x_shape: str  # 'torch.Size([100, 3])'
    forward: list[ModuleOutput]  # every module of the Sequential, in order
    loss: LossParts
    graph: Graph
    grads_before_zero: dict[str, np.ndarray | None]  # '0.weight' -> .grad before model.zero_grad()
    grads_after_zero: dict[str, np.ndarray | None]  # None after zero_grad() (set_to_none, torch 2's default)
    gradients: dict[str, np.ndarray]  # after loss.backward()
    grad_norms: dict[str, float]  # L2 norm of each gradient
    backward_order: list[str]  # parameter names in the order autograd computed their gradients
    updates: list[ParameterUpdate]
    loss_after: float  # the same loss with the updated weights: the next epoch's loss

    @property
    def diverged(self) -> bool:
        return not (np.isfinite(self.loss.loss) and all(np.isfinite(v) for v in self.grad_norms.values()))


def moved(epoch: int, phase: str, steps: int, epochs: int) -> tuple[int, str] | None:
    """(epoch, phase) `steps` phases on (back if negative): after `update` comes the next epoch's
    `forward`. None outside the run: before epoch 0's forward, or past its last epoch (epochs - 1)."""
    position = epoch * len(PHASES) + PHASES.index(phase) + steps
    if not 0 <= position < epochs * len(PHASES):
        return None
    return position // len(PHASES), PHASES[position % len(PHASES)]


def unwalked_options(config: Config) -> dict[str, str]:
    """{field: why} for the options the walk does not follow: it walks the lesson's loop, one full-batch
    pass of the squared error with no penalty (a test split is fine: it walks the training rows)."""
    why = "the One epoch page walks the lesson's loop (full batch, squared error, no penalty)"
    unwalked = {}
    if config.data.classification:
        unwalked["dataset"] = f"{config.data.dataset!r} is a classification set; {why}"
    if config.training.batch_size:
        unwalked["batch_size"] = f"{config.training.batch_size} makes an epoch many steps; {why}"
    for name in ("l1", "l2"):
        if getattr(config.training, name):
            unwalked[name] = f"{getattr(config.training, name):g} adds a penalty to the loss; {why}"
    return unwalked


class EpochWalker:
    """A config's run, walked one epoch at a time; the Trainer is kept, so the next epoch costs one step.

    `steps_to(epoch)` trains up to the epoch one step per iteration, so that a caller can take turns
    with other runs and stop between steps; `walk(epoch)` then walks the pass itself.
    """

    WALK_STEPS = 2  # a walk's cost in training steps: its own forward and backward, then Trainer.step

    def __init__(self, config: Config):
        self.config = config
        self.trainer = Trainer(config)
        self._walks: dict[int, EpochWalk] = {}

    def walk(self, epoch: int) -> EpochWalk:
        """The pass from epoch `epoch` (0 = fresh weights) to `epoch + 1`; raises ValueError past a divergence."""
        if epoch not in self._walks:
            for _ in self.steps_to(epoch):
                pass
            self._walks[epoch] = walk_epoch(self.trainer)
            while len(self._walks) > KEPT_WALKS:
                del self._walks[max(self._walks, key=lambda e: abs(e - epoch))]
        return self._walks[epoch]

    def kept(self, epoch: int) -> bool:
        """Whether walk(epoch) is already done, and costs nothing."""
        return epoch in self._walks

    def steps_before(self, epoch: int) -> int:
        """Training steps walk(epoch) takes before its walk: 0 when it is kept or the run is there."""
        if epoch in self._walks:
            return 0
        return epoch - self.trainer.epoch if self.trainer.epoch <= epoch else epoch

    def steps_to(self, epoch: int) -> Iterator[int]:
        """Train to `epoch`, one step per iteration (from the seed again when going back); yields the
        epoch reached. Raises ValueError when the run diverges first."""
        if self.trainer.epoch > epoch and epoch not in self._walks:
            self.trainer = Trainer(self.config)  # going back: replay from the seed
        while self.trainer.epoch < epoch and self.trainer.diverged_at is None:
            self.trainer.step()
            yield self.trainer.epoch
        if self.trainer.diverged_at is not None and epoch not in self._walks:
            # the Train page stops there, its weights as they were
            raise ValueError(f"the run diverged at epoch {self.trainer.diverged_at}, so it has no epoch {epoch}")


def walk_epoch(trainer: Trainer) -> EpochWalk:
    """Walk the trainer's next epoch with hooks, then take it with Trainer.step (the update the Train page makes)."""
    use_torch_threads(trainer.threads)
    model, parameters = trainer.model, trainer.parameters
    with _recording_outputs(model) as forward:
        y_pred = model(trainer.x)
    loss = trainer.loss_of(y_pred)
    loss_parts = _loss_parts(y_pred, trainer.y, loss, trainer.config.training.reduction)
    functions, edges = _walk_graph(loss.grad_fn)
    before_zero = _grads(parameters)
    model.zero_grad()  # set_to_none=True since torch 2.0: every .grad becomes None
    after_zero = _grads(parameters)
    with _recording_backward(functions, parameters) as (node_order, parameter_order):
        loss.backward()
    gradients = {name: _numpy(p.grad) for name, p in parameters.items()}
    norms = {name: float(torch.linalg.vector_norm(p.grad)) for name, p in parameters.items()}
    old = {name: _numpy(p) for name, p in parameters.items()}
    trainer.step()  # the Train page's own update; it repeats this epoch's forward and backward first
    return EpochWalk(
        epoch=trainer.epoch - 1,
        device=str(trainer.device),
        optimizer=trainer.config.training.optimizer,
        learning_rate=trainer.learning_rate,
        x_shape=str(trainer.x.shape),
        forward=forward,
        loss=loss_parts,
        graph=_graph(functions, edges, node_order, parameters),
        grads_before_zero=before_zero,
        grads_after_zero=after_zero,
        gradients=gradients,
        grad_norms=norms,
        backward_order=parameter_order,
        updates=_updates(trainer, old, gradients),
        loss_after=_loss_now(trainer),
    )


# ------------------------------------------------------------------ forward ---


@contextmanager
def _recording_outputs(model: nn.Sequential):
    """A forward hook on each module of the Sequential; yields the list its outputs are appended to."""
    outputs: list[ModuleOutput] = []

    def hook(name: str, module: nn.Module) -> Callable:
        def record(_module, _inputs, output: torch.Tensor) -> None:
            kind = type(module).__name__
            # A dead ReLU unit gives 0 for every sample, so it passes no gradient back.
            dead = [] if kind == "Linear" else torch.nonzero((output == 0).all(dim=0)).flatten().tolist()
            outputs.append(ModuleOutput(name, str(module), kind, _numpy(output[:MAX_KEPT_SAMPLES]), output.shape[0],
                                        str(output.shape), str(output.detach()), dead))
        return record

    handles = [module.register_forward_hook(hook(name, module)) for name, module in model.named_children()]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def _loss_parts(y_pred: torch.Tensor, y: torch.Tensor, loss: torch.Tensor, reduction: str) -> LossParts:
    with torch.no_grad():
        residuals = y_pred - y
        return LossParts(_numpy(y_pred), _numpy(y), _numpy(residuals), _numpy(residuals.pow(2)), reduction,
                         float(loss))


# -------------------------------------------------------------------- graph ---


def _walk_graph(root) -> tuple[list, list[tuple[int, int]]]:
    """Every node below loss.grad_fn (None for a tensor that needs no gradient), depth-first, each once;
    and the edges (node, next function) as indices. Returns ([(fn, depth)], edges)."""
    functions: list[tuple[object, int]] = []
    index: dict[int, int] = {}  # id(fn) -> position, so a node reached twice is listed once
    edges: list[tuple[int, int]] = []
    stack: list[tuple[object, int, int | None]] = [(root, 0, None)]
    while stack and len(functions) < MAX_GRAPH_NODES:
        fn, depth, parent = stack.pop()
        if fn is not None and id(fn) in index:
            edges.append((parent, index[id(fn)]))
            continue
        functions.append((fn, depth))
        position = len(functions) - 1
        if fn is not None:
            index[id(fn)] = position
        if parent is not None:
            edges.append((parent, position))
        children = fn.next_functions if fn is not None else ()
        stack += [(child, depth + 1, position) for child, _ in reversed(children)]
    return functions, edges


def _graph(functions: list, edges: list[tuple[int, int]], order: dict[int, int],
           parameters: dict[str, torch.Tensor]) -> Graph:
    names = {id(p): name for name, p in parameters.items()}
    parents = {child: parent for parent, child in edges}
    nodes = []
    for position, (fn, depth) in enumerate(functions):
        if fn is None:
            # The model's only inputs without requires_grad: y, subtracted in the loss, and x, fed to the first layer.
            is_y = functions[parents[position]][0].name() == "SubBackward0"
            nodes.append(GraphNode("None", "y" if is_y else "x", depth, None))
            continue
        variable = getattr(fn, "variable", None)  # an AccumulateGrad's parameter
        label = names.get(id(variable), "a leaf") if variable is not None else ""
        nodes.append(GraphNode(type(fn).__name__, label, depth, order.get(id(fn))))
    return Graph(nodes, edges)


# ----------------------------------------------------------------- backward ---


def _grads(parameters: dict[str, torch.Tensor]) -> dict[str, np.ndarray | None]:
    return {name: _numpy(p.grad) for name, p in parameters.items()}


@contextmanager
def _recording_backward(functions: list, parameters: dict[str, torch.Tensor]):
    """Hooks on every graph node and every parameter; yields ({id(fn): 1-based order}, [parameter names])
    as backward() fills them."""
    node_order: dict[int, int] = {}
    parameter_order: list[str] = []

    def on_node(fn) -> Callable:
        def record(_grad_inputs, _grad_outputs) -> None:  # returning a value would replace the gradients
            node_order.setdefault(id(fn), len(node_order) + 1)
        return record

    def on_parameter(name: str) -> Callable:
        return lambda _grad: parameter_order.append(name)

    handles = [fn.register_hook(on_node(fn)) for fn, _ in functions if fn is not None]
    handles += [p.register_hook(on_parameter(name)) for name, p in parameters.items()]
    try:
        yield node_order, parameter_order
    finally:
        for handle in handles:
            handle.remove()


# ------------------------------------------------------------------- update ---


def _updates(trainer: Trainer, old: dict[str, np.ndarray], gradients: dict[str, np.ndarray]) -> list[ParameterUpdate]:
    """Old value, what was subtracted and new value of each parameter: lr * grad for the lesson's
    update and torch.optim.SGD, Adam's own step (old - new) for Adam."""
    updates = []
    for name, p in trainer.parameters.items():
        new = _numpy(p)
        if trainer.config.training.optimizer == "adam":
            step = old[name] - new
        else:
            step = np.float32(trainer.learning_rate) * gradients[name]
        updates.append(ParameterUpdate(name, old[name], step, new))
    return updates


def _loss_now(trainer: Trainer) -> float:
    with torch.no_grad():
        return float(trainer.loss_of(trainer.model(trainer.x)))


def _numpy(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().cpu().numpy().copy()


def graph_text(graph: Graph) -> str:
    """The graph as an indented tree, four spaces a level, as the lesson's walk over next_functions prints it."""
    lines = []
    for node in graph.nodes:
        label = f"  -> {node.label}" if node.label else ""
        lines.append("    " * node.depth + node.name + label)
    return "\n".join(lines)
