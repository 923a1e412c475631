"""A two-input classifier's figures, pure builders: the decision boundary (p(class 1) over the input
plane with the training and test points on it) and the first hidden layer's units over the same
plane as small multiples, Playground's "each neuron's output".

Bounded whatever the data or network: at most `MAX_DRAWN_POINTS` points are drawn, at most
`MAX_UNIT_PLOTS` units, each at most `UNIT_SIDE` cells a side, and the plane's values go
out as one byte each instead of a float32's four (plotly sends numpy arrays as base64 typed
arrays), so a live frame stays small (`python -m bench --only boundary` measures it).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import plotly.graph_objects as go

from viz.common import BASE_LAYOUT, DIVERGING, compact, make_figure
from viz.training import number_label

# Train and test together, shared in proportion to their sizes; evenly spaced picks, the same every
# frame. A drawn point costs ~11 bytes of the frame (x and y as float32).
MAX_DRAWN_POINTS = 600
MAX_UNIT_PLOTS = 16  # small multiples shown, the first units of the layer
UNIT_COLUMNS = 8  # small multiples per row
UNIT_SIDE = 16  # cells a side of one small multiple at most; a finer plane is sampled every k-th point
UNIT_GAP = 2  # cells between small multiples
UNIT_LABEL_ROOM = 3  # cells above each for its label
BOUNDARY_HEIGHT = 420  # px
UNIT_ROW_HEIGHT = 120  # px per row of small multiples
CLASS_COLOURS = ("#2166ac", "#b2182b")  # class 0, class 1: the ends of the plane's colour scale
# Pale ends, so the points (saturated, outlined) stand out on the plane; white at p = 0.5.
PLANE_SCALE = [[0.0, "#92c5de"], [0.5, "#f7f7f7"], [1.0, "#f4a582"]]
UNIT_LEVELS = 127  # a unit's output over the plane goes out as int8: -127 .. 127 of its largest |output|
POINT_STYLES = {  # Playground's way: training points outlined white, test points black (and another shape)
    "train": dict(symbol="circle", size=7, line=dict(color="white", width=1)),
    "test": dict(symbol="diamond", size=8, line=dict(color="#111111", width=1.2)),
}


class PlaneGrid(Protocol):
    """What the figures read from the network's outputs over the plane (core.boundary.PlaneOutputs fits)."""

    x1: np.ndarray  # (G,) ascending
    x2: np.ndarray  # (G,) ascending
    probability: np.ndarray  # (G, G), rows follow x2, columns x1
    units: np.ndarray  # (K, G, G), the first hidden layer's first K units after the activation
    total_units: int  # units in that layer


class BoundaryArrays(Protocol):
    """One frame's plane and points (core.boundary.BoundaryData fits)."""

    plane: PlaneGrid
    x_train: np.ndarray  # (n, 2)
    y_train: np.ndarray  # (n,) labels 0/1
    x_test: np.ndarray  # (m, 2), m = 0 without a test split
    y_test: np.ndarray  # (m,)


def boundary_figures(data: BoundaryArrays, *, epoch: int | None = None) -> dict[str, go.Figure]:
    """The live view's two figures by slot name: "boundary" and "units" (the first hidden layer)."""
    return {"boundary": boundary_figure(data.plane, data.x_train, data.y_train, data.x_test, data.y_test, epoch=epoch),
            "units": units_figure(data.plane, epoch=epoch)}


# ------------------------------------------------------------- boundary ---


def boundary_figure(
    plane: PlaneGrid,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    *,
    epoch: int | None = None,
    max_points: int = MAX_DRAWN_POINTS,
) -> go.Figure:
    """p(class 1) over the plane, white at 0.5 (the boundary), with the points coloured by label:
    training points as outlined circles, test points as diamonds. x: (n, 2), y: (n,) labels 0/1."""
    sets = [("train", x_train, y_train)] + ([("test", x_test, y_test)] if x_test is not None and len(x_test) else [])
    shares = point_shares([len(x) for _, x, _ in sets], max_points)
    traces, drawn_notes = [_plane_heatmap(plane)], []
    for (name, x, y), share in zip(sets, shares):
        points, labels, note = _drawn_points(x, y, share, name)
        traces += _class_traces(name, points, labels)
        drawn_notes += [note] if note else []
    title = "Decision boundary" + (f" at epoch {epoch}" if epoch is not None else "")
    if drawn_notes:  # a line of its own: the title fits a half-width chart
        title += "<br><sup>" + ", ".join(drawn_notes) + " points drawn</sup>"
    (x1_low, x1_high), (x2_low, x2_high) = _plane_range(plane.x1), _plane_range(plane.x2)
    return make_figure(traces, dict(
        title=dict(text=title, font=dict(size=14)), height=BOUNDARY_HEIGHT,
        xaxis=dict(title=dict(text="x1"), range=[x1_low, x1_high], showgrid=False, zeroline=False, constrain="domain"),
        # One unit of x2 as long as one of x1, so a circle looks round (the plot narrows to fit).
        yaxis=dict(title=dict(text="x2"), range=[x2_low, x2_high], showgrid=False, zeroline=False, scaleanchor="x",
                   constrain="domain"),
        legend=dict(orientation="h", x=0, y=-0.2, yanchor="top"),
        # room for the colour bar and the legend's two rows
        margin=dict(BASE_LAYOUT["margin"], t=60, r=80, b=110, autoexpand=False),
    ))


