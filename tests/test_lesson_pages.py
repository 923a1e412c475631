"""Home, Layers and Models driven by streamlit.testing.v1.AppTest."""

import json
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import lesson, sequential_lesson
from core.device import cuda_unavailable_reason
from tests.displayed import displayed

ROOT = Path(__file__).parent.parent
LAYERS_STEPS = ["1. Create", "2. Call it", "3. No gradients", "4. out.backward()", "5. Backward with",
                "6. Backward twice"]
MODELS_STEPS = ["1. Build", "2. print(model)", "3. Index", "4. Forward a batch", "5. Move the model"]


def open_page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60).run()
    assert not at.exception
    return at


@pytest.fixture
def layers() -> AppTest:
    return open_page("layers")


@pytest.fixture
def models() -> AppTest:
    return open_page("models")


def headings(at: AppTest) -> list[str]:
    return [h.value for h in at.subheader]


def has_every_step(at: AppTest, steps: list[str]) -> bool:
    found = headings(at)
    return len(found) == len(steps) and all(h.startswith(step) for h, step in zip(found, steps))


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def code_text(at: AppTest) -> str:
    return "\n".join(code.value for code in at.code)


def errors(at: AppTest) -> str:
    return displayed(" ".join(error.value for error in at.error))


# ---------------------------------------------------------------- Layers ---


def test_layers_page_shows_every_step_with_its_code(layers):
    assert has_every_step(layers, LAYERS_STEPS)
    assert [tab.label for tab in layers.tabs] == ["Python", "R (torch)"] * 6
    codes = code_text(layers)
    assert "layer = nn.Linear(3, 1)" in codes and "layer <- nn_linear(3, 1)" in codes
    assert "[ CPUFloatType{1,3} ]" in " ".join(m.value for m in layers.markdown)
    assert "AddmmBackward0\n    AccumulateGrad" in codes
    assert chart_titles(layers)[1] == "out.grad_fn and its next_functions"


def test_layers_page_shows_torchs_error_for_backward_without_gradient(layers):
    torch.manual_seed(7)
    out = torch.nn.Linear(3, 1)(torch.randn(10, 3))
    try:
        out.backward()
    except RuntimeError as error:
        message = str(error)
    assert f"RuntimeError: {message}" in errors(layers)


@pytest.mark.parametrize("choice", [("lesson", None), ("constant", 10.0)])
def test_layers_page_shows_bias_grad_100_for_batch_10_and_the_constant_10(layers, choice):
    kind, constant = choice
    layers.number_input(key="layers_batch").set_value(10).run()
    layers.radio(key="layers_upstream").set_value(kind).run()
    if constant is not None:
        layers.number_input(key="layers_constant").set_value(constant).run()
    assert not layers.exception
    bias = [c.value for c in layers.code if c.value.startswith("# autograd: layer.bias.grad")]
    assert bias == ["# autograd: layer.bias.grad\ntensor([100.])\n# by hand: g.sum(dim=0)\ntensor([100.])"]
    agree = [m.value for m in layers.markdown if "agree" in m.value]
    assert len(agree) == 2 and all("check_circle" in m for m in agree)


def test_layers_page_with_changed_sizes_and_gradients(layers):
    layers.number_input(key="layers_in_features").set_value(5)
    layers.number_input(key="layers_out_features").set_value(2)
    layers.number_input(key="layers_seed").set_value(11)
    layers.number_input(key="layers_batch").set_value(7).run()
    for kind in ("mean", "sum"):
        layers.radio(key="layers_upstream").set_value(kind).run()
        assert not layers.exception and has_every_step(layers, LAYERS_STEPS)
        assert "layer = nn.Linear(5, 2)" in code_text(layers) and "x = torch.randn(7, 5)" in code_text(layers)
        assert sum("autograd and the hand formula agree" in m.value for m in layers.markdown) == 2


def lesson_gradients(in_features: int, out_features: int, batch: int, seed: int, fill: float):
    """The Layers page's script in plain torch: (layer, x, g) after out.backward(gradient=g)."""
    torch.manual_seed(seed)
    layer = torch.nn.Linear(in_features, out_features)
    x = torch.randn(batch, in_features)
    out = layer(x)
    g = torch.full_like(out, fill)
    out.backward(gradient=g)
    return layer, x, g


