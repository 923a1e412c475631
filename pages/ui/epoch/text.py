"""What the One epoch page says: the lesson's loop with the phase's lines marked, and two sentences a phase."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.epoch import EpochWalk

MARK = "  # ◀"  # ends each line of the phase shown: a comment in Python and in R

# The loop body, one entry per line: (Python, R, phases that highlight it). The graph is recorded by
# the forward pass and the loss, so that phase marks both lines.
_FORWARD = ("    y_pred = model(x)", "  y_pred <- model(x)", {"forward", "graph"})
_ZERO = ("    model.zero_grad()", "  model$zero_grad()", {"zero_grad"})
_BACKWARD = ("    loss.backward()", "  loss$backward()", {"backward"})
_MANUAL_UPDATE = [
    ("    with torch.no_grad():", "  with_no_grad({", {"update"}),
    ("        for p in model.parameters():", "    for (p in model$parameters)", {"update"}),
    ("            p.sub_(learning_rate * p.grad)", "      p$sub_(learning_rate * p$grad)", {"update"}),
    (None, "  })", set()),
]
_OPTIMIZER_UPDATE = [("    optimizer.step()", "  optimizer$step()", {"update"})]
_OPTIMIZERS = {"sgd": ("torch.optim.SGD", "optim_sgd"), "adam": ("torch.optim.Adam", "optim_adam")}


def _loss_line(reduction: str) -> tuple[str, str, set[str]]:
    return (f"    loss = (y_pred - y).pow(2).{reduction}()", f"  loss <- (y_pred - y)$pow(2)${reduction}()",
            {"loss", "graph"})


def lesson_loop(optimizer: str, reduction: str, phase: str) -> tuple[str, str]:
    """(Python, R): the lesson's training loop for this config, the lines of `phase` marked."""
    python, r = [], []
    if optimizer in _OPTIMIZERS:
        py_class, r_function = _OPTIMIZERS[optimizer]
        python.append(f"optimizer = {py_class}(model.parameters(), lr=learning_rate)")
        r.append(f"optimizer <- {r_function}(model$parameters, lr = learning_rate)")
    python.append("for epoch in range(1, epochs + 1):")
    r.append("for (epoch in 1:epochs) {")
    update = _MANUAL_UPDATE if optimizer == "manual_sgd" else _OPTIMIZER_UPDATE
    for py_line, r_line, phases in [_FORWARD, _loss_line(reduction), _ZERO, _BACKWARD, *update]:
        mark = MARK if phase in phases else ""
        if py_line is not None:
            python.append(py_line + mark)
        r.append(r_line + mark)
    r.append("}")
    return "\n".join(python), "\n".join(r)


# ------------------------------------------------------------- sentences ---


def _forward(walk: EpochWalk) -> str:
    n = walk.loss.y.shape[0]
    dead = sum(len(m.dead_units) for m in walk.forward)
    dead_note = (f", and {dead} ReLU unit{'s' if dead != 1 else ''} output 0 for every sample (dead, marked ×)"
                 if dead else "")
    return (f"`y_pred = model(x)` sent all {n} samples of `x` through the {len(walk.forward)} modules of the "
            f"`nn.Sequential`, and a forward hook on each recorded its output (samples × units). Each `nn.Linear` "
            f"computes `x @ weight.T + bias` and each activation then works on every value on its own{dead_note}.")


def _loss(walk: EpochWalk) -> str:
    parts = walk.loss
    how = "added them up" if parts.reduction == "sum" else "took their mean"
    return (f"`loss = (y_pred - y).pow(2).{parts.reduction}()` took each prediction's error, squared the "
            f"{parts.y.shape[0]} residuals and {how}: the loss is {parts.loss:.6g}. No weight has changed yet; "
            "autograd has only recorded how the loss was computed.")


def _graph(walk: EpochWalk) -> str:
    nodes = walk.graph.nodes
    functions = [n for n in nodes if n.name not in ("None", "AccumulateGrad")]
    leaves = sum(n.name == "AccumulateGrad" for n in nodes)
    return (f"While the loss was computed, autograd recorded {len(functions)} backward functions: `loss.grad_fn` is "
            f"`{nodes[0].name}`, and its `next_functions` lead through one `AddmmBackward0` per `nn.Linear` down to "
            f"{leaves} `AccumulateGrad` leaves, one per parameter. `loss.backward()` will run this graph from the "
            "top, and each `AccumulateGrad` will write its parameter's `.grad`.")


def _zero_grad(walk: EpochWalk) -> str:
    had = sum(g is not None for g in walk.grads_before_zero.values())
    before = (f"`model.zero_grad()` cleared the gradients that the last epoch's backward left in all {had} "
              "parameters, which the next backward would otherwise add to." if had else
              "`model.zero_grad()` had nothing to clear: before the first `backward()` every `.grad` is `None`.")
    return before + (" Since torch 2.0 it sets each `.grad` to `None` instead of filling it with zeros, so "
                     "`backward()` writes fresh gradients.")


def _backward(walk: EpochWalk) -> str:
    order = walk.backward_order
    largest = max(walk.grad_norms, key=walk.grad_norms.get)
    ran = sum(n.backward_order is not None for n in walk.graph.nodes)
    return (f"`loss.backward()` ran the graph's {ran} nodes from the loss down, and each `AccumulateGrad` wrote its "
            f"parameter's `.grad`: `{order[0]}` first, `{order[-1]}` last, so the last layer's gradients come "
            f"first. Each gradient has its parameter's shape; `{largest}`'s is the largest, with norm "
            f"{walk.grad_norms[largest]:.4g}.")


def _update(walk: EpochWalk) -> str:
    trend = "fell" if walk.loss_after < walk.loss.loss else "rose"
    change = f"The loss on the same data {trend} from {walk.loss.loss:.6g} to {walk.loss_after:.6g}: the next epoch's."
    if walk.optimizer == "adam":
        return ("`optimizer.step()` moved each parameter by Adam's step, the gradient scaled by running averages of "
                f"itself and its square, so each value moves by about lr = {walk.learning_rate:g}. " + change)
    how = ("Under `torch.no_grad()`, `p.sub_(lr * p.grad)`" if walk.optimizer == "manual_sgd"
           else "`optimizer.step()` of `torch.optim.SGD`, like the lesson's `p.sub_(lr * p.grad)`,")
    return f"{how} moved every parameter against its gradient, by lr = {walk.learning_rate:g} times it. " + change


SENTENCES: dict[str, Callable[[EpochWalk], str]] = {
    "forward": _forward, "loss": _loss, "graph": _graph, "zero_grad": _zero_grad, "backward": _backward,
    "update": _update,
}


def step_label(walk: EpochWalk) -> str:
    """What the update subtracts, as the update figure titles it."""
    return "Adam's step" if walk.optimizer == "adam" else f"{walk.learning_rate:g} * grad"


def grad_summary(grad) -> str:
    """A .grad as the zero_grad table shows it."""
    if grad is None:
        return "None"
    return f"tensor of shape {tuple(grad.shape)}, norm {float(np.linalg.norm(grad)):.4g}"
