"""The Train page's figures, pure builders: plain numbers and numpy arrays in, `go.Figure` out.

Every live figure has a bounded size, whatever the run length or the layer sizes (viz.common's
decimation and pooling), so one frame of the Train page stays under about 100 KB of JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import plotly.graph_objects as go

from viz.common import (
    BASE_LAYOUT,
    DEAD_COLOUR,
    DIVERGING,
    LAYER_COLOURS,
    MAX_POINTS,
    MAX_SIDE,
    compact,
    decimate,
    literal,
    make_figure,
    pool,
)

MATRICES_HEIGHT = 380  # px, the weight and gradient heatmaps
MAX_LR_MARKERS = 20  # the latest learning-rate changes marked on the loss curve (~260 bytes each)


class LayerArrays(Protocol):
    """What the matrix figures read from a layer (core.trainer.LayerState fits)."""

    name: str
    weight: np.ndarray  # (out_features, in_features)
    bias: np.ndarray  # (out_features,)
    weight_grad: np.ndarray | None
    bias_grad: np.ndarray | None


# ------------------------------------------------------------------ curves ---


PLAIN_LABELS = (1e-3, 1e5)  # values in this range get full-number tick labels ("0.002", "50000"), others "1e+38"
LABEL_CHAR_PX = 7  # px per character of a 12 px tick label
Y_TITLE_PX = 22  # beside the tick labels: the rotated y-axis title and the gaps around it


def _finite(curves: Sequence[np.ndarray], positive: bool) -> np.ndarray:
    values = np.concatenate([np.ravel(np.asarray(c, dtype=np.float64)) for c in curves] or [np.empty(0)])
    return values[np.isfinite(values) & ((values > 0) if positive else True)]


def _value_axis(curves: Sequence[np.ndarray], log_scale: bool, digits: int) -> tuple[dict, int]:
    """(tick settings of a y axis showing these values, its widest tick label in characters).

    Full numbers while they stay short; on a log axis spanning decades a fixed format, since plotly's
    own labels minor ticks "2", "5" (for 20, 50). Outside PLAIN_LABELS exponents ("1e+38", "2e-8"):
    a full 1e38 is 39 digits, clipped by the fixed margin. Elsewhere plotly's own format, which
    carries as many digits as the tick step needs (a fixed 4 significant digits labels ticks 60305
    and 60310 both "60310").
    """
    values = np.abs(_finite(curves, positive=log_scale))
    values = values[values > 0]
    if not values.size:
        return dict(tickformat=None), 4
    high = float(values.max())
    low = float(values.min()) if log_scale else high  # a linear axis's labels follow its top: 0, 2e+31, 4e+31
    plain = PLAIN_LABELS[0] <= low and high < PLAIN_LABELS[1]
    spans_decades = high >= 10 * low
    if plain:
        widest = max(len(np.format_float_positional(10.0 ** np.floor(np.log10(low)), trim="-")),
                     len(f"{high:.0f}"), 4)
        return dict(tickformat=f".{digits}~r" if log_scale and spans_decades else None), widest
    # Characters of "5e+38", counting one more: "e" and the minus sign are wider than a digit.
    exponent_chars = 4 + len(str(int(max(abs(np.floor(np.log10(low))), abs(np.ceil(np.log10(high)))))))
    if log_scale and spans_decades:  # ticks at 1, 2, 5 x 10^k: "5e+38", "2e-8"
        return dict(tickformat="~e", exponentformat="e"), exponent_chars
    return dict(tickformat=None, exponentformat="e"), exponent_chars + 3  # "2.25e+38": the digits the step needs


def _left_margin(label_chars: int) -> int:
    """Room for the y tick labels and the axis title beside them (margins do not grow by themselves)."""
    return max(BASE_LAYOUT["margin"]["l"], LABEL_CHAR_PX * label_chars + Y_TITLE_PX)


def number_label(value: float) -> str:
    """A short label: 3 significant digits, in full inside PLAIN_LABELS ("100", "0.0123", "12300"),
    else with an exponent ("1e+38", "-3.4e-08" reads "-3.4e-8")."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if PLAIN_LABELS[0] <= abs(value) < PLAIN_LABELS[1]:
        return np.format_float_positional(float(f"{value:.3g}"), trim="-")
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent):+d}"