@pytest.mark.parametrize("sizes", [(3, 1, 10, 7), (4, 2, 5, 11)])
def test_layers_page_shows_gradients_exactly_as_torch_prints_them(layers, sizes):
    in_features, out_features, batch, seed = sizes
    for key, value in zip(("in_features", "out_features", "batch", "seed"), sizes):
        layers.number_input(key=f"layers_{key}").set_value(value)
    layers.run()
    layer, x, g = lesson_gradients(in_features, out_features, batch, seed, lesson.LESSON_CONSTANT)
    codes = [c.value for c in layers.code]
    # Step 5: autograd's and the hand formula's tensors, each as print() shows it.
    assert f"# autograd: layer.weight.grad\n{layer.weight.grad}\n# by hand: g.T @ x\n{g.T @ x}" in codes
    assert f"# autograd: layer.bias.grad\n{layer.bias.grad}\n# by hand: g.sum(dim=0)\n{g.sum(dim=0)}" in codes
    # Step 6: what print(layer.weight.grad) and print(layer.bias.grad) write after each call.
    once = f"{layer.weight.grad}\n{layer.bias.grad}"
    layer(x).backward(gradient=g)
    twice = f"{layer.weight.grad}\n{layer.bias.grad}"
    layer.zero_grad()
    assert [c for c in codes if c in (once, twice, "None\nNone")] == [once, twice, "None\nNone"]


@pytest.mark.parametrize("key,value,field,message", [
    ("layers_in_features", 0, "in_features", "0 is out of range; allowed 1 to 512"),
    ("layers_out_features", -4, "out_features", "-4 is out of range"),
    ("layers_in_features", 600, "in_features", "600 is out of range"),
    ("layers_batch", 5000, "batch", "5000 is out of range; allowed 1 to 1000"),
    ("layers_batch", 0, "batch", "0 is out of range"),
])
def test_layers_page_bad_sizes_give_a_clear_message(layers, key, value, field, message):
    layers.number_input(key=key).set_value(value).run()
    assert not layers.exception
    assert field in errors(layers) and message in errors(layers)


def test_layers_page_bad_constant_gives_a_clear_message(layers):
    layers.radio(key="layers_upstream").set_value("constant").run()
    layers.number_input(key="layers_constant").set_value(1e9).run()
    assert not layers.exception and "constant" in errors(layers)


def test_layers_page_batch_of_one_explains_why_backward_works(layers):
    layers.number_input(key="layers_batch").set_value(1).run()
    assert not layers.exception and any("single element" in i.value for i in layers.info)


@pytest.mark.parametrize("page", ["layers", "models"])
def test_no_code_or_printout_of_several_lines_wraps(page):
    """A wrapped line continues at column 0, which reads as broken Python indentation: scroll instead."""
    at = open_page(page)
    at.radio(key=f"{page}_upstream").set_value("constant").run()  # the longest upstream line
    several = [code for code in at.code if "\n" in code.value.strip()]
    assert len(several) > 10 and [code.value[:40] for code in several if code.proto.wrap_lines] == []


# ---------------------------------------------------------------- Models ---


def test_models_page_shows_every_step_with_its_code(models):
    assert has_every_step(models, MODELS_STEPS)
    assert [tab.label for tab in models.tabs] == ["Python", "R (torch)"] * 5
    codes = code_text(models)
    assert "nn.Linear(3, 16),\n    nn.ReLU(),\n    nn.Linear(16, 1)," in codes and "nn_sequential(" in codes
    table = models.dataframe[0].value
    assert list(table["name"]) == ["0.weight", "0.bias", "2.weight", "2.bias"] and table["count"].sum() == 81
    assert "model[[1]]" in " ".join(m.value for m in models.markdown)
    assert any(t.startswith("Gradients") for t in chart_titles(models))


def test_models_page_highlights_dead_relus(models):
    dead = sequential_lesson.model_gradients(sequential_lesson.SequentialSpec(), lesson.Upstream()).dead_units["0"]
    warnings = " ".join(w.value for w in models.warning)
    assert f"units {', '.join(map(str, dead))} got exactly zero gradient" in warnings and "ReLU" in warnings


def test_models_page_size_mismatch_names_the_layer_and_sizes(models):
    models.number_input(key="models_in_2").set_value(8).run()
    assert not models.exception
    assert "layer 2" in errors(models)
    assert "nn.Linear(8, 1) takes 8 inputs, but layer 0, nn.Linear(3, 16), gives 16 outputs" in errors(models)
    assert headings(models) == ["1. Build an nn.Sequential"]  # the later steps wait for a working model


