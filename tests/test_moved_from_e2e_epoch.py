"""A check of the One epoch page moved from the browser tests (tests/e2e/test_e2e_epoch.py) to AppTest: the
graph phase's chart names autograd's nodes, which is the figure's spec, not pixels. The browser keeps the
six phases' screenshots."""

import json

from test_epoch_page import open_page

NODES = ("SumBackward0", "PowBackward0", "SubBackward0", "AddmmBackward0", "ReluBackward0", "TBackward0",
         "AccumulateGrad", "0.weight", "0.bias", "2.weight", "2.bias")


def test_the_graph_phase_draws_the_losses_autograd_graph():
    at = open_page(phase="graph")
    assert [heading.value for heading in at.subheader][0] == "3 · the autograd graph"
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    (graph,) = [f for f in figures if f["layout"]["title"]["text"].startswith("loss.grad_fn and its next_functions")]
    assert [trace["type"] for trace in graph["data"]] == ["scatter", "scatter"]  # the edges; the nodes with their names
    labels = " ".join(" ".join(trace.get("text") or []) for trace in graph["data"])
    for node in NODES:
        assert node in labels, node
    text = " ".join(element.value for kind in ("markdown", "info", "code", "caption")
                    for element in getattr(at, kind))
    for word in ("forward", "backward", "zero_grad", "sub_"):
        assert word in text, word
