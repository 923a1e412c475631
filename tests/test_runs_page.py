"""The Train page's runs, driven by AppTest: the comparison chart and table, loading a run's settings,
the cap, and the replay slider."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_train_page import PAGE, chart, decode, set_epochs

from core.config import Config
from core.trainer import Trainer


def heatmaps(figure: dict) -> list[np.ndarray]:
    return [decode(trace["z"]) for trace in figure["data"] if trace["type"] == "heatmap"]


def trained(config: Config) -> Trainer:
    trainer = Trainer(config)
    while not trainer.done:
        trainer.step()
    return trainer


@pytest.fixture
def two_runs() -> AppTest:
    """Run 1 at the lesson's learning rate, then run 2 at 2e-4, each 30 epochs."""
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    set_epochs(at, 30)
    at.button(key="btn_train").click().run()
    at.select_slider(key="learning_rate").set_value(2e-4).run()
    at.button(key="btn_train").click().run()  # Train again: run 1 is kept, run 2 trains at 2e-4
    assert not at.exception and at.session_state.status == "finished"
    return at


def runs_table(at: AppTest):
    return next(frame for frame in at.dataframe if frame.key and frame.key.startswith("runs_table")).value


def replay(at: AppTest):
    return next(slider for slider in at.select_slider if slider.label == "Replay: epoch")


def test_two_runs_on_one_chart_and_in_the_table_with_only_the_setting_that_differs(two_runs):
    figure = chart(two_runs, "Runs compared: loss")
    assert [trace["name"] for trace in figure["data"]] == ["run 1", "run 2"]
    assert figure["layout"]["yaxis"]["type"] == "log"
    table = runs_table(two_runs)
    assert list(table["name"]) == ["run 1", "run 2"]
    assert list(table["learning_rate"]) == ["0.0001", "0.0002"]
    assert "hidden_sizes" not in table and "seed" not in table  # equal in both runs
    assert list(table["epochs"]) == [30, 30] and list(table["outcome"]) == ["finished", "finished"]
    expected = [trained(Config().replace(epochs=30, learning_rate=lr)).history.losses[-1] for lr in (1e-4, 2e-4)]
    np.testing.assert_allclose(table["final loss"], expected, rtol=1e-6)
    np.testing.assert_allclose(decode(figure["data"][1]["y"])[-1], expected[1], rtol=1e-6)
    assert table["link"][0].startswith("train?") and "learning_rate=0.0001" in table["link"][0]


def test_the_newest_run_is_picked_to_load_once_it_is_kept(two_runs):
    """The pick was drawn with run 1 alone; run 2, kept since, is the default (not the earlier pick)."""
    pick = next(box for box in two_runs.selectbox if box.label == "Load a run's settings into the sidebar")
    assert pick.options == ["run 1", "run 2"] and pick.value == 2


def test_loading_a_runs_settings_puts_them_in_the_sidebar(two_runs):
    two_runs.selectbox(key="runs_pick_2").set_value(1).run()
    two_runs.button(key="btn_load_run").click().run()
    assert two_runs.select_slider(key="learning_rate").value == 1e-4
    assert any("Loaded the settings of run 1" in info.value for info in two_runs.info)


def test_the_cap_drops_the_oldest_run_with_a_note(monkeypatch):
    monkeypatch.setenv("MODULE_LAB_MAX_RUNS", "2")
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    set_epochs(at, 3)
    for _ in range(3):
        at.button(key="btn_train").click().run()
    assert list(runs_table(at)["name"]) == ["run 2", "run 3"]
    assert any("At most 2 runs" in info.value and "run 1" in info.value for info in at.info)


def test_the_replay_slider_moves_the_heatmaps_to_epoch_0_and_back_to_the_last(two_runs):
    slider = replay(two_runs)
    assert slider.value == 30 and slider.options[0] == "0" and len(slider.options) == 31
    slider.set_value(0).run()
    weights = chart(two_runs, "Weights at epoch 0")
    start = Trainer(Config().replace(epochs=30, learning_rate=2e-4)).snapshot()
    np.testing.assert_allclose(heatmaps(weights)[0], start.layers[0].weight, rtol=1e-6)
    assert any("Gradients at epoch 0" in caption.value for caption in two_runs.caption)
    norms = chart(two_runs, "Gradient norm per parameter (epoch 0)")
    assert norms["layout"]["shapes"][-1]["x0"] == 0
    assert chart(two_runs, "Loss")["layout"]["annotations"][-1]["text"] == "replay: epoch 0"
    replay(two_runs).set_value(12).run()
    run = Trainer(Config().replace(epochs=30, learning_rate=2e-4))
    for _ in range(12):
        run.step()
    np.testing.assert_allclose(heatmaps(chart(two_runs, "Gradients at epoch 12"))[0],
                               run.model[0].weight.grad.numpy(), rtol=1e-5)
    replay(two_runs).set_value(30).run()
    assert chart(two_runs, "Weights at epoch 30") and chart(two_runs, "Gradients at epoch 30")
    assert not chart(two_runs, "Loss")["layout"].get("shapes")  # the last epoch: the run as it ended


def test_a_paused_run_replays_and_its_curve_is_on_the_chart_as_now():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    set_epochs(at, 3)
    at.button(key="btn_train").click().run()
    at.button(key="btn_reset").click().run()
    at.button(key="btn_step").click().run()  # run 2 trains one epoch
    at.button(key="btn_step").click().run()
    assert at.session_state.status == "paused"
    assert replay(at).options == ["0", "1", "2"] and replay(at).value == 2
    assert [trace["name"] for trace in chart(at, "Runs compared: loss")["data"]] == ["run 1", "run 2 (now)"]
    assert list(runs_table(at)["name"]) == ["run 1"]  # a paused run is kept once it ends or is reset