@pytest.mark.parametrize("key,value,message", [
    ("models_out_0", 0, "layer 0 out_features"),
    ("models_in_0", 700, "700 is out of range; allowed 1 to 512"),
    ("models_seed", -1, "seed"),
])
def test_models_page_bad_sizes_give_a_clear_message(models, key, value, message):
    models.number_input(key=key).set_value(value).run()
    assert not models.exception and message in errors(models)


def test_models_page_bad_batch_gives_a_clear_message(models):
    models.number_input(key="models_batch").set_value(1001).run()
    assert not models.exception and "batch" in errors(models)


def test_models_page_prints_the_whole_model_above_the_step_columns(models):
    # Its lines are wider than the result column: across both columns they fit a 1280 px window.
    printed = sequential_lesson.describe_model(sequential_lesson.SequentialSpec()).printed
    in_columns = [code.value for column in models.columns for code in column.get("code")]
    assert printed in [code.value for code in models.code] and printed not in in_columns


def test_models_page_with_changed_layers(models):
    models.button(key="models_add").click().run()  # Linear(1, 1) appended after Linear(16, 1)
    models.selectbox(key="models_kind_1").set_value("Tanh").run()
    models.number_input(key="models_out_3").set_value(4).run()
    models.number_input(key="models_batch").set_value(6).run()
    models.radio(key="models_upstream").set_value("mean").run()
    assert not models.exception and has_every_step(models, MODELS_STEPS)
    assert list(models.dataframe[0].value["name"]) == ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"]
    assert "nn.Tanh(),\n    nn.Linear(16, 1),\n    nn.Linear(1, 4)," in code_text(models)
    models.selectbox(key="models_index").set_value(3).run()
    assert "model[[4]]" in " ".join(m.value for m in models.markdown)
    models.button(key="models_remove").click().run()
    assert not models.exception and len(models.dataframe[0].value) == 4


def test_models_page_without_a_linear_says_what_to_add(models):
    for i in (0, 2):
        models.selectbox(key=f"models_kind_{i}").set_value("ReLU").run()
    assert not models.exception and "add an nn.Linear" in errors(models)


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="this machine has CUDA")
def test_models_page_cuda_choice_is_disabled_with_its_reason(models):
    device = models.radio(key="models_device")
    assert device.disabled and device.value == "cpu"
    assert any(cuda_unavailable_reason() in c.value for c in models.caption)
    assert set(models.dataframe[-1].value["grad"]) == {"CPUFloatType"}


# ------------------------------------------------------------ multipage ---


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    return at


def test_home_is_the_default_page_with_a_card_per_page(app):
    assert app.title[0].value == "Module Lab"
    assert ([link.proto.label for link in app.get("page_link")]
            == ["1 · Layers", "2 · Models", "3 · One epoch", "4 · Train"])
    assert chart_titles(app) == ["The network of the Train page's defaults: 3 → 32 → 1"]


def test_every_page_renders_through_the_app(app):
    for path, title in [("pages/layers.py", "Layers"), ("pages/models.py", "Models"), ("pages/epoch.py", "One epoch"),
                        ("pages/train.py", "Train"), ("pages/home.py", "Module Lab")]:
        app.switch_page(path).run()
        assert not app.exception and app.title[0].value.startswith(title)


def test_home_draws_the_network_of_the_current_train_settings(app):
    app.switch_page("pages/train.py").run()
    app.text_input(key="hidden_sizes").input("16, 8").run()
    app.selectbox(key="activation").set_value("Tanh").run()
    app.switch_page("pages/home.py").run()
    assert chart_titles(app) == ["The network of your current Train settings: 3 → 16 → 8 → 1"]
    app.switch_page("pages/train.py").run()
    app.text_input(key="hidden_sizes").input("0").run()
    app.switch_page("pages/home.py").run()
    assert not app.exception and chart_titles(app)[0].startswith("The network of the defaults")


def test_lesson_values_survive_a_visit_to_another_page(app):
    app.switch_page("pages/layers.py").run()
    app.number_input(key="layers_in_features").set_value(5).run()
    app.switch_page("pages/models.py").run()
    app.number_input(key="models_in_0").set_value(4).run()
    app.switch_page("pages/layers.py").run()
    assert app.number_input(key="layers_in_features").value == 5
    app.switch_page("pages/models.py").run()
    assert app.number_input(key="models_in_0").value == 4
