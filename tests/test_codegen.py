"""core.codegen: every step's script runs and reproduces what the lessons (core.linear_lesson,
core.sequential_lesson) show; the Train script prints the app's losses, also when downloaded from the code panel."""

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

from core import linear_lesson, sequential_lesson
from core.codegen import linear_code, r_training_script, sequential_code, training_script
from core.config import Config
from core.lesson import Upstream
from core.linear_lesson import LinearSpec
from core.sequential_lesson import LayerSpec, SequentialSpec
from core.trainer import Trainer, build_run

ROOT = Path(__file__).parent.parent
UPSTREAMS = [Upstream("mean"), Upstream("sum"), Upstream("lesson"), Upstream("constant", 0.5)]
DEEP = SequentialSpec((LayerSpec("Linear", 4, 8), LayerSpec("LeakyReLU"), LayerSpec("Linear", 8, 6),
                       LayerSpec("Sigmoid"), LayerSpec("Linear", 6, 2)), batch=5, seed=3)
# As many inputs as the config allows, of both signs: with 5 or more, x @ coefficients rounds
# differently from the written-out sum the script prints.
TWENTY_COEFFICIENTS = ("12.5,-0.3,7.0,-99.9,0.001,-1.3,45.25,-0.5,0.2,-63.0,"
                       "3.75,-8.8,0.0,21.0,-0.07,5.5,-17.25,9.9,-2.0,0.6")


# A run with the Playground's options, shorter: a classification set, mini-batches, a test split and L2.
PLAYGROUND = dict(dataset="xor", test_fraction=0.3, hidden_sizes="8,8", activation="Tanh", optimizer="adam",
                  learning_rate=0.03, epochs=30, batch_size=16, l2=0.0001, reduction="mean")
PLAYGROUND_OPTIONS = {
    "circle-full-batch-l1": dict(dataset="circle", test_fraction=0.2, l1=0.001, optimizer="sgd", learning_rate=0.1,
                                 reduction="mean", epochs=20),
    "gauss-sum-batches": dict(dataset="gauss", batch_size=30, reduction="sum", learning_rate=0.001, epochs=20),
    "spiral-everything": dict(PLAYGROUND, dataset="spiral", l1=0.0005, n_samples=90, noise_std=0.5, seed=5),
    "lesson-split-batches": dict(test_fraction=0.25, batch_size=7, l2=0.01, epochs=20),
}


def run_code(code: str) -> tuple[dict, str]:
    """Execute a step's script here: its variables and what it printed."""
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "<step>", "exec"), namespace)
    return namespace, printed.getvalue()


def numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


# ---------------------------------------------------------------- Layers ---


@pytest.mark.parametrize("spec", [LinearSpec(), LinearSpec(5, 2, batch=4, seed=11)])
def test_layers_steps_1_to_3_reproduce_the_page(spec):
    made, forward = linear_lesson.create_linear(spec), linear_lesson.forward_linear(spec)
    namespace, printed = run_code(linear_code(1, spec).python)
    np.testing.assert_array_equal(numpy(namespace["layer"].weight), made.weight.values)
    assert made.weight.printed in printed and made.printed in printed
    namespace, printed = run_code(linear_code(2, spec).python)
    np.testing.assert_array_equal(numpy(namespace["out"]), forward.output.values)
    assert [line.split()[0] for line in printed.splitlines()[-len(forward.graph):]] == [n.name for n in forward.graph]
    _, printed = run_code(linear_code(3, spec).python)
    assert printed.strip() == "None None"


def test_layers_step_4_prints_torchs_error():
    _, printed = run_code(linear_code(4, LinearSpec()).python)
    assert printed.strip() == linear_lesson.backward_without_gradient(LinearSpec())


