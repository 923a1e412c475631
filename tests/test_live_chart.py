"""pages/parts/live_chart.py on the Python side: what each live frame sends to the browser.
(The browser side, one plot updated in place that never blinks, is tested in tests/e2e.)"""

import json

import plotly.graph_objects as go
import plotly.io as pio
from streamlit.testing.v1 import AppTest


def loss_frame() -> go.Figure:
    return go.Figure(go.Scatter(x=[1, 2, 3], y=[3.0, 1.5, 1.0]), layout={"title": "Loss (epoch 3: 1)", "template": "none"})


def three_slots():
    import plotly.graph_objects as go
    import streamlit as st

    from pages.parts.live_chart import live_chart, load_ahead
    from tests.test_live_chart import loss_frame

    loss, weights, ahead = st.empty(), st.empty(), st.empty()
    live_chart(loss, loss_frame(), "loss")
    live_chart(weights, go.Figure(layout={"title": "Weights at epoch 3", "template": "none"}), "weights")
    load_ahead(ahead)


def test_a_live_frame_carries_its_figure_its_chart_and_a_frame_number_that_only_grows():
    at = AppTest.from_function(three_slots).run()
    assert not at.exception
    loss, weights, ahead = (json.loads(element.proto.json) for element in at.get("bidi_component"))
    assert json.loads(loss["figure"]) == json.loads(pio.to_json(loss_frame(), validate=False))
    assert (loss["name"], weights["name"]) == ("loss", "weights")
    assert loss["frame"] < weights["frame"]  # the browser keeps the newest frame when two arrive out of order
    assert "figure" not in ahead  # loads the component's code in the browser, draws nothing

