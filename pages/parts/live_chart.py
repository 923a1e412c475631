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

_JS = """
const THEME = __THEME__;
let plotlyLoading;

export default function ({ parentElement, data }) {
  if (data?.figure) draw(parentElement, data);
}

async function draw(host, frame) {
  const plots = (window.__moduleLabPlots ??= {});
  const plot = (plots[frame.name] ??= document.createElement("div"));
  if (frame.frame < (plot.frame ?? 0)) return;  // a frame replaced before its code ran
  plot.frame = frame.frame;
  if (plot.parentNode !== host) host.replaceChildren(plot);
  followReplacement(plot, host);
  let Plotly;
  try {
    Plotly = window.Plotly ?? (await loadPlotly(frame.plotly));
  } catch (error) {
    plot.textContent = "This chart needs plotly.js, which did not load. Reload the page to try again.";
    return console.error("Module Lab: plotly.js did not load", error);
  }
  if (plot.frame !== frame.frame) return;  // a newer frame came while plotly.js loaded
  const shows = `${frame.interactive} ${frame.figure}`;
  if (plot.shows === shows) return;  // the same figure again (a run's first frame is the start view)
  plot.shows = shows;
  const { data: traces, layout } = JSON.parse(frame.figure);
  layout.template = THEME;
  if (layout.title) layout.title.text = `<b>${layout.title.text ?? ""}</b>`;  // as Streamlit's theme does
  // Plotly fits the plot to the div when the window resizes; a div without its own height would
  // measure 0 once it has been moved between elements, and the chart would vanish.
  if (layout.height) plot.style.height = `${layout.height}px`;
  Plotly.react(plot, traces, layout, { staticPlot: !frame.interactive, responsive: true });
}

// Streamlit's own plotly.js chunk, the module its st.plotly_chart imports (it sets window.Plotly).
// Imported once the page has painted: its 4.7 MB take the browser ~0.6 s, and the controls come first.
function loadPlotly(chunk) {
  plotlyLoading ??= new Promise((resolve, reject) => requestAnimationFrame(() => setTimeout(() => {
    const streamlit = document.querySelector("script[src*='/static/js/index.']");
    import(new URL(chunk, streamlit.src).href).then(() => resolve(window.Plotly), reject);
  })));
  return plotlyLoading;
}

// The next frame is a new element. React swaps it in at once, but runs its code only after the
// browser may have painted the page without this chart (a blink, and the page below jumps up).
// A MutationObserver runs before that paint: it moves the plot into the new element right away.
function followReplacement(plot, host) {
  const container = host.closest("[data-testid='stElementContainer']");
  const block = container?.parentNode;
  if (!block) return;
  const index = Array.prototype.indexOf.call(block.children, container);
  plot.observer?.disconnect();
  plot.observer = new MutationObserver(() => {
    if (plot.isConnected) return;
    const next = block.children[index];
    const nextHost = next?.matches("[data-testid='stElementContainer']") &&
      next.querySelector("[data-testid='stBidiComponentRegular']");
    if (nextHost) nextHost.replaceChildren(plot);
    else plot.observer.disconnect();  // the run ended: an interactive chart (or nothing) took its place
  });
  plot.observer.observe(block, { childList: true });
}
""".replace("__THEME__", THEME)

_live_plot = st.components.v2.component("module_lab_live_plot", js=_JS, isolate_styles=False)


def streamlit_plotly_chunk() -> str:
    """The file name of Streamlit's plotly.js chunk (PlotlyChart.<hash>.js, one per Streamlit build)."""
    (chunk,) = (Path(st.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js")
    return chunk.name


PLOTLY_CHUNK = streamlit_plotly_chunk()


def live_chart(slot, figure: go.Figure, name: str, interactive: bool = False) -> None:
    """Draw `figure` in `slot` as the newest frame of the chart `name`."""
    with slot:
        # frame: the browser may run an older frame's code after a newer one's; it must not win.
        _live_plot(data={"figure": pio.to_json(figure, validate=False), "name": name, "frame": time.monotonic_ns(),
                         "interactive": interactive, "plotly": PLOTLY_CHUNK})