@pytest.mark.parametrize("upstream", UPSTREAMS, ids=lambda u: u.kind)
@pytest.mark.parametrize("spec", [LinearSpec(), LinearSpec(5, 2, batch=4, seed=11)])
def test_layers_steps_5_and_6_reproduce_the_gradients(spec, upstream):
    check = linear_lesson.backward_with_gradient(spec, upstream)
    namespace, printed = run_code(linear_code(5, spec, upstream).python)
    np.testing.assert_array_equal(numpy(namespace["g"]), check.upstream.values)
    np.testing.assert_array_equal(numpy(namespace["layer"].weight.grad), check.weight_grad.values)
    np.testing.assert_array_equal(numpy(namespace["layer"].bias.grad), check.bias_grad.values)
    assert printed.splitlines()[-1] == "True True"
    states = linear_lesson.accumulate_gradients(spec, upstream)
    namespace, printed = run_code(linear_code(6, spec, upstream).python)
    assert namespace["layer"].weight.grad is None
    assert printed.endswith(f"{states[1].printed}\n{states[2].printed}\n")  # the page's step 6, as printed
    namespace["layer"](namespace["x"]).backward(gradient=namespace["g"])
    np.testing.assert_allclose(numpy(namespace["layer"].bias.grad) * 2, states[1].bias_grad, rtol=1e-6)


def test_layers_step_5_with_the_lessons_constant_prints_bias_grad_100():
    _, printed = run_code(linear_code(5, LinearSpec(), Upstream("lesson")).python)
    assert "tensor([100.])" in printed


# ---------------------------------------------------------------- Models ---


@pytest.mark.parametrize("spec", [SequentialSpec(), DEEP])
def test_models_steps_1_to_3_reproduce_the_page(spec):
    summary = sequential_lesson.describe_model(spec)
    _, printed = run_code(sequential_code(1, spec).python)
    assert printed.strip() == summary.printed
    _, printed = run_code(sequential_code(2, spec).python)
    assert printed.splitlines()[-1] == f"total: {summary.total}"
    assert [line.split()[0] for line in printed.splitlines()[:-1]] == [row["name"] for row in summary.parameters]
    last = len(spec.layers) - 1
    view = sequential_lesson.submodule(spec, last)
    _, printed = run_code(sequential_code(3, spec, index=last).python)
    assert printed.startswith(view.printed) and view.parameters["weight"].printed in printed


@pytest.mark.parametrize("upstream", UPSTREAMS, ids=lambda u: u.kind)
@pytest.mark.parametrize("spec", [SequentialSpec(), DEEP])
def test_models_step_4_reproduces_every_gradient_and_the_dead_units(spec, upstream):
    run = sequential_lesson.model_gradients(spec, upstream)
    namespace, printed = run_code(sequential_code(4, spec, upstream).python)
    for layer in run.layers:
        module = namespace["model"][int(layer.name)]
        np.testing.assert_array_equal(numpy(module.weight.grad), layer.weight_grad)
        np.testing.assert_array_equal(numpy(module.bias.grad), layer.bias_grad)
    dead_lines = [line for line in printed.splitlines() if line.startswith("units with zero gradient:")]
    assert dead_lines == [f"units with zero gradient: {units}" for units in run.dead_units.values()]


def test_models_step_5_moves_to_the_chosen_device():
    namespace, printed = run_code(sequential_code(5, SequentialSpec(), device="cpu").python)
    assert printed.splitlines()[0].split()[:2] == ["0.weight", "cpu"]
    assert all(p.grad is not None for p in namespace["model"].parameters())


def test_r_code_uses_r_torch_names():
    spec = SequentialSpec()
    layers_r = linear_code(5, LinearSpec(), Upstream("lesson")).r
    assert "nn_linear(3, 1)" in layers_r and "torch_tensor(10.0)$`repeat`(10)" in layers_r
    assert "$backward(gradient = g)" in layers_r and "torch_manual_seed(7)" in layers_r
    models_r = "".join(sequential_code(step, spec, index=0).r for step in range(1, 6))
    assert "nn_sequential(" in models_r and "model[[1]]" in models_r and "nn_relu()" in models_r
    assert "torch_tensor(2.0)$`repeat`(c(5, 2))" in sequential_code(4, DEEP, Upstream("constant", 2)).r
    assert "nn_leaky_relu()" in sequential_code(1, DEEP).r