def _vline(epoch: int, text: str, colour: str, dash: str = "dot") -> tuple[dict, dict]:
    """A vertical marker at an epoch: (shape, annotation)."""
    shape = dict(type="line", xref="x", yref="paper", x0=epoch, x1=epoch, y0=0, y1=1,
                 line=dict(color=colour, dash=dash))
    note = dict(x=epoch, xref="x", y=1, yref="paper", text=text, showarrow=False, xanchor="left", yanchor="bottom",
                font=dict(color=colour, size=11))
    return shape, note


def loss_figure(
    epochs: Sequence[int],
    losses: Sequence[float],
    *,
    log_scale: bool = False,
    lr_changes: Sequence[tuple[int, float]] = (),
    diverged_at: int | None = None,
    total_epochs: int | None = None,
    max_points: int = MAX_POINTS,
    test_losses: Sequence[float] | None = None,
) -> go.Figure:
    """The loss of every epoch; learning-rate changes and a divergence marked.

    With `test_losses` (one per epoch, the held-out rows' loss) two traces, `train` and `test`, with a legend.
    """
    x, y = decimate(epochs, losses, max_points)
    markers = [_vline(epoch, f"lr={rate:g}", "#777") for epoch, rate in list(lr_changes)[-MAX_LR_MARKERS:]]
    if diverged_at is not None:
        markers.append(_vline(diverged_at, f"diverged at epoch {diverged_at}", "#d62728", "solid"))
    last = f" (epoch {int(epochs[-1])}: {float(losses[-1]):.6g})" if len(epochs) else ""
    if not len(epochs):  # before the first epoch: say where the curve will be, not an invented y range
        markers.append(({}, dict(text="each epoch's loss appears here", x=0.5, y=0.5, xref="paper", yref="paper",
                                 showarrow=False, font=dict(size=13, color="#777"))))
    with_test = test_losses is not None
    trace = dict(type="scatter", x=compact(x), y=compact(y), mode="lines", name="train" if with_test else "loss",
                 line=dict(color=LAYER_COLOURS[0], width=2),
                 hovertemplate=f"epoch %{{x}}<br>{'train loss' if with_test else 'loss'} %{{y:.6g}}<extra></extra>")
    traces, curves = [trace], [y]
    if with_test:
        test_x, test_y = decimate(epochs, test_losses, max_points)
        traces.append(dict(type="scatter", x=compact(test_x), y=compact(test_y), mode="lines", name="test",
                           line=dict(color=LAYER_COLOURS[1], width=2, dash="dash"),
                           hovertemplate="epoch %{x}<br>test loss %{y:.6g}<extra></extra>"))
        curves.append(test_y)
        if len(epochs):
            last = f" (epoch {int(epochs[-1])}: train {float(losses[-1]):.6g}, test {float(test_losses[-1]):.6g})"
    ticks, label_chars = _value_axis(curves, log_scale, digits=4)
    legend = dict(showlegend=True, legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom")) \
        if with_test else dict(showlegend=False)
    return make_figure(traces, dict(
        title=dict(text=f"Loss{last}"),
        xaxis=dict(title=dict(text="epoch"), range=[0, total_epochs] if total_epochs else None),
        yaxis=dict(title=dict(text="loss"), type="log" if log_scale else "linear", showticklabels=bool(len(epochs)),
                   **ticks),
        shapes=[shape for shape, _ in markers if shape], annotations=[note for _, note in markers],
        margin=dict(BASE_LAYOUT["margin"], l=_left_margin(label_chars)), **legend,
    ))


def grad_norm_figure(
    epochs: Sequence[int],
    norms: Mapping[str, Sequence[float]],
    *,
    epoch: int | None = None,
    total_epochs: int | None = None,
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """L2 norm of each parameter's gradient over epochs: a colour per layer, bias dotted."""
    layer_names = list(dict.fromkeys(name.split(".")[0] for name in norms))
    traces = []
    for name, values in norms.items():
        layer, _, kind = name.partition(".")
        x, y = decimate(epochs, values, max(2, 2 * max_points // max(1, len(norms))))
        colour = LAYER_COLOURS[layer_names.index(layer) % len(LAYER_COLOURS)]
        traces.append(dict(
            type="scatter", x=compact(x), y=compact(np.where(y > 0, y, np.nan)), mode="lines", name=name,
            line=dict(color=colour, dash="dot" if kind == "bias" else "solid"),
            hovertemplate=f"{name}<br>epoch %{{x}}<br>‖grad‖ %{{y:.4g}}<extra></extra>",
        ))
    ticks, label_chars = _value_axis(list(norms.values()), True, digits=3)
    return make_figure(traces, dict(
        title=dict(text="Gradient norm per parameter" + (f" (epoch {epoch})" if epoch is not None else "")),
        xaxis=dict(title=dict(text="epoch"), range=[0, total_epochs] if total_epochs else None),
        yaxis=dict(title=dict(text="‖grad‖₂"), type="log", **ticks),
        **_legend_below(len(traces), left=_left_margin(label_chars)),
    ))


def _legend_below(entries: int, height: int = 320, top: int = 50, per_row: int = 4, left: int = 50) -> dict:
    """A horizontal legend under the x axis, in a bottom margin sized for its rows: with autoexpand off,
    plotly does not draw the figure a second time to make room for it."""
    if left > BASE_LAYOUT["margin"]["l"]:  # wide tick labels narrow the plot, and with it the legend's rows
        per_row -= 1
    bottom = 60 + 22 * -(-entries // per_row)
    return dict(legend=dict(orientation="h", y=-45 / (height - top - bottom), yanchor="top"),
                margin=dict(BASE_LAYOUT["margin"], l=left, t=top, b=bottom, autoexpand=False))


# ---------------------------------------------------------------- matrices ---


def dead_units(weight_grad: np.ndarray | None, bias_grad: np.ndarray | None) -> list[int]:
    """Output units whose whole gradient (row of weight.grad and bias.grad) is exactly zero."""
    if weight_grad is None or bias_grad is None:
        return []
    zero = np.all(weight_grad == 0, axis=1) & (bias_grad == 0)
    return np.flatnonzero(zero).tolist()


def weights_figure(layers: Sequence[LayerArrays], *, epoch: int | None = None, max_side: int = MAX_SIDE) -> go.Figure:
    """One heatmap per nn.Linear (rows = output units, columns = inputs), its bias beside it."""
    matrices = [(layer.name, layer.weight, layer.bias, []) for layer in layers]
    title = "Weights" + (f" at epoch {epoch}" if epoch is not None else "")
    return _matrices_figure(matrices, title, "weight", "bias", max_side)


def gradients_figure(layers: Sequence[LayerArrays], *, epoch: int | None = None, max_side: int = MAX_SIDE) -> go.Figure:
    """Each layer's current weight.grad and bias.grad; units with exactly zero gradient marked ×."""
    matrices = [
        (layer.name, layer.weight_grad, layer.bias_grad, dead_units(layer.weight_grad, layer.bias_grad))
        for layer in layers
        if layer.weight_grad is not None and layer.bias_grad is not None
    ]
    dead = sum(len(units) for *_, units in matrices)
    title = "Gradients" + (f" at epoch {epoch}" if epoch is not None else "")
    title += f" · {dead} unit{'s' if dead != 1 else ''} with zero gradient (×)" if dead else ""
    return _matrices_figure(matrices, title, "weight.grad", "bias.grad", max_side)


def _matrices_figure(matrices, title: str, weight_label: str, bias_label: str, max_side: int) -> go.Figure:
    """Lay the layers side by side, [weight | bias] each, with its own colour range.

    Widths follow the (pooled) input count and heights the output count, so a 1 x 32
    output layer is a strip, not 32 stretched bars; tiny layers get a minimum size.
    """
    shapes = [(min(np.shape(w)[0], max_side), min(np.shape(w)[1], max_side)) for _, w, _, _ in matrices]
    pooled_rows = any(np.shape(w)[0] > max_side for _, w, _, _ in matrices)
    pooled_columns = any(np.shape(w)[1] > max_side for _, w, _, _ in matrices)
    margin, colorbar_px = _matrices_margin(pooled_rows, pooled_columns)
    colorbar_gap = colorbar_px / (MATRICES_HEIGHT - margin["t"] - margin["b"])  # paper units
    # In heatmap cells: a layer's width (tiny ones get a minimum), then its bias column, then room for
    # the next layer's y labels, which for pooled rows read "480:496", not "31".
    widths = [max(cols, 6) for _, cols in shapes]
    label_gap = 18.0 if pooled_rows else 2.8
    scale = 0.98 / max(1.0, sum(width + 1.2 + label_gap for width in widths))
    tallest = max((rows for rows, _ in shapes), default=1)
    left, data, layout = 0.0, [], {}
    for i, ((name, weight, bias, dead), width, (rows, _)) in enumerate(zip(matrices, widths, shapes), start=1):
        weight_domain = [left, left + width * scale]
        bias_domain = [weight_domain[1] + 0.2 * scale, weight_domain[1] + 1.2 * scale]
        height = max(rows / tallest, 0.18)
        left = bias_domain[1] + label_gap * scale
        traces, axes = _layer_heatmaps(i, name, weight, bias, dead, weight_domain, bias_domain,
                                               [1 - height, 1], weight_label, bias_label, max_side, colorbar_gap)
        data += traces
        layout.update(axes)
    if pooled_rows or pooled_columns:
        title += f" · large layers pooled to ≤{max_side}×{max_side} block means"
    return make_figure(data, dict(layout, title=dict(text=title), height=MATRICES_HEIGHT, showlegend=False,
                                  margin=margin))


def _matrices_margin(pooled_rows: bool, pooled_columns: bool) -> tuple[dict, int]:
    """(margin, px from plot to colour bars): room for tick labels, axis titles and colour bars,
    so plotly need not grow the margins.

    autoexpand is off because growing a margin makes plotly draw the whole figure again, once per
    colour bar: that doubled the browser's cost of every live heatmap frame. Pooled labels ("32:48")
    are longer and, on x, turn vertical, so they get more room.
    """
    margin = dict(l=80 if pooled_rows else 50, r=20, t=60, b=135 if pooled_columns else 90, autoexpand=False)
    return margin, 90 if pooled_columns else 52


def _layer_heatmaps(i, name, weight, bias, dead, weight_domain, bias_domain, y_domain, weight_label, bias_label,
                    max_side, colorbar_gap):
    """One layer's weight and bias heatmaps (axes 2i-1 and 2i) sharing colour axis i: (traces, layout)."""
    z, rows, cols = pool(weight, max_side)
    b, _, _ = pool(np.asarray(bias).reshape(-1, 1), max_side)
    limit = _symmetric_limit(z, b)
    pooled = len(rows) < np.shape(weight)[0] or len(cols) < np.shape(weight)[1]
    where = "mean of " if pooled else ""
    x_weight, x_bias, y_axis = _axis_id("x", 2 * i - 1), _axis_id("x", 2 * i), _axis_id("y", 2 * i - 1)
    row_text = [str(r) for r in rows]
    traces = [
        dict(type="heatmap", z=z.astype(np.float32), x=[str(c) for c in cols], y=row_text, xaxis=x_weight,
             yaxis=y_axis, coloraxis=f"coloraxis{i}",
             hovertemplate=f"{where}{name}.{weight_label}[%{{y}}, %{{x}}]<br>%{{z:.4g}}<extra></extra>"),
        dict(type="heatmap", z=b.astype(np.float32), x=["b"], y=row_text, xaxis=x_bias, yaxis=y_axis,
             coloraxis=f"coloraxis{i}",
             hovertemplate=f"{where}{name}.{bias_label}[%{{y}}]<br>%{{z:.4g}}<extra></extra>"),
    ]
    if dead:
        marked = sorted({_block_of(unit, rows) for unit in dead})
        traces.append(dict(
            type="scatter", x=["b"] * len(marked), y=[row_text[j] for j in marked], xaxis=x_bias, yaxis=y_axis,
            mode="markers", marker=dict(symbol="x", size=9, color=DEAD_COLOUR),
            hovertemplate=f"{name}: zero gradient (dead unit)<extra></extra>",
        ))
    layout = {
        _layout_key(x_weight): dict(domain=weight_domain, type="category", anchor=y_axis, showgrid=False,
                                    title=dict(text=f"layer {name}: inputs →")),
        _layout_key(x_bias): dict(domain=bias_domain, type="category", anchor=y_axis, showgrid=False),
        _layout_key(y_axis): dict(domain=y_domain, type="category", autorange="reversed", anchor=x_weight,
                                  showgrid=False, title=dict(text="output unit") if i == 1 else None),
        f"coloraxis{i}": dict(
            colorscale=DIVERGING, cmid=0, cmin=-limit, cmax=limit,
            colorbar=dict(orientation="h", x=(weight_domain[0] + bias_domain[1]) / 2, xanchor="center",
                          y=y_domain[0] - colorbar_gap, yanchor="top", len=max(bias_domain[1] - weight_domain[0], 0.14),
                          thickness=8, tickvals=[-limit, 0, limit],
                          ticktext=[number_label(-limit), "0", number_label(limit)],
                          tickfont=dict(size=10)),
        ),
    }
    return traces, layout


def _symmetric_limit(*arrays: np.ndarray) -> float:
    """Largest finite |value|: the colour range is [-limit, limit], centred on 0 (1 if nothing is finite)."""
    finite = [np.abs(a[np.isfinite(a)]) for a in arrays]
    return float(max((f.max() for f in finite if f.size), default=0.0)) or 1.0


def _axis_id(letter: str, n: int) -> str:
    """plotly's axis names: x, x2, x3..."""
    return letter if n == 1 else f"{letter}{n}"


def _layout_key(axis_id: str) -> str:
    """'x2' -> 'xaxis2', 'y' -> 'yaxis'."""
    return f"{axis_id[0]}axis{axis_id[1:]}"


def _block_of(unit: int, row_labels: list) -> int:
    """Index of the pooled row that holds a unit."""
    for j, label in enumerate(row_labels):
        start, _, stop = str(label).partition(":")
        if int(start) <= unit < (int(stop) if stop else int(start) + 1):
            return j
    return len(row_labels) - 1


# ------------------------------------------------------------ after a run ---


def prediction_figure(y_true: np.ndarray, y_pred: np.ndarray, *, r_squared: float | None = None) -> go.Figure:
    """Predicted against true targets, with the y = x line a perfect model would sit on."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float32), np.asarray(y_pred, dtype=np.float32)
    both = np.concatenate([y_true, y_pred])
    both = both[np.isfinite(both)]
    lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    r2 = f" · R² = {r_squared:.3f}" if r_squared is not None else ""
    return make_figure(
        [
            dict(type="scatter", x=[lo, hi], y=[lo, hi], mode="lines", line=dict(color="#999", dash="dash"),
                 name="y = x", hoverinfo="skip"),
            dict(type="scatter", x=y_true, y=y_pred, mode="markers", name="samples",
                 marker=dict(size=6, color=LAYER_COLOURS[0], opacity=0.7),
                 hovertemplate="true %{x:.3g}<br>predicted %{y:.3g}<extra></extra>"),
        ],
        dict(title=dict(text=f"Predicted vs true{r2}"), xaxis=dict(title=dict(text="true y")),
             yaxis=dict(title=dict(text="predicted y")), showlegend=False),
    )


def sensitivity_figure(
    learned: Sequence[float], true: Sequence[float] | None = None, *, names: Sequence[str] | None = None
) -> go.Figure:
    """The network's mean d y_pred / d x_i beside the coefficients that generated the data (if known).

    `names` (an uploaded CSV's columns) are shown literally."""
    names = [literal(n) for n in names] if names is not None else [
        f"x{i + 1}" for i in range(len(learned))]
    bars = [dict(type="bar", x=names, y=np.asarray(learned, dtype=np.float64), name="learned: mean ∂ŷ/∂xᵢ",
                 marker=dict(color=LAYER_COLOURS[0]))]
    if true is not None:
        bars.append(dict(type="bar", x=names, y=np.asarray(true, dtype=np.float64), name="true coefficient",
                         marker=dict(color="#999")))
    return make_figure(bars, dict(title=dict(text="Input sensitivities"), barmode="group",
                              yaxis=dict(title=dict(text="∂y/∂xᵢ")), legend=dict(orientation="h", y=-0.2)))


def add_title_note(figure: go.Figure, note: str) -> go.Figure:
    """Append " · note" to the figure's title, in place: what a reader should know about when it was drawn."""
    figure.update_layout(title_text=f"{figure.layout.title.text} · {note}")
    return figure
