"""The Train page driven by streamlit.testing.v1.AppTest."""

import base64
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.config import Config
from core.device import cuda_unavailable_reason
from core.trainer import Trainer
from server import figure_cache
from tests.displayed import displayed
from tests.test_shared_figures import counted
from viz import training as figures

PAGE = str(Path(__file__).parent.parent / "pages" / "train.py")


@pytest.fixture
def train() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def charts(at: AppTest) -> list[dict]:
    """Every figure on the page: st.plotly_charts, and those drawn in place (pages/ui/train/live_chart.py)."""
    in_place = [json.loads(element.proto.json) for element in at.get("bidi_component")]
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")] + [
        json.loads(frame["figure"]) for frame in in_place if "figure" in frame]


def chart(at: AppTest, title_start: str) -> dict:
    matches = [c for c in charts(at) if c["layout"]["title"]["text"].startswith(title_start)]
    assert len(matches) == 1, [c["layout"]["title"]["text"] for c in charts(at)]
    return matches[0]


def set_epochs(at: AppTest, epochs: int) -> AppTest:
    at.number_input(key="epochs").set_value(epochs).run()
    return at


def test_training_a_few_epochs_shows_every_chart(train):
    set_epochs(train, 12)
    train.button(key="btn_train").click().run()
    assert not train.exception
    assert train.session_state.status == "finished"
    loss = chart(train, "Loss")
    expected = Trainer(Config().replace(epochs=12))
    for _ in range(12):
        expected.step()
    assert len(loss["data"][0]["y"]["bdata"]) > 0
    assert "epoch 12" in loss["layout"]["title"]["text"]
    weights = chart(train, "Weights")
    assert sum(t["type"] == "heatmap" for t in weights["data"]) == 4  # weight + bias per nn.Linear
    gradients = chart(train, "Gradients")
    assert sum(t["type"] == "heatmap" for t in gradients["data"]) == 4
    assert [t["name"] for t in chart(train, "Gradient norm")["data"]] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert any(f"Loss: {expected.history.losses[9]:.6f}" in code.value for code in train.code)
    assert any("Epoch 12 / 12" in m.value for m in train.markdown)
    assert [m.label for m in train.metric][:2] == ["Final loss", "R² on the data"]
    assert not train.get("help")  # no value left in an expression statement for Streamlit's magic to print