@pytest.mark.parametrize("code", [
    *(linear_code(step, LinearSpec(), Upstream("mean")).r for step in range(1, 7)),
    *(sequential_code(step, DEEP, Upstream("sum"), index=2).r for step in range(1, 6)),
    r_training_script(Config().replace(optimizer="adam", hidden_sizes="8,4")),
    r_training_script(Config().replace(coefficients=TWENTY_COEFFICIENTS)),
    *(r_training_script(Config().replace(**changes)) for changes in (PLAYGROUND, *PLAYGROUND_OPTIONS.values())),
], ids=[*(f"layers-{n}" for n in range(1, 7)), *(f"models-{n}" for n in range(1, 6)), "train", "train-20-inputs",
        "playground", *PLAYGROUND_OPTIONS])
def test_r_code_has_balanced_brackets_and_no_python_literals(code):
    for opening, closing in ("()", "[]", "{}"):
        assert code.count(opening) == code.count(closing)
    statements = "\n".join(line.split("#")[0] for line in code.splitlines())  # comments may mention Python
    for python_only in ("True", "False", "None", "import ", "def ", "print(f", "torch.", "nn."):
        assert python_only not in statements
    assert not re.search(r"^\s*[\w.]+ = ", statements, re.MULTILINE)  # R assigns with <-


# ----------------------------------------------------------------- Train ---


def script_losses(script: str, tmp_path: Path, name: str = "train_module_lab.py") -> list[str]:
    path = tmp_path / name
    path.write_text(script)
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=240, check=True)
    return [line for line in result.stdout.splitlines() if line.startswith("Epoch:")]


def trainer_losses(config: Config) -> list[str]:
    trainer = Trainer(config)
    while not trainer.done:
        trainer.step()
    return trainer.history.log_lines(every=10)


