"""The Train page with the Playground's options (classification sets, test split, mini-batches, penalties),
via AppTest."""

import base64
import json
from collections import OrderedDict
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import plotly.io as pio
import pytest
from apptest import open_page
from streamlit.testing.v1 import AppTest
from test_runs_page import trained
from test_train_page import chart, charts

from core.config import Config
from core.presets import PRESETS
from core.trainer import Trainer
from pages.ui.train import live_view
from server import figure_cache
from tests.displayed import displayed
from tests.test_shared_figures import counted
from viz.boundary import boundary_figures

PAGE = str(Path(__file__).parent.parent / "pages" / "train.py")
# A link with the Playground's options, shorter.
XOR = {"dataset": "xor", "test_fraction": "0.3", "hidden_sizes": "8,8", "activation": "Tanh", "optimizer": "adam",
       "learning_rate": "0.03", "epochs": "40", "batch_size": "16", "l2": "0.0001", "reduction": "mean"}


def page(params: dict[str, str]) -> AppTest:
    return open_page("train", **params)


def decode(array: dict | list) -> np.ndarray:
    """A plotly array as JSON carries it: a list, or typed bytes {"dtype", "bdata"} in base64."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def loss_chart(at: AppTest) -> dict:
    return chart(at, "Loss")


@pytest.fixture(scope="module")
def xor_run() -> AppTest:
    at = page(XOR)
    at.button(key="btn_train").click().run()
    assert not at.exception and at.session_state.status == "finished"
    return at


def test_a_link_fills_the_new_widgets():
    at = page(XOR)
    assert at.selectbox(key="dataset").value == "xor"
    assert at.select_slider(key="test_fraction").value == 0.3
    assert at.number_input(key="batch_size").value == 16
    assert at.select_slider(key="l2").value == 0.0001 and at.select_slider(key="l1").value == 0
    assert not [w for w in at.text_input if w.key == "coefficients"]  # a classification set has no target formula


def test_the_xor_link_trains_as_the_trainer_with_train_and_test_side_by_side(xor_run):
    expected = trained(Config().replace(**XOR)).history
    history = xor_run.session_state.trainer.history
    np.testing.assert_array_equal(history.losses, expected.losses)
    np.testing.assert_array_equal(history.test_losses, expected.test_losses)
    metrics = {m.label: m.value for m in xor_run.metric}
    assert metrics == {"loss · train": f"{expected.losses[-1]:.4g}", "loss · test": f"{expected.test_losses[-1]:.4g}",
                       "accuracy · train": f"{expected.accuracies[-1]:.1%}",
                       "accuracy · test": f"{expected.test_accuracies[-1]:.1%}", "Epochs trained": "40"}
    assert expected.accuracies[-1] > 0.9


def test_the_loss_chart_has_a_train_and_a_test_trace(xor_run):
    loss = loss_chart(xor_run)
    assert [trace["name"] for trace in loss["data"]] == ["train", "test"]
    assert loss["layout"]["showlegend"] is True


def test_classification_says_why_the_model_outputs_logits(xor_run):
    text = " ".join(info.value for info in xor_run.info)
    assert "BCEWithLogitsLoss" in text and "torch.sigmoid" in text and "numerically stable" in text
    assert not [info for info in page({}).info if "logits" in info.value]  # the lesson's regression: no such note


def test_the_printout_and_code_follow_the_options(xor_run):
    printout = " ".join(code.value for code in xor_run.code)
    assert "Epoch: 40  Loss: " in printout and "Test accuracy: " in printout
    assert any("DataLoader(TensorDataset(x, y), batch_size=16" in code.value and "loss = loss + l2 * sum(" in code.value
               for code in xor_run.code)


def test_an_unknown_dataset_in_the_link_is_named():
    at = page({"dataset": "moons"})
    warning = displayed(" ".join(w.value for w in at.sidebar.warning))
    assert "dataset: 'moons' is not one of lesson, circle, xor, gauss, spiral" in warning
    assert at.selectbox(key="dataset").value == "lesson"


def test_a_bad_batch_size_in_the_link_is_named():
    at = page({"batch_size": "-3", "test_fraction": "2"})
    warning = displayed(" ".join(w.value for w in at.sidebar.warning))
    assert "batch_size: -3 is out of range" in warning and "test_fraction: 2 is out of range" in warning


def test_preset_links_carry_each_presets_settings():
    markdown = " ".join(m.value for m in page({}).sidebar.markdown)
    for preset in PRESETS:
        link = f"[{preset.name}](train?"
        assert link in markdown
        query = markdown.split(link, 1)[1].split(" ", 1)[0]
        assert Config().replace(**dict(parse_qsl(urlsplit("?" + query).query, keep_blank_values=True))) == preset.config


@pytest.mark.parametrize("dataset", ["circle", "gauss", "spiral"])
def test_the_other_sets_train_without_error(dataset):
    at = page({"dataset": dataset, "epochs": "15", "test_fraction": "0.2", "learning_rate": "0.01",
               "optimizer": "adam", "reduction": "mean"})
    at.button(key="btn_train").click().run()
    assert not at.exception and at.session_state.status == "finished"
    assert [m.label for m in at.metric][:4] == ["loss · train", "loss · test", "accuracy · train", "accuracy · test"]


def test_a_kept_classification_run_shows_its_accuracy_in_the_runs_table():
    at = page({**XOR, "epochs": "5"})
    at.button(key="btn_train").click().run()
    at.button(key="btn_reset").click().run()
    table = next(frame for frame in at.dataframe if frame.key and frame.key.startswith("runs_table")).value
    history = trained(Config().replace(**{**XOR, "epochs": "5"})).history
    row = table.iloc[0]
    assert row["test loss"] == pytest.approx(history.test_losses[-1])
    assert row["accuracy"] == pytest.approx(100 * history.accuracies[-1])
    assert row["test accuracy"] == pytest.approx(100 * history.test_accuracies[-1])


def test_the_boundary_shows_the_training_and_test_points_and_the_hidden_units(xor_run):
    boundary = chart(xor_run, "Decision boundary at epoch 40")
    names = [trace.get("name") for trace in boundary["data"]]
    assert names == ["p(class 1)", "train: class 0", "train: class 1", "test: class 0", "test: class 1"]
    trainer = xor_run.session_state.trainer
    counts = [len(decode(trace["x"])) for trace in boundary["data"][1:]]
    assert sum(counts[:2]) == len(trainer.y) == 70 and sum(counts[2:]) == len(trainer.y_test) == 30
    assert counts[1] == int(trainer.y.sum()) and counts[3] == int(trainer.y_test.sum())
    assert chart(xor_run, "Each unit of the first hidden layer over the plane at epoch 40")


def test_before_training_the_boundary_of_the_initial_weights_is_drawn():
    at = page(XOR)
    assert chart(at, "Decision boundary at epoch 0") and chart(at, "Each unit of the first hidden layer")
    assert [t["name"] for t in chart(at, "Loss")["data"]] == ["train", "test"]


def test_sessions_with_equal_settings_share_the_boundary_of_the_initial_weights(monkeypatch):
    monkeypatch.setattr(figure_cache, "_kept", OrderedDict())
    built = []
    monkeypatch.setattr(live_view, "boundary_figures", counted(boundary_figures, built))
    first, second = page(XOR), page(XOR)
    assert len(built) == 1
    start = Trainer(Config().replace(**XOR).replace(device="cpu"))
    expected = json.loads(pio.to_json(boundary_figures(start.plane(), epoch=0)["boundary"], validate=False))
    for at in (first, second):
        drawn = chart(at, "Decision boundary at epoch 0")
        np.testing.assert_array_equal(decode(drawn["data"][0]["z"]), decode(expected["data"][0]["z"]))
    page({**XOR, "seed": "3"})
    assert len(built) == 2


def test_the_lessons_regression_has_no_boundary():
    assert not [c for c in charts(page({})) if c["layout"]["title"]["text"].startswith("Decision boundary")]


def test_replaying_an_earlier_epoch_draws_its_boundary():
    at = page({**XOR, "epochs": "12"})
    at.button(key="btn_train").click().run()
    (slider,) = [s for s in at.select_slider if s.key and s.key.startswith("replay_epoch_")]
    slider.set_value(3).run()
    assert not at.exception
    chart(at, "Decision boundary at epoch 3")


def test_a_paused_classification_run_says_the_one_epoch_page_cannot_replay_it():
    at = page(XOR)
    at.button(key="btn_step").click().run()
    assert at.session_state.status == "paused"
    assert any("cannot replay this run" in caption.value for caption in at.caption)
    assert not [m for m in at.markdown if "Inspect this epoch" in m.value]


def test_the_test_fraction_reads_as_a_percentage():
    from pages.ui.train.sidebar import percent_label

    assert [percent_label(v) for v in (0.0, 0.3, 0.7, 0.05, 0.333)] == ["0%", "30%", "70%", "5%", "0.333"]


def test_the_runs_chart_draws_a_kept_runs_test_loss():
    at = page({**XOR, "epochs": "5"})
    at.button(key="btn_train").click().run()
    names = [trace["name"] for trace in chart(at, "Runs compared")["data"]]
    assert names == ["run 1", "run 1 · test"]
    run = at.session_state.runs.runs[0]
    np.testing.assert_allclose(run.test_curve[1], at.session_state.trainer.history.test_losses, rtol=1e-6)