def _plane_heatmap(plane: PlaneGrid) -> dict:
    """The plane as a heatmap of p(class 1) in percent (one byte a cell), colour scale centred at 50."""
    return dict(
        type="heatmap", z=_percent(plane.probability), zmin=0, zmax=100, zmid=50, colorscale=PLANE_SCALE,
        zsmooth="best", name="p(class 1)", showlegend=False, **_grid_placement(plane.x1, plane.x2),
        colorbar=dict(title=dict(text="p(class 1) = torch.sigmoid(logit)", side="right", font=dict(size=11)),
                      tickvals=[0, 50, 100], ticktext=["0", "0.5", "1"],
                      thickness=10, len=0.8, x=1.02, xanchor="left"),
        hovertemplate="x1 %{x:.3g}, x2 %{y:.3g}<br>p(class 1) ≈ %{z}%<extra></extra>",
    )


def _class_traces(name: str, points: np.ndarray, labels: np.ndarray) -> list[dict]:
    """One marker trace per class of a set, so the legend names each ("train: class 1")."""
    traces = []
    for label, colour in enumerate(CLASS_COLOURS):
        mine = points[labels == label]
        style = POINT_STYLES[name]
        traces.append(dict(
            type="scatter", x=compact(mine[:, 0]), y=compact(mine[:, 1]), mode="markers", name=f"{name}: class {label}",
            marker=dict(style, color=colour),
            hovertemplate=f"{name}, class {label}<br>x1 %{{x:.3g}}, x2 %{{y:.3g}}<extra></extra>",
        ))
    return traces