@pytest.mark.parametrize("optimizer", ["manual_sgd", "sgd", "adam"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_training_script_prints_the_trainers_losses(tmp_path, optimizer, reduction):
    config = Config().replace(optimizer=optimizer, reduction=reduction, epochs=40,
                              learning_rate=1e-3 if reduction == "mean" else 1e-4)
    expected = trainer_losses(config)
    assert len(expected) == 4 and script_losses(training_script(config), tmp_path) == expected


@pytest.mark.parametrize("changes", [
    dict(hidden_sizes="8, 4", activation="Tanh", coefficients="1,-2", noise_std=0.3, seed=3, n_samples=37),
    dict(hidden_sizes="5", activation="GELU", coefficients="0.1,0.2,0.3,0.4", optimizer="adam", learning_rate=0.05),
])
def test_training_script_follows_every_config_field(tmp_path, changes):
    config = Config().replace(epochs=30, **changes)
    assert script_losses(training_script(config), tmp_path) == trainer_losses(config)


@pytest.mark.parametrize("coefficients", ["0.2,-1.3,-0.5", TWENTY_COEFFICIENTS, "-4"], ids=["lesson", "twenty", "one"])
def test_training_scripts_data_is_the_apps_bit_for_bit(coefficients):
    config = Config().replace(coefficients=coefficients, noise_std=0.5, n_samples=64, seed=11)
    data_lines = training_script(config).split("\nmodel = ")[0]  # the script up to the model: seed, x, noise, y
    namespace = {}
    exec(compile(data_lines, "<training script>", "exec"), namespace)
    x, y, _ = build_run(config)
    assert torch.equal(namespace["x"], x) and torch.equal(namespace["y"], y)


def test_the_training_script_prints_the_apps_losses_with_mini_batches_a_test_split_and_l2(tmp_path):
    config = Config().replace(**PLAYGROUND)
    expected = trainer_losses(config)
    assert expected[-1].startswith("Epoch: 30  Loss: ") and "  Test loss: " in expected[-1]
    assert "  Accuracy: " in expected[-1] and "  Test accuracy: " in expected[-1]
    assert script_losses(training_script(config), tmp_path) == expected


@pytest.mark.parametrize("changes", PLAYGROUND_OPTIONS.values(), ids=PLAYGROUND_OPTIONS.keys())
def test_the_training_script_follows_every_new_option(tmp_path, changes):
    config = Config().replace(**changes)
    assert script_losses(training_script(config), tmp_path) == trainer_losses(config)


@pytest.mark.parametrize("dataset", ["circle", "xor", "gauss", "spiral"])
def test_the_training_scripts_classification_data_is_the_apps_bit_for_bit(dataset):
    config = Config().replace(dataset=dataset, n_samples=73, noise_std=0.7, seed=2)
    data_lines = training_script(config).split("\nmodel = ")[0]
    namespace = {}
    exec(compile(data_lines, "<training script>", "exec"), namespace)
    x, y, _ = build_run(config)
    assert torch.equal(namespace["x"], x) and torch.equal(namespace["y"], y)


def test_the_default_script_has_none_of_the_new_options_code():
    script = training_script(Config()).split('"""', 2)[2]  # after the docstring, which lists every field
    for absent in ("DataLoader", "x_test", "l1", "l2", "BCEWithLogitsLoss", "data_loss", "import math"):
        assert absent not in script


def test_training_scripts_write_the_lessons_formula():
    config = Config()
    assert "y = (0.2 * x[:, 0] - 1.3 * x[:, 1] - 0.5 * x[:, 2]).unsqueeze(1) + noise\n" in training_script(config)
    assert "y <- (0.2 * x[, 1] - 1.3 * x[, 2] - 0.5 * x[, 3])$unsqueeze(2) + noise\n" in r_training_script(config)


def test_training_script_stops_where_the_trainer_diverges(tmp_path):
    config = Config().replace(learning_rate=0.0057, epochs=50)  # blows up at epoch 11 with the default seed
    trainer = Trainer(config)
    while not trainer.done:
        trainer.step()
    assert trainer.diverged_at == 11
    path = tmp_path / "train_module_lab.py"
    path.write_text(training_script(config))
    printed = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True).stdout
    assert printed.splitlines() == [*trainer.history.log_lines(every=10), "Diverged at epoch 11: try a smaller "
                                    "learning_rate or the mean reduction"]


def capture_media(monkeypatch) -> list[MemoryMediaFileStorage]:
    """AppTest keeps download data in a per-run in-memory store; keep a handle on it."""
    stores = []

    class Capturing(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Capturing)
    return stores


def downloaded(at: AppTest, stores: list[MemoryMediaFileStorage], key: str) -> tuple[str, str]:
    """(file name, text) behind a download button."""
    url = at.get("download_button")[[b.proto.id.endswith(key) for b in at.get("download_button")].index(True)].proto.url
    file = stores[-1].get_file(url.rsplit("/", 1)[-1])
    return file.filename, file.content.decode()


def code_panel_app(epochs: int) -> None:
    from core.codegen import r_training_script, training_script
    from core.config import Config
    from pages.ui.common.code_panel import code_panel

    config = Config().replace(epochs=epochs)
    code_panel(training_script(config), r_training_script(config), key="train_code",
               download_name="train_module_lab.py")


def train_page_losses(epochs: int) -> tuple[AppTest, list[str]]:
    """Train on the Train page, as a user would, and read the loss lines it prints."""
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=120).run()
    at.number_input(key="epochs").set_value(epochs).run()
    at.button(key="btn_train").click().run()
    assert not at.exception and at.session_state.status == "finished"
    lines = [line for code in at.code for line in code.value.splitlines() if line.startswith("Epoch:")]
    return at, lines


def test_downloaded_training_script_prints_the_train_pages_losses(tmp_path, monkeypatch):
    stores = capture_media(monkeypatch)
    panel = AppTest.from_function(code_panel_app, args=(40,), default_timeout=60).run()
    assert not panel.exception
    name, script = downloaded(panel, stores, "train_code_download_python")
    assert name == "train_module_lab.py"
    r_name, r_script = downloaded(panel, stores, "train_code_download_r")
    assert r_name == "train_module_lab.R" and "nn_sequential(" in r_script
    _, app_lines = train_page_losses(40)
    assert len(app_lines) == 4 and script_losses(script, tmp_path, name) == app_lines


def test_train_pages_own_download_matches_its_losses(tmp_path, monkeypatch):
    stores = capture_media(monkeypatch)
    at, app_lines = train_page_losses(20)
    name, script = downloaded(at, stores, "train_code_download_python")
    assert script_losses(script, tmp_path, name) == app_lines