def decode(array: dict | list) -> np.ndarray:
    """A plotly JSON array: a list, or {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(array, list):
        return np.asarray(array)
    values = np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return values.reshape([int(n) for n in str(array.get("shape", len(values))).split(",")])


def test_before_training_the_page_shows_the_weights_the_run_starts_from(train):
    train.text_input(key="hidden_sizes").input("4").run()
    loss = chart(train, "Loss")
    assert decode(loss["data"][0]["x"]).size == 0
    weights = chart(train, "Weights at epoch 0")
    first_layer = [t for t in weights["data"] if t["type"] == "heatmap"][0]
    start = Trainer(Config().replace(hidden_sizes="4")).snapshot().layers[0].weight
    np.testing.assert_array_equal(decode(first_layer["z"]), start)
    assert not [c for c in charts(train) if c["layout"]["title"]["text"].startswith("Gradients")]
    assert any("None" in c.value and "backward()" in c.value for c in train.caption)
    train.button(key="btn_step").click().run()  # the first epoch starts from exactly these weights
    np.testing.assert_array_equal(train.session_state.trainer.history.losses,
                                  [Trainer(Config().replace(hidden_sizes="4")).step().loss])


def test_sessions_with_equal_settings_share_one_start_view_and_a_new_seed_draws_its_own(monkeypatch):
    monkeypatch.setattr(figure_cache, "_kept", OrderedDict())
    built = []
    monkeypatch.setattr(figures, "weights_figure", counted(figures.weights_figure, built))
    first, second = (AppTest.from_file(PAGE, default_timeout=60).run() for _ in range(2))
    assert len(built) == 1 and chart(first, "Weights at epoch 0") == chart(second, "Weights at epoch 0")
    second.number_input(key="seed").set_value(3).run()
    assert len(built) == 2
    first_layer = [t for t in chart(second, "Weights at epoch 0")["data"] if t["type"] == "heatmap"][0]
    np.testing.assert_array_equal(decode(first_layer["z"]),
                                  Trainer(Config().replace(seed=3)).snapshot().layers[0].weight)


def test_step_pauses_after_one_epoch_and_resume_finishes_the_run(train):
    set_epochs(train, 5)
    train.button(key="btn_step").click().run()
    assert train.session_state.status == "paused" and train.session_state.trainer.epoch == 1
    train.button(key="btn_step").click().run()
    assert train.session_state.trainer.epoch == 2
    assert train.button(key="btn_train").label == "Resume"
    train.button(key="btn_train").click().run()
    trainer = train.session_state.trainer
    assert train.session_state.status == "finished" and trainer.epoch == 5
    reference = Trainer(Config().replace(epochs=5))
    for _ in range(5):
        reference.step()
    np.testing.assert_array_equal(trainer.history.losses, reference.history.losses)  # nothing lost or repeated


def test_pause_stop_and_reset(train):
    set_epochs(train, 3)
    train.button(key="btn_step").click().run()
    train.button(key="btn_stop").click().run()
    assert train.session_state.status == "stopped"
    assert train.button(key="btn_train").label == "Train again"
    assert any("Epoch 1 / 3" in m.value for m in train.markdown)  # the stopped run stays on screen
    train.button(key="btn_reset").click().run()
    assert train.session_state.trainer is None and train.session_state.status == "idle"
    titles = [c["layout"]["title"]["text"] for c in charts(train)]
    assert [t for t in titles if t != "Runs compared: loss"] == ["Loss", "Weights at epoch 0"]  # the start view
    assert "Runs compared: loss" in titles  # the stopped run is kept
    assert train.button(key="btn_reset").disabled and train.button(key="btn_pause").disabled


def test_changing_the_network_mid_run_asks_for_reset_but_learning_rate_applies(train):
    set_epochs(train, 10)
    train.button(key="btn_step").click().run()
    train.select_slider(key="learning_rate").set_value(1e-3).run()
    assert train.session_state.trainer.learning_rate == 1e-3
    train.button(key="btn_step").click().run()
    assert train.session_state.trainer.lr_changes == [(2, 1e-3)]
    train.text_input(key="hidden_sizes").input("16").run()
    assert any("hidden_sizes" in w.value and "Reset" in w.value for w in train.warning)
    assert train.button(key="btn_train").disabled and train.button(key="btn_step").disabled
    assert train.session_state.trainer.config.model.hidden_sizes == (32,)


@pytest.mark.parametrize("text,message", [
    ("32, 16, 8, 4, 2", "give 0 to 4 hidden layer sizes"),
    ("0", "0 is out of range; allowed 1 to 512"),
    ("-3", "out of range"),
    ("eight", "'eight' is not a whole number"),
])
def test_bad_layer_sizes_show_a_message_and_keep_the_run(train, text, message):
    set_epochs(train, 4)
    train.button(key="btn_train").click().run()
    train.text_input(key="hidden_sizes").input(text).run()
    assert not train.exception
    errors = displayed(" ".join(e.value for e in train.error))
    assert "hidden_sizes" in errors and message in errors
    assert train.button(key="btn_train").disabled
    assert train.session_state.trainer.epoch == 4  # the trained run is still there
    assert any("Epoch 4 / 4" in m.value for m in train.markdown)


def test_bad_settings_before_any_run_say_what_to_fix_not_press_train(train):
    train.text_input(key="hidden_sizes").input("0").run()
    assert "hidden_sizes" in " ".join(e.value for e in train.error)
    assert not [i for i in train.info if "Press" in i.value] and charts(train) == []
    train.text_input(key="hidden_sizes").input("8").run()
    assert [i for i in train.info if "Press" in i.value] and chart(train, "Weights at epoch 0")


def test_every_bad_layer_size_is_named(train):
    train.text_input(key="hidden_sizes").input("0, -3").run()
    errors = displayed(" ".join(e.value for e in train.error))
    assert "entry 1: 0 is out of range" in errors and "entry 2: -3 is out of range" in errors


def read_as(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption if c.value.startswith("Read as")]


@pytest.mark.parametrize("key,text,normalised", [
    ("hidden_sizes", "32,", "32"),
    ("hidden_sizes", "64;; 32", "64, 32"),
    ("coefficients", "1, -2,", "1, -2"),
])
def test_a_list_with_stray_separators_is_accepted_and_shown_as_read(train, key, text, normalised):
    train.text_input(key=key).input(text).run()
    assert not train.error and not train.exception
    assert read_as(train) == [f"Read as `{normalised}`"]
    assert train.query_params[key] == normalised.replace(" ", "")  # the run's config, as the link carries it
    train.text_input(key=key).input(normalised).run()
    assert read_as(train) == []  # the plain list needs no note


@pytest.mark.parametrize("text", ["32", "64,32", " 64 , 32 "])
def test_a_plain_list_gets_no_note(train, text):
    train.text_input(key="hidden_sizes").input(text).run()
    assert read_as(train) == []


def test_add_and_remove_layer_buttons(train):
    train.button(key="add_layer").click().run()
    assert train.text_input(key="hidden_sizes").value == "32, 32"
    train.button(key="remove_layer").click().run()
    train.button(key="remove_layer").click().run()
    assert train.text_input(key="hidden_sizes").value == ""  # no hidden layer: nn.Linear(3, 1) alone
    assert not train.error
    assert any("Linear(in_features=3, out_features=1, bias=True)" in code.value for code in train.code)


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="this machine has CUDA")
def test_cuda_choice_is_disabled_with_its_reason(train):
    device = train.radio(key="device")
    assert device.disabled and device.value == "cpu"
    assert any(cuda_unavailable_reason() in c.value for c in train.caption)


def test_query_params_restore_a_config():
    at = AppTest.from_file(PAGE, default_timeout=60)
    params = {"hidden_sizes": "8,4", "activation": "Tanh", "learning_rate": "0.003", "seed": "5", "epochs": "7",
              "reduction": "mean", "optimizer": "adam", "coefficients": "1,-2", "live": "false"}
    at.query_params.update(params)
    at.run()
    assert at.text_input(key="hidden_sizes").value == "8, 4"
    assert at.selectbox(key="activation").value == "Tanh"
    assert at.select_slider(key="learning_rate").value == 0.003
    assert at.number_input(key="seed").value == 5 and at.toggle(key="live").value is False
    at.button(key="btn_train").click().run()
    expected = Trainer(Config().replace(**{k: v for k, v in params.items() if k != "live"}))
    while not expected.done:
        expected.step()
    np.testing.assert_array_equal(at.session_state.trainer.history.losses, expected.history.losses)


def test_bad_query_params_fall_back_with_a_message():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update({"hidden_sizes": "0,abc", "learning_rate": "9", "seed": "3"})
    at.run()
    assert not at.exception
    warning = " ".join(w.value for w in at.sidebar.warning)
    assert "hidden_sizes" in warning and "learning_rate" in warning
    assert at.text_input(key="hidden_sizes").value == "32" and at.number_input(key="seed").value == 3


def test_bad_view_flags_and_long_values_are_named_and_cut():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update({"live": "banana", "log_scale": "<b>", "activation": "A" * 100_000})
    at.run()
    warning = displayed(" ".join(w.value for w in at.sidebar.warning))
    assert "live: 'banana' is not true or false" in warning and "log_scale: '<b>' is not true or false" in warning
    assert f"activation: '{'A' * 39}… is not one of" in warning and len(warning) < 500
    assert at.toggle(key="live").value is True and at.toggle(key="log_scale").value is False  # the defaults


def test_lowering_epochs_below_the_current_epoch_ends_the_run_there(train):
    set_epochs(train, 8)
    for _ in range(6):
        train.button(key="btn_step").click().run()
    set_epochs(train, 3)
    trainer = train.session_state.trainer
    assert trainer.epoch == 6 and trainer.config.training.epochs == 6 and trainer.done
    train.button(key="btn_train").click().run()  # "Resume" of a run that is over: it stays over
    assert train.session_state.status == "finished" and trainer.epoch == 6
    assert any(m.value.startswith("**Epoch 6 / 6**") for m in train.markdown), [m.value for m in train.markdown]


def test_divergence_stops_training_keeps_history_and_advises():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update({"learning_rate": "1", "epochs": "300"})
    at.run()
    at.button(key="btn_train").click().run()
    trainer = at.session_state.trainer
    assert at.session_state.status == "diverged" and trainer.epoch == trainer.diverged_at < 300
    message = " ".join(e.value for e in at.error)
    assert f"diverged at epoch {trainer.diverged_at}" in message
    assert "smaller learning rate" in message and '"mean" reduction' in message

    def refuse(constant):
        raise AssertionError(f"{constant} in a chart spec breaks the browser's JSON.parse")

    specs = [json.loads(c.proto.spec, parse_constant=refuse) for c in at.get("plotly_chart")]
    loss = next(s for s in specs if s["layout"]["title"]["text"].startswith("Loss"))
    assert any(a["text"] == f"diverged at epoch {trainer.diverged_at}" for a in loss["layout"]["annotations"])


@pytest.mark.parametrize("on_cuda", [False, True])
def test_a_failing_step_keeps_the_history_and_offers_cpu_for_cuda(train, monkeypatch, on_cuda):
    import torch

    set_epochs(train, 50)
    train.button(key="btn_step").click().run()
    trainer = train.session_state.trainer
    if on_cuda:
        trainer.device = torch.device("cuda")  # as if the run lived on a GPU that then failed
    real_step = Trainer.step

    def step_then_fail(self):
        if self.epoch >= 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self)

    monkeypatch.setattr(Trainer, "step", step_then_fail)
    train.button(key="btn_train").click().run()
    assert not train.exception
    assert train.session_state.status == "failed" and trainer.epoch == 3
    message = " ".join(e.value for e in train.error)
    assert "Training failed" in message and "out of memory" in message and "epoch 3 is kept" in message
    offered = [b for b in train.button if b.key == "btn_use_cpu"]
    assert bool(offered) == on_cuda
    assert any("Epoch 3 / 50" in m.value for m in train.markdown)
    if on_cuda:
        offered[0].click().run()
        assert train.session_state.trainer is None and train.radio(key="device").value == "cpu"
        assert not [e for e in train.error if "Training failed" in e.value]


def test_caps_come_from_secrets_and_refuse_a_config_before_building_it(monkeypatch):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.secrets["MODULE_LAB_MAX_UNITS"] = "16"
    at.run()
    at.text_input(key="hidden_sizes").input("8, 32").run()
    errors = displayed(" ".join(e.value for e in at.error))
    assert "hidden_sizes" in errors and "entry 2: 32 is out of range; allowed 1 to 16" in errors
    assert at.button(key="btn_train").disabled and at.session_state.trainer is None


def test_environment_caps_override_and_a_bad_override_is_reported(monkeypatch):
    monkeypatch.setenv("MODULE_LAB_MAX_PARAMETERS", "100")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert any("161 parameters is over the cap of 100" in e.value for e in at.error)
    monkeypatch.setenv("MODULE_LAB_MAX_PARAMETERS", "many")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("MODULE_LAB_MAX_PARAMETERS" in e.value and "built-in limits" in e.value for e in at.error)


def test_cpu_vs_cuda_panel_only_where_cuda_exists(train, monkeypatch):
    assert not [b for b in train.button if b.key == "btn_time_devices"]  # no CUDA here
    import core.device
    import core.trainer
    import pages.ui.common.device_radio
    import pages.ui.train.sections
    import pages.ui.train.sidebar

    pretend_a_gpu = (core.device, pages.ui.common.device_radio, pages.ui.train.sidebar, pages.ui.train.sections)
    for module in pretend_a_gpu:
        monkeypatch.setattr(module, "cuda_unavailable_reason", lambda: None)
    seconds = {"cpu": 2e-4, "cuda": 5e-4}
    monkeypatch.setattr(core.trainer, "epoch_seconds",
                        lambda config, device, epochs, warmup: iter([None] * warmup + [seconds[device]] * epochs))
    train.run()
    assert not train.radio(key="device").disabled
    train.button(key="btn_time_devices").click().run()
    assert any("**CPU** is 2.5× faster" in m.value for m in train.markdown)


def test_the_click_on_train_fills_each_chart_slot_as_it_is_made(train):
    """An empty slot filled only later let the chart vanish and the page below jump. Filled right after
    it is made, Streamlit's queue replaces the empty with the chart before anything is sent."""
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    elements = []

    def note(message):
        if message.HasField("delta") and message.delta.WhichOneof("type") == "new_element":
            elements.append((tuple(message.metadata.delta_path), message.delta.new_element.WhichOneof("type")))

    ForwardMsgQueue.on_before_enqueue_msg(note)
    try:
        set_epochs(train, 30)
        charts_before = {path for path, kind in elements if kind == "bidi_component"}  # the start view
        elements.clear()
        train.button(key="btn_train").click().run()
    finally:
        ForwardMsgQueue.on_before_enqueue_msg(None)
    assert not train.exception and len(charts_before) == 2  # the loss curve and the weights
    for path in charts_before:
        made = elements.index((path, "empty"))
        assert elements[made + 1] == (path, "bidi_component"), elements[made:made + 3]


def test_a_finished_run_prints_every_tenth_epoch_from_the_first_and_every_part_shows_its_last_epoch(train):
    set_epochs(train, 200)
    train.button(key="btn_train").click().run()
    expected = Trainer(Config())
    while not expected.done:
        expected.step()
    printed = [code.value for code in train.code if code.value.startswith("Epoch: ")]
    assert printed == ["\n".join(expected.history.log_lines(every=10))]  # all 20 lines, epoch 10 first
    counter = next(md.value for md in train.markdown if md.value.startswith("**Epoch "))
    assert counter.startswith("**Epoch 200 / 200**")
    titles = [c["layout"]["title"]["text"] for c in charts(train)]
    for start in ("Loss", "Gradient norm", "Weights", "Gradients"):
        title = next(t for t in titles if t.startswith(start))
        assert "200" in title and "updated twice a second" not in title, title