def _drawn_points(x: np.ndarray, y: np.ndarray, max_points: int, name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(points (k, 2), labels (k,) as 0/1, the title's note when fewer than all are drawn)."""
    x, y = np.asarray(x, dtype=np.float64).reshape(-1, 2), np.asarray(y, dtype=np.float64).reshape(-1)
    picks = evenly_spaced(len(x), max_points)
    note = f"{len(picks):,} of {len(x):,} {name}" if len(picks) < len(x) else ""
    return x[picks], (y[picks] > 0.5).astype(int), note


def point_shares(sizes: list[int], max_points: int) -> list[int]:
    """How many of each set to draw: all while they fit in `max_points` together, else shares in
    proportion to the sets' sizes (each at least one point)."""
    total = sum(sizes)
    if total <= max_points:
        return list(sizes)
    return [min(n, max(1, n * max_points // total)) for n in sizes]


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """At most k indices spread evenly over range(n), first and last included: the same every frame,
    and a data set stored class by class keeps its proportions."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _percent(probability: np.ndarray) -> np.ndarray:
    """p in whole percent as uint8; float32 with gaps where a diverged network gave no number."""
    values = np.asarray(probability, dtype=np.float64) * 100
    if np.isfinite(values).all():
        return np.clip(values.round(), 0, 100).astype(np.uint8)
    return compact(values.round())


# ---------------------------------------------------------------- units ---


def units_figure(plane: PlaneGrid, *, epoch: int | None = None, layer_name: str = "first hidden layer",
                 max_units: int = MAX_UNIT_PLOTS, columns: int = UNIT_COLUMNS) -> go.Figure:
    """Each unit of the first hidden layer over the plane (after its activation), a small multiple
    each, coloured by its own largest |output| (its label gives it).

    All tiles share one pair of hidden axes, each tile a heatmap placed by its x0, y0 (one cell = 1):
    per-tile axes and titles cost ~600 bytes a unit, more than the tile's own cells.
    """
    units = np.asarray(plane.units)[:max_units]
    shown, total = len(units), int(plane.total_units)
    at = f" at epoch {epoch}" if epoch is not None else ""
    if not shown:
        return _no_units_figure(at)
    title = f"Each unit of the {layer_name} over the plane{at}"
    title += f" · the first {shown} of {total}" if shown < total else ""
    step = max(1, math.ceil(len(plane.x1) / UNIT_SIDE), math.ceil(len(plane.x2) / UNIT_SIDE))
    tiles = units[:, ::step, ::step]  # (K, S2, S1)
    rows, (side_y, side_x) = math.ceil(shown / columns), tiles.shape[1:]
    pitch_x, pitch_y = side_x + UNIT_GAP, side_y + UNIT_GAP + UNIT_LABEL_ROOM
    traces, label_x, label_y, labels = [], [], [], []
    for k, tile in enumerate(tiles):
        row, column = divmod(k, columns)
        left, bottom = column * pitch_x, (rows - 1 - row) * pitch_y  # the first row on top; x2 still upward in each
        z, limit = _scaled(tile)
        traces.append(dict(type="heatmap", z=z, x0=left, dx=1, y0=bottom, dy=1, coloraxis="coloraxis",
                           zsmooth="best", name=f"unit {k}",
                           hovertemplate=f"unit {k}: %{{z}}/{UNIT_LEVELS} of {number_label(limit)}<extra></extra>"))
        label_x.append(left + (side_x - 1) / 2)
        label_y.append(bottom + side_y - 0.5 + UNIT_LABEL_ROOM / 2)
        labels.append(f"{k} ±{number_label(float(f'{limit:.2g}'))}")  # two digits: fits a tile at half width
    traces.append(dict(type="scatter", x=label_x, y=label_y, text=labels, mode="text", textfont=dict(size=9),
                       hoverinfo="skip", name="labels"))
    hidden = dict(visible=False, fixedrange=True)
    return make_figure(traces, dict(
        title=dict(text=title, font=dict(size=14)), height=70 + UNIT_ROW_HEIGHT * rows, showlegend=False,
        xaxis=dict(hidden, range=[-0.5, columns * pitch_x - UNIT_GAP - 0.5]),
        yaxis=dict(hidden, range=[-0.5, rows * pitch_y - UNIT_GAP - 0.5], scaleanchor="x", constrain="domain"),
        margin=dict(l=10, r=90, t=55, b=10, autoexpand=False),
        coloraxis=dict(colorscale=DIVERGING, cmin=-UNIT_LEVELS, cmid=0, cmax=UNIT_LEVELS,
                       colorbar=dict(thickness=8, tickvals=[-UNIT_LEVELS, 0, UNIT_LEVELS],
                                     ticktext=["−max", "0", "+max"],
                                     title=dict(text="output /<br>its max |output|", side="right",
                                                font=dict(size=10)))),
    ))


def _no_units_figure(at: str) -> go.Figure:
    note = ("No hidden layer: the logit is w1·x1 + w2·x2 + b, so the boundary (p = 0.5, logit = 0) "
            "is a straight line.")
    return make_figure([], dict(
        title=dict(text=f"Hidden units over the plane{at}", font=dict(size=14)), height=120,
        xaxis=dict(visible=False), yaxis=dict(visible=False),
        annotations=[dict(text=note, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(size=12))],
    ))


def _scaled(values: np.ndarray) -> tuple[np.ndarray, float]:
    """(values / their largest finite |value| in -UNIT_LEVELS..UNIT_LEVELS as int8 (float32 with gaps
    where a value is not finite), that largest |value|; 1 when it is 0)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    levels = np.round(values / limit * UNIT_LEVELS)
    if np.isfinite(levels).all():
        return levels.astype(np.int8), limit
    return compact(levels), limit


# ------------------------------------------------------------ the plane ---


def _grid_placement(x1: np.ndarray, x2: np.ndarray) -> dict:
    """A heatmap's cell centres as a start and a step (x0, dx): two numbers instead of G each."""
    return dict(x0=float(x1[0]), dx=_step(x1), y0=float(x2[0]), dy=_step(x2))


def _step(values: np.ndarray) -> float:
    return float(values[1] - values[0]) if len(values) > 1 else 1.0


def _plane_range(values: np.ndarray) -> tuple[float, float]:
    """The axis range covering the outer cells whole: half a step beyond the first and last centre."""
    half = _step(values) / 2
    return float(values[0]) - half, float(values[-1]) + half
