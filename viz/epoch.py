"""Figures of the One epoch page: the loss's autograd graph, and heatmaps of one epoch's tensors.

Pure functions from plain arrays to `go.Figure`. Every matrix is pooled to at most
`max_side` x `max_side` block means with `viz.common.pool`, so a figure
stays small whatever the network; a matrix of at most SMALL_CELLS cells prints its values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.common import DEAD_COLOUR, DIVERGING, LAYER_COLOURS, MAX_SIDE, pool

SMALL_CELLS = 64  # a heatmap of at most this many cells, and at most SMALL_SIDE a side, writes each value
SMALL_SIDE = 8
ROW_HEIGHT = 230  # px of the tallest row of heatmaps
ROW_GAP = 50  # px between rows, room for the next row's titles
LEVEL_HEIGHT = 46  # px per depth level of the graph
LOSS_COLOUR, LEAF_COLOUR, NONE_COLOUR = "#d62728", "#2ca02c", "#999999"


class ModuleOutputLike(Protocol):
    """What forward_figure reads (core.epoch.ModuleOutput fits)."""

    name: str
    kind: str
    output: np.ndarray  # (samples kept, units)
    samples: int  # rows of the whole output
    dead_units: list[int]


class LossLike(Protocol):
    y_pred: np.ndarray  # (n_samples, 1)
    y: np.ndarray
    residuals: np.ndarray
    squares: np.ndarray
    reduction: str
    loss: float


class UpdateLike(Protocol):
    name: str  # '0.weight'
    old: np.ndarray
    step: np.ndarray
    new: np.ndarray


class GraphNodeLike(Protocol):
    name: str
    label: str
    depth: int
    backward_order: int | None


class Panel(NamedTuple):
    """One heatmap of a figure: its title, a 2-D array (a vector is drawn as a column), marked columns."""

    title: str
    values: np.ndarray
    marked: Sequence[int] = ()  # columns to mark with ×: dead units


# ------------------------------------------------------------------ graph ---


def _layer_positions(nodes: Sequence[GraphNodeLike], edges: Sequence[tuple[int, int]]) -> np.ndarray:
    """x of each node: the nodes of one depth side by side, ordered by their parent's x, centred on 0."""
    parent = {}
    for a, b in edges:
        parent.setdefault(b, a)
    x = np.zeros(len(nodes))
    for depth in sorted({node.depth for node in nodes}):
        level = [i for i, node in enumerate(nodes) if node.depth == depth]
        level.sort(key=lambda i: (x[parent[i]] if i in parent else 0.0, i))
        x[level] = np.arange(len(level)) - (len(level) - 1) / 2
    return x


def _node_colour(node: GraphNodeLike) -> str:
    if node.depth == 0:
        return LOSS_COLOUR
    return {"AccumulateGrad": LEAF_COLOUR, "None": NONE_COLOUR}.get(node.name, LAYER_COLOURS[0])


def _node_text(node: GraphNodeLike) -> str:
    if node.name == "AccumulateGrad":
        return f"<b>AccumulateGrad</b><br>{node.label}"
    if node.name == "None":
        return f"None<br>{node.label}: no grad"
    return f"<b>{node.name}</b>" + ("<br>the loss" if node.depth == 0 else "")


