"""Figures for comparing runs and replaying one: pure functions, plain arrays in, go.Figure out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.common import LAYER_COLOURS, MAX_POINTS, decimate, literal

REPLAY_COLOUR = "#9467bd"
DASHES = ("solid", "dash", "dot", "dashdot")  # a run equal to another (Train again) still shows under it


def comparison_figure(curves: Sequence[tuple], *, log_scale: bool = True,
                      max_points: int = MAX_POINTS) -> go.Figure:
    """Each run's loss over epochs, one trace per curve, named by the run. A curve is (name, epochs, losses),
    or (name, epochs, losses, (test epochs, test losses)) for a run with a test split: its test loss is a
    thinner dotted trace of the run's colour, named "<name> · test". Names, typed by visitors, are shown literally."""
    traces = []
    for i, (name, epochs, losses, *test) in enumerate(curves):
        name = literal(name)
        colour = LAYER_COLOURS[i % len(LAYER_COLOURS)]
        line = dict(color=colour, width=2, dash=DASHES[i % len(DASHES)])
        traces.append(_curve(name, epochs, losses, line, log_scale, max_points))
        if test:
            traces.append(_curve(f"{name} · test", *test[0], dict(color=colour, width=1.5, dash="dot"), log_scale,
                                 max_points))
    return go.Figure(data=traces, layout=dict(
        title=dict(text="Runs compared: loss"), template="none", height=360,
        margin=dict(l=60, r=20, t=50, b=40),
        xaxis=dict(title=dict(text="epoch")),
        yaxis=dict(title=dict(text="loss" + (" (log scale)" if log_scale else "")),
                   type="log" if log_scale else "linear"),
        showlegend=True, legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1.0, xanchor="right"),
    ))


def _curve(name: str, epochs: Sequence[int], losses: Sequence[float], line: dict, log_scale: bool,
           max_points: int) -> dict:
    x, y = decimate(epochs, losses, max_points)
    if log_scale:
        x, y = x[y > 0], y[y > 0]
    return dict(type="scatter", x=x.astype(np.float32), y=y.astype(np.float32), mode="lines", name=name, line=line,
                hovertemplate="%{fullData.name}<br>epoch %{x}<br>loss %{y:.6g}<extra></extra>")


def mark_epoch(figure: go.Figure, epoch: int) -> go.Figure:
    """A vertical line at the replayed epoch, in place: where the heatmaps below are from."""
    figure.add_shape(type="line", xref="x", yref="paper", x0=epoch, x1=epoch, y0=0, y1=1,
                     line=dict(color=REPLAY_COLOUR, width=2))
    figure.add_annotation(x=epoch, xref="x", y=1, yref="paper", text=f"replay: epoch {epoch}", showarrow=False,
                          xanchor="left", yanchor="bottom", font=dict(color=REPLAY_COLOUR, size=11))
    return figure
