"""pages/ui/train/live_chart.py on the Python side: what each frame drawn in place sends to the browser.
(The browser side, one plot updated in place that never blinks, is tested in tests/e2e.)"""

import json
import re
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from streamlit.testing.v1 import AppTest

from pages.ui.train.live_chart import PLOTLY_CHUNK


def loss_frame() -> go.Figure:
    return go.Figure(go.Scatter(x=[1, 2, 3], y=[3.0, 1.5, 1.0]),
                     layout={"title": "Loss (epoch 3: 1)", "template": "none"})


def two_slots():
    import plotly.graph_objects as go
    import streamlit as st

    from pages.ui.train.live_chart import live_chart
    from tests.test_live_chart import loss_frame

    loss, weights = st.empty(), st.empty()
    live_chart(loss, loss_frame(), "loss")
    live_chart(weights, go.Figure(layout={"title": "Weights at epoch 0", "template": "none"}), "weights",
               interactive=True)


def test_a_frame_carries_its_figure_its_chart_and_a_frame_number_that_only_grows():
    at = AppTest.from_function(two_slots).run()
    assert not at.exception
    loss, weights = (json.loads(element.proto.json) for element in at.get("bidi_component"))
    assert json.loads(loss["figure"]) == json.loads(pio.to_json(loss_frame(), validate=False))
    assert (loss["name"], weights["name"]) == ("loss", "weights")
    assert loss["frame"] < weights["frame"]  # the browser keeps the newest frame when two arrive out of order
    assert (loss["interactive"], weights["interactive"]) == (False, True)  # live frames are static plots


def test_plotly_js_comes_from_the_chunk_streamlits_own_charts_load():
    """One copy of plotly.js in the page: the component imports the module st.plotly_chart imports."""
    frontend = Path(st.__file__).parent / "static"
    assert (frontend / "static" / "js" / PLOTLY_CHUNK).stat().st_size > 4_000_000  # plotly.js itself is in it
    main_bundle = re.search(r'src="\./(static/js/index\.[^"]+\.js)"', (frontend / "index.html").read_text()).group(1)
    assert PLOTLY_CHUNK in (frontend / main_bundle).read_text()  # the chunk Streamlit imports for st.plotly_chart