def graph_figure(nodes: Sequence[GraphNodeLike], edges: Sequence[tuple[int, int]], *, show_order: bool = False,
                 title: str = "loss.grad_fn and its next_functions, down to the parameters") -> go.Figure:
    """The backward graph top-down: the loss's node at the top, a row per depth, the parameters'
    AccumulateGrad leaves at the bottom; with show_order, each node numbered in the order backward() ran it."""
    x = _layer_positions(nodes, edges)
    y = -np.array([node.depth for node in nodes], dtype=float)
    edge_x, edge_y = [], []
    for a, b in edges:
        edge_x += [x[a], x[b], None]
        edge_y += [y[a], y[b], None]
    traces = [
        go.Scatter(x=edge_x, y=edge_y, mode="lines", line=dict(color="#bbb", width=2), hoverinfo="skip"),
        go.Scatter(x=x, y=y, mode="markers+text", text=[_node_text(n) for n in nodes], textposition="middle right",
                   marker=dict(size=20, color=[_node_colour(n) for n in nodes], symbol="square"),
                   textfont=dict(size=11), hovertemplate="%{text}<extra></extra>"),
    ]
    if show_order:
        ran = [i for i, node in enumerate(nodes) if node.backward_order is not None]
        traces.append(go.Scatter(x=x[ran], y=y[ran], mode="text", text=[str(nodes[i].backward_order) for i in ran],
                                 textfont=dict(size=10, color="white"), hoverinfo="skip"))
    levels = int(-y.min()) + 1 if len(nodes) else 1
    half = float(np.abs(x).max()) if len(nodes) else 0.0
    return go.Figure(traces, dict(
        title=dict(text=title), showlegend=False, template="none", height=LEVEL_HEIGHT * levels + 90,
        xaxis=dict(visible=False, range=[-half - 0.4, half + 1.2]),  # room on the right for the last labels
        yaxis=dict(visible=False, range=[-levels + 0.5, 0.6]),
        margin=dict(l=10, r=10, t=50, b=10),
    ))


# --------------------------------------------------------------- heatmaps ---


def _as_matrix(values: np.ndarray) -> np.ndarray:
    """A 2-D array of floats; a vector (a bias) becomes one row."""
    values = np.asarray(values, dtype=np.float64)
    return values.reshape(1, -1) if values.ndim == 1 else values


