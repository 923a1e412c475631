"""The teacher's link (pages/ui/train/teacher_link.py): what it locks and hides, and that locked values hold."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import FIELDS
from pages.ui.train.teacher_link import exercise_text, parse_exercise, unknown_text

PAGE = str(Path(__file__).parent.parent / "pages" / "train.py")


def open_link(**params: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update(params)
    at.run()
    assert not at.exception
    return at


def test_lock_all_but_one_field():
    exercise = parse_exercise({"lock": "all", "unlock": "learning_rate"})
    assert exercise.free == ["learning_rate"]
    assert set(FIELDS) - exercise.locked == {"learning_rate"}
    assert "data_source" in exercise.locked
    assert "change only the **learning rate**" in exercise_text(exercise)


def test_hidden_fields_are_locked_and_unknown_names_reported():
    exercise = parse_exercise({"hide": "code,epochs,colour", "lock": "seeds"})
    assert exercise.hidden == {"code", "epochs"}
    assert exercise.locked == {"epochs", "data_source"}
    assert exercise.unknown == ("seeds",) and exercise.unknown_hidden == ("colour",)
    assert unknown_text(exercise) == "seeds (not a setting); colour (neither a setting nor one of sidebar, code, files)"


def test_no_link_parameters_change_nothing():
    assert not parse_exercise({"learning_rate": "0.01"}).active


def test_locked_widgets_are_disabled_and_keep_the_links_values():
    at = open_link(hidden_sizes="8", epochs="30", lock="all", unlock="learning_rate")
    assert at.text_input(key="hidden_sizes").disabled
    assert at.number_input(key="epochs").disabled
    assert not at.select_slider(key="learning_rate").disabled
    assert any("change only the **learning rate**" in info.value for info in at.info)
    # A browser cannot change a disabled widget and Streamlit drops a forged change to one; what else
    # writes a setting (a loaded checkpoint, a callback) is undone before the run uses it.
    at.session_state["epochs"] = 5000
    at.session_state["hidden_sizes"] = "64, 64"
    at.run()
    at.select_slider(key="learning_rate").set_value(0.001).run()
    assert at.number_input(key="epochs").value == 30
    assert at.text_input(key="hidden_sizes").value == "8"
    assert at.select_slider(key="learning_rate").value == 0.001
    assert at.query_params["lock"] == "all" and at.query_params["unlock"] == "learning_rate"
    assert at.query_params["epochs"] == "30" and at.query_params["learning_rate"] == "0.001"
    at.button(key="btn_train").click().run()
    assert st_status(at) == "finished"
    assert at.session_state.trainer.config.training.epochs == 30
    assert at.session_state.trainer.config.model.hidden_sizes == (8,)


def st_status(at: AppTest) -> str:
    return str(at.session_state.status)


@pytest.mark.parametrize("hide", ["code,files", "sidebar,code,files"])
def test_hidden_parts_are_not_drawn(hide):
    at = open_link(hide=hide)
    headers = [h.value for h in at.subheader]
    assert "The code" not in headers and "Save and load" not in headers
    styles = [html.proto.body for html in at.get("html")]
    assert ('[data-testid="stSidebar"]' in "".join(styles)) == ("sidebar" in hide)
    assert at.text_input(key="hidden_sizes").disabled == ("sidebar" in hide)


def test_without_a_link_every_control_is_free():
    at = open_link()
    assert not any("Exercise" in info.value for info in at.info) and not at.number_input(key="epochs").disabled
    assert "The code" in [h.value for h in at.subheader]
