"""Charts drawn in place: one plotly div per chart, updated with Plotly.react.

`st.plotly_chart` makes the figure part of the element's identity, so each new frame is a new
element: React remounts it and plotly draws the chart from scratch. At 20 frames a second that is
more than the browser can do beside training on two cores (12-13 frames shown a second). This
component keeps one plot div per chart across frames and moves it into each new frame's element,
where `Plotly.react` redraws only what changed (16-17 frames shown a second, same machine).

It draws the start view and live frames. It imports plotly.js from the chunk Streamlit's own charts
import (one copy in the page), once the controls have painted, and applies the template Streamlit's
light theme gives those charts (streamlit_light_plotly_template.json; .streamlit/config.toml sets
the light theme; a browser test checks the two still match), so a frame looks like the chart it
becomes when the run pauses or ends. Live frames are static plots: no hover or zoom on a chart
replaced 20 times a second; paused or finished, the charts are interactive `st.plotly_chart`s.
"""

from __future__ import annotations

import time
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

THEME = Path(__file__).with_name("streamlit_light_plotly_template.json").read_text()

_JS = Path(__file__).with_suffix(".js").read_text().replace("__THEME__", THEME)

_live_plot = st.components.v2.component("module_lab_live_plot", js=_JS, isolate_styles=False)


def streamlit_plotly_chunk() -> str:
    """The file name of Streamlit's plotly.js chunk (PlotlyChart.<hash>.js, one per Streamlit build)."""
    (chunk,) = (Path(st.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js")
    return chunk.name


PLOTLY_CHUNK = streamlit_plotly_chunk()


def live_chart(slot, figure: go.Figure | str, name: str, interactive: bool = False) -> None:
    """Draw `figure` (or its JSON) in `slot` as the newest frame of the chart `name`."""
    spec = figure if isinstance(figure, str) else pio.to_json(figure, validate=False)
    with slot:
        # frame: the browser may run an older frame's code after a newer one's; it must not win.
        _live_plot(data={"figure": spec, "name": name, "frame": time.monotonic_ns(),
                         "interactive": interactive, "plotly": PLOTLY_CHUNK})
