"""Figures of the lesson pages: initial weights, the grad_fn graph, a network diagram.

Pure functions from plain numbers to `go.Figure`, sized to stay small whatever the layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import plotly.graph_objects as go

from viz.common import LAYER_COLOURS, make_figure

MAX_POINTS = 1000  # values drawn per parameter; larger tensors are thinned evenly
MAX_UNITS = 8  # circles drawn per layer of a network diagram; the rest are summed up in a label
NODE_COLOURS = {"AccumulateGrad": "#2ca02c", "None": "#999999"}  # any other node is a backward function


class GradFnNodeLike(Protocol):
    """What grad_fn_figure reads from a node (core.linear_lesson.GradFnNode fits)."""

    name: str
    depth: int
    parent: int | None
    note: str


def _thin(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    flat = np.asarray(values, dtype=np.float32).ravel()
    return flat[:: max(1, int(np.ceil(flat.size / max_points)))]


def init_range_figure(weight: np.ndarray, bias: np.ndarray, bound: float, *, title: str | None = None) -> go.Figure:
    """Every initial weight and bias as a dot, inside the shaded range (-bound, bound) they were drawn from."""
    traces = []
    for row, (name, values, colour) in enumerate((("weight", weight, LAYER_COLOURS[0]),
                                                  ("bias", bias, LAYER_COLOURS[1]))):
        x = _thin(values)
        jitter = (np.arange(x.size) % 7 - 3) * 0.04  # spread overlapping dots a little, deterministically
        traces.append(dict(type="scatter", x=x, y=row + jitter, mode="markers", name=name,
                           marker=dict(size=8, color=colour, opacity=0.8),
                           hovertemplate=f"{name}: %{{x:.4f}}<extra></extra>"))
    band = dict(type="rect", xref="x", yref="paper", x0=-bound, x1=bound, y0=0, y1=1, line=dict(width=0),
                fillcolor="rgba(31, 119, 180, 0.10)", layer="below")
    edges = [dict(type="line", xref="x", yref="paper", x0=v, x1=v, y0=0, y1=1, line=dict(color="#777", dash="dot"))
             for v in (-bound, bound)]
    return make_figure(traces, dict(
        title=dict(text=title or f"Initial values, all inside ±1/√in_features = ±{bound:.4f}"),
        xaxis=dict(title=dict(text="value"), range=[-1.15 * bound, 1.15 * bound], zeroline=True),
        yaxis=dict(tickvals=[0, 1], ticktext=["weight", "bias"], range=[-0.6, 1.6]),
        shapes=[band, *edges], showlegend=False, height=240, margin=dict(l=60, r=20, t=50, b=40),
    ))


def _tree_positions(nodes: Sequence[GradFnNodeLike]) -> np.ndarray:
    """y of each node: leaves take consecutive rows in depth-first order, a parent sits at its children's mean."""
    children: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        if node.parent is not None:
            children.setdefault(node.parent, []).append(i)
    y = np.zeros(len(nodes))
    leaves = [i for i in range(len(nodes)) if i not in children]
    y[leaves] = np.arange(len(leaves))
    for i in reversed(range(len(nodes))):  # children come after their parent in depth-first order
        if i in children:
            y[i] = np.mean([y[c] for c in children[i]])
    return -y  # first child on top


def grad_fn_figure(nodes: Sequence[GradFnNodeLike], *, title: str = "out.grad_fn and its next_functions") -> go.Figure:
    """The backward graph as a tree, from out.grad_fn on the left to the leaves' AccumulateGrad on the right."""
    y = _tree_positions(nodes)
    x = np.array([node.depth for node in nodes], dtype=float)
    edge_x, edge_y = [], []
    for i, node in enumerate(nodes):
        if node.parent is not None:
            edge_x += [x[node.parent], x[i], None]
            edge_y += [y[node.parent], y[i], None]
    colours = [NODE_COLOURS.get(node.name, LAYER_COLOURS[0]) for node in nodes]
    labels = [f"<b>{node.name}</b>" + (f"<br>{node.note.split(' (requires')[0]}" if node.note else "")
              for node in nodes]
    traces = [
        dict(type="scatter", x=edge_x, y=edge_y, mode="lines", line=dict(color="#bbb", width=2), hoverinfo="skip"),
        dict(type="scatter", x=x, y=y, mode="markers+text", text=labels, textposition="bottom center",
             marker=dict(size=18, color=colours, symbol="square"), customdata=[node.note for node in nodes],
             hovertemplate="%{text}<br>%{customdata}<extra></extra>"),
    ]
    depth, rows = (int(x.max()), int(-y.min()) + 1) if len(nodes) else (0, 1)
    return make_figure(traces, dict(
        title=dict(text=title), showlegend=False, height=max(220, 90 * rows + 80),
        xaxis=dict(visible=False, range=[-0.5, depth + 0.6]),
        yaxis=dict(visible=False, range=[-rows + 0.2, 0.5]),
        margin=dict(l=20, r=20, t=50, b=10),
    ))


def _unit_rows(size: int, max_units: int) -> list[float]:
    """Vertical positions of the circles drawn for a layer of `size` units, centred on 0."""
    shown = min(size, max_units)
    return list(np.arange(shown) - (shown - 1) / 2)


def network_figure(
    layer_sizes: Sequence[int],
    *,
    activations: Sequence[str] = (),
    title: str = "The network",
    max_units: int = MAX_UNITS,
) -> go.Figure:
    """Circles for units, lines for weights: one column per layer of sizes, with the activation under each hidden one.

    A layer wider than max_units draws max_units circles and says how many it stands for.
    """
    node_x, node_y, labels = [], [], []
    edge_x, edge_y = [], []
    rows = [_unit_rows(size, max_units) for size in layer_sizes]
    for column, (size, ys) in enumerate(zip(layer_sizes, rows)):
        node_x += [column] * len(ys)
        node_y += ys
        if column + 1 < len(rows):
            for a in ys:
                for b in rows[column + 1]:
                    edge_x += [column, column + 1, None]
                    edge_y += [a, b, None]
        kind = "input" if column == 0 else "output" if column == len(layer_sizes) - 1 else "hidden unit"
        act = activations[column - 1] if 0 < column <= len(activations) and kind == "hidden unit" else ""
        text = f"{size} {kind}{'s' if size != 1 else ''}" + (f"<br>then {act}" if act else "")
        labels.append(dict(x=column, y=-(max_units + 1) / 2 - 0.2, text=text,
                           showarrow=False, yanchor="top", font=dict(size=12)))
        if size > max_units:
            labels.append(dict(x=column, y=(max_units + 1) / 2, text=f"{max_units} of {size} drawn", showarrow=False,
                               yanchor="bottom", font=dict(size=10, color="#777")))
    traces = [
        dict(type="scatter", x=edge_x, y=edge_y, mode="lines", line=dict(color="rgba(120,120,120,0.35)", width=1),
             hoverinfo="skip"),
        dict(type="scatter", x=node_x, y=node_y, mode="markers", hoverinfo="skip",
             marker=dict(size=14, color=LAYER_COLOURS[0], line=dict(color="white", width=1))),
    ]
    half = (max_units + 1) / 2
    return make_figure(traces, dict(
        title=dict(text=title), showlegend=False, height=340, annotations=labels,
        xaxis=dict(visible=False, range=[-0.5, len(layer_sizes) - 0.5]),
        yaxis=dict(visible=False, range=[-half - 1.4, half + 0.6]),
        margin=dict(l=20, r=20, t=50, b=10),
    ))
