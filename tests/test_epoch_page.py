"""The One epoch page driven by streamlit.testing.v1.AppTest, and the Train page's link to it."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from core.config import LIMITS, Config
from core.device import cuda_unavailable_reason
from core.epoch import PHASES, EpochWalker
from core.trainer import Trainer
from pages.ui.epoch.link import read_request

PAGE = str(Path(__file__).parent.parent / "pages" / "epoch.py")
TRAIN_PAGE = Path(__file__).parent.parent / "pages" / "train.py"
SMALL = {"hidden_sizes": "8", "n_samples": "20", "epochs": "5"}


def open_page(**params: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    return at


def titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def marked_lines(at: AppTest) -> list[str]:
    """The code panel's Python lines marked as this phase's."""
    return [line.split("  # ◀")[0].strip() for line in at.code[0].value.splitlines() if line.endswith("# ◀")]


def shown(at: AppTest) -> tuple:
    """What a reader sees of the phase: heading, sentences, marked lines, chart titles, markdown."""
    return (at.subheader[0].value, at.info[0].value, marked_lines(at), titles(at), [m.value for m in at.markdown])


def code_text(at: AppTest) -> str:
    return "\n".join(code.value for code in at.code)


def errors(at: AppTest) -> str:
    return " ".join(error.value for error in at.error)


def test_the_page_opens_at_fresh_weights_forward_and_puts_it_in_the_url():
    at = open_page()
    assert at.title[0].value == "One epoch"
    assert at.subheader[0].value == "1 · forward" and marked_lines(at) == ["y_pred = model(x)"]
    assert titles(at)[0].startswith("Forward: each module's output")
    assert at.query_params["epoch"] == "0" and at.query_params["phase"] == "forward"
    assert at.query_params["hidden_sizes"] == "32"  # the Train page's field, by the same name
    assert at.button(key="epoch_back").disabled and not at.button(key="epoch_next").disabled
    assert [tab.label for tab in at.tabs] == ["Python", "R (torch)"]


def test_next_walks_the_six_phases_then_the_next_epoch_and_back_returns():
    at = open_page(**SMALL)
    seen = [shown(at)]
    for expected in PHASES[1:]:
        at.button(key="epoch_next").click().run()
        assert not at.exception and at.query_params["phase"] == expected
        seen.append(shown(at))
    assert [s[0] for s in seen] == ["1 · forward", "2 · loss", "3 · the autograd graph", "4 · zero_grad",
                                    "5 · backward", "6 · update"]
    assert all(a != b for a, b in zip(seen, seen[1:]))  # each click changes what is shown
    assert [s[2] for s in seen] == [
        ["y_pred = model(x)"], ["loss = (y_pred - y).pow(2).sum()"],
        ["y_pred = model(x)", "loss = (y_pred - y).pow(2).sum()"], ["model.zero_grad()"], ["loss.backward()"],
        ["with torch.no_grad():", "for p in model.parameters():", "p.sub_(learning_rate * p.grad)"]]
    at.button(key="epoch_next").click().run()
    assert at.query_params["epoch"] == "1" and at.subheader[0].value == "1 · forward"
    at.button(key="epoch_back").click().run()
    assert at.query_params["epoch"] == "0" and shown(at) == seen[-1]


def test_a_link_opens_that_epoch_with_the_trainers_numbers():
    at = open_page(**SMALL, epoch="4", phase="update")
    trainer = Trainer(Config().replace(**SMALL))
    losses = [trainer.step().loss for _ in range(6)]  # the sixth: the loss after epoch 5's update
    assert [m.value for m in at.metric] == [f"{losses[4]:.6g}", f"{losses[5]:.6g}"]
    assert "Epoch **4** → 5 of 5" in at.markdown[0].value
    assert at.button(key="epoch_next").disabled  # the run's last epoch
    assert not at.button(key="epoch_back").disabled


def test_backward_shows_the_order_and_the_graph_numbered():
    at = open_page(**SMALL, phase="backward")
    assert "`2.bias` → `2.weight` → `0.bias` → `0.weight`" in at.markdown[1].value
    assert titles(at)[:2] == ["backward(): each node numbered in the order autograd ran it",
                              "Gradients after loss.backward()"]


def test_the_graph_names_its_nodes_and_zero_grad_shows_none():
    at = open_page(**SMALL, phase="graph")
    tree = code_text(at)
    for node in ("SumBackward0", "PowBackward0", "SubBackward0", "AddmmBackward0", "ReluBackward0",
                 "AccumulateGrad  -> 0.weight", "AccumulateGrad  -> 2.bias"):
        assert node in tree
    at = open_page(**SMALL, epoch="1", phase="zero_grad")
    table = at.markdown[1].value
    assert "| `0.weight` | tensor of shape (8, 3), norm " in table and table.count("| None |") == 4


def test_adam_shows_its_own_step():
    at = open_page(**SMALL, optimizer="adam", phase="update")
    assert titles(at) == ["Update: each parameter minus Adam's step"]
    assert marked_lines(at) == ["optimizer.step()"] and "Adam's step" in at.info[0].value


def test_r_tab_marks_the_same_phase():
    at = open_page(**SMALL, reduction="mean", phase="loss")
    assert "loss <- (y_pred - y)$pow(2)$mean()  # ◀" in at.code[1].value


@pytest.mark.parametrize("params,field", [
    ({"hidden_sizes": "0"}, "hidden_sizes"),
    ({"activation": "Swish"}, "activation"),
    ({"epoch": "200"}, "epoch"),
    ({"epoch": "two"}, "epoch"),
    ({"phase": "optimize"}, "phase"),
    ({"learning_rate": "5"}, "learning_rate"),
])
def test_bad_values_get_a_message_naming_the_field(params, field):
    at = open_page(**params)
    assert f"**{field}**" in errors(at) and not at.get("plotly_chart") and not at.subheader


@pytest.mark.parametrize("params,field", [
    ({"dataset": "xor"}, "dataset"),
    ({"batch_size": "16"}, "batch_size"),
    ({"l2": "0.01"}, "l2"),
])
def test_options_beyond_the_lessons_loop_are_named_not_walked(params, field):
    at = open_page(**params)
    assert f"**{field}**" in errors(at) and "walks the lesson" in errors(at) and not at.get("plotly_chart")


def test_a_test_split_is_walked_on_the_training_rows():
    at = open_page(test_fraction="0.3")
    assert not errors(at) and "torch.Size([70, 32])" in " ".join(code.value for code in at.code)


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="CUDA is usable here")
def test_cuda_where_there_is_none_is_named():
    at = open_page(device="cuda")
    assert "**device**" in errors(at) and "not usable here" in errors(at)


def test_without_settings_in_the_link_it_takes_the_train_pages():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["train_values"] = {**Config().values(), "hidden_sizes": "6, 5", "activation": "Tanh"}
    at.run()
    assert at.query_params["hidden_sizes"] == "6,5" and at.query_params["activation"] == "Tanh"
    assert "model[3] Tanh()" in code_text(at)


def test_a_run_that_diverged_before_the_epoch_says_so():
    at = open_page(learning_rate="1", epoch="30")
    assert "diverged at epoch" in errors(at) and "smaller learning rate" in errors(at)


def test_a_failure_while_walking_is_a_message_not_a_traceback(monkeypatch):
    def out_of_memory(self, epoch):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(EpochWalker, "walk", out_of_memory)
    at = open_page(**SMALL)
    assert "Could not walk this epoch on cpu: CUDA out of memory." in errors(at)
    assert at.session_state["epoch_walker"] is None


def inspect_link_script() -> None:
    from core.config import Config
    from core.trainer import Trainer
    from pages.ui.epoch.link import inspect_epoch_link

    trainer = Trainer(Config().replace(epochs=5, hidden_sizes="4"))
    trainer.step()
    trainer.step()
    inspect_epoch_link(trainer)


def test_the_train_pages_link_carries_its_config_and_epoch():
    at = AppTest.from_function(inspect_link_script, default_timeout=60).run()
    assert not at.exception
    link = at.markdown[0].value
    assert link.startswith("[Inspect this epoch](epoch?")
    url = urlsplit(link[link.index("(") + 1:link.index(")")])
    asked = read_request(dict(parse_qsl(url.query)), {}, LIMITS)
    assert asked.config == Config().replace(epochs=5, hidden_sizes="4") and asked.epoch == 2
    assert asked.phase == "forward" and not asked.errors


@pytest.mark.skipif("inspect_epoch_link" not in TRAIN_PAGE.read_text(), reason="the Train page has no link yet")
def test_a_paused_train_pages_link_opens_its_weights():
    train = AppTest.from_file(str(TRAIN_PAGE), default_timeout=60).run()
    for _ in range(3):
        train.button(key="btn_step").click().run()
    assert not train.exception and train.session_state.status == "paused"
    link = next(m.value for m in train.markdown if m.value.startswith("[Inspect this epoch]"))
    asked = read_request(dict(parse_qsl(urlsplit(link[link.index("(") + 1:link.index(")")]).query)), {}, LIMITS)
    walk = EpochWalker(asked.config).walk(asked.epoch)
    assert asked.epoch == 3
    for update in walk.updates:  # the weights the One epoch page starts from are the paused run's
        assert (update.old == train.session_state.trainer.parameters[update.name].detach().numpy()).all()


def test_the_epoch_that_diverges_says_so():
    walker = EpochWalker(Config().replace(learning_rate=1.0))
    epoch = next(e for e in range(30) if walker.walk(e).diverged)
    at = open_page(learning_rate="1", epoch=str(epoch), phase="update")
    assert "NaN or infinite" in at.warning[0].value
    assert at.button(key="epoch_back").disabled is False