def _limit(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def _heatmap(panel: Panel, max_side: int) -> list[go.Heatmap | go.Scatter]:
    """The panel's pooled heatmap, centred on 0, and × over the pooled columns that hold a marked unit."""
    z, rows, columns = pool(_as_matrix(panel.values), max_side)
    x, y = [str(c) for c in columns], [str(r) for r in rows]
    limit = _limit(z)
    small = z.size <= SMALL_CELLS and max(z.shape) <= SMALL_SIDE
    traces = [go.Heatmap(z=z.astype(np.float32), x=x, y=y, colorscale=DIVERGING, zmid=0, zmin=-limit, zmax=limit,
                         showscale=False, texttemplate="%{z:.3g}" if small else None,
                         hovertemplate=f"{panel.title}<br>[%{{y}}, %{{x}}]: %{{z:.4g}}<extra></extra>")]
    if len(panel.marked):
        mask = np.zeros((1, _as_matrix(panel.values).shape[1]))
        mask[0, list(panel.marked)] = 1
        blocks = np.flatnonzero(pool(mask, max_side)[0][0] > 0)  # the pooled columns holding a marked unit
        traces.append(go.Scatter(x=[x[b] for b in blocks], y=[y[0]] * len(blocks), mode="markers",
                                 marker=dict(symbol="x", size=10, color=DEAD_COLOUR),
                                 hovertemplate="dead unit: zero for every sample<extra></extra>"))
    return traces


def _row_height(row: Sequence[Panel | None], max_side: int) -> int:
    """px for a row of heatmaps: a strip for one-row matrices (a bias, the output layer), more for tall ones."""
    tallest = max(min(_as_matrix(cell.values).shape[0], max_side) for cell in row if cell is not None)
    return int(np.clip(50 + 6 * tallest, 70, ROW_HEIGHT))


def panels_figure(rows: Sequence[Sequence[Panel | None]], *, title: str, column_widths: Sequence[float] | None = None,
                  max_side: int = MAX_SIDE) -> go.Figure:
    """A grid of heatmaps, one row per list (None leaves a cell empty): rows of a matrix are rows of
    its heatmap, pooled to at most max_side x max_side block means. Cells of a row share their rows
    (samples, units), so only the first cell labels them."""
    n_columns = max(len(row) for row in rows)
    titles = [cell.title if cell else "" for row in rows for cell in [*row, *[None] * (n_columns - len(row))]]
    heights = [_row_height(row, max_side) for row in rows]
    total = sum(heights) + ROW_GAP * (len(rows) - 1)
    figure = make_subplots(rows=len(rows), cols=n_columns, subplot_titles=titles, column_widths=column_widths,
                           row_heights=heights, horizontal_spacing=0.04, vertical_spacing=ROW_GAP / total)
    pooled = False
    for r, row in enumerate(rows, start=1):
        for c, cell in enumerate(row, start=1):
            if cell is None:
                continue
            pooled |= max(_as_matrix(cell.values).shape) > max_side
            for trace in _heatmap(cell, max_side):
                figure.add_trace(trace, row=r, col=c)
            figure.update_yaxes(autorange="reversed", type="category", showticklabels=c == 1, row=r, col=c)
            figure.update_xaxes(type="category", row=r, col=c)
    if pooled:
        title += f" · pooled to ≤{max_side}×{max_side} block means"
    figure.update_annotations(font_size=12)
    figure.update_layout(title=dict(text=title), template="none", showlegend=False, height=total + 110,
                         margin=dict(l=60, r=20, t=80, b=30))
    return figure


def forward_figure(outputs: Sequence[ModuleOutputLike], *, max_side: int = MAX_SIDE) -> go.Figure:
    """Each Linear's output (samples x units) with its activation's output beside it; dead units marked ×."""
    rows: list[list[Panel | None]] = []
    for module in outputs:
        dead = module.dead_units
        note = f" · {len(dead)} dead ×" if dead else ""
        shape = f"({module.samples}, {np.shape(module.output)[1]})"
        panel = Panel(f"model[{module.name}] {module.kind} {shape}{note}", module.output, dead)
        if module.kind == "Linear" or not rows:
            rows.append([panel])
        else:
            rows[-1].append(panel)
    title = "Forward: each module's output, samples × units"
    kept = min((len(module.output) for module in outputs), default=0)
    if any(module.samples > kept for module in outputs):
        title += f" · the first {kept:,} samples"
    return panels_figure(rows, title=title, max_side=max_side)


def loss_figure(parts: LossLike, *, max_side: int = MAX_SIDE) -> go.Figure:
    """y_pred, y, the residuals y_pred - y and their squares, one sample a row."""
    row = [Panel("y_pred", parts.y_pred), Panel("y", parts.y), Panel("y_pred - y", parts.residuals),
           Panel("(y_pred - y)²", parts.squares)]  # each (n_samples, 1): a column
    return panels_figure([row], title=f"loss = (y_pred - y).pow(2).{parts.reduction}() = {parts.loss:.6g}",
                         max_side=max_side)


def _per_layer(named: Mapping[str, np.ndarray]) -> list[list[str]]:
    """Parameter names grouped by layer: [['0.weight', '0.bias'], ['2.weight', '2.bias']]."""
    layers: dict[str, list[str]] = {}
    for name in named:
        layers.setdefault(name.split(".")[0], []).append(name)
    return list(layers.values())


def gradients_figure(gradients: Mapping[str, np.ndarray], norms: Mapping[str, float], *,
                     max_side: int = MAX_SIDE) -> go.Figure:
    """Each parameter's .grad after backward(), weight and bias of a layer side by side, with its L2 norm."""
    rows = [[Panel(f"{name}.grad ‖·‖ = {norms[name]:.4g}", _column(gradients[name])) for name in layer]
            for layer in _per_layer(gradients)]
    return panels_figure(rows, title="Gradients after loss.backward()", column_widths=[4, 1], max_side=max_side)


def _column(values: np.ndarray) -> np.ndarray:
    """A bias beside its weight: one row per unit, like the weight's rows."""
    return np.reshape(values, (-1, 1)) if np.ndim(values) == 1 else values


def update_figure(updates: Sequence[UpdateLike], *, step_label: str = "lr * grad",
                  max_side: int = MAX_SIDE) -> go.Figure:
    """A row per parameter: its value before, the step subtracted, its value after (a bias as a strip)."""
    rows = [[Panel(f"{u.name} before", u.old), Panel(f"{u.name}: {step_label}", u.step),
             Panel(f"{u.name} after", u.new)]
            for u in updates]
    return panels_figure(rows, title=f"Update: each parameter minus {step_label}", max_side=max_side)
