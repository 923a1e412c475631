"""Checks of the Train page moved from the browser tests (tests/e2e/test_e2e_train_behaviour.py) to AppTest:
what they asserted is text, widget values and the link's query parameters, not what only a browser shows.
The browser still checks the transport (Pause, Step after Pause, Stop, live frames, uploads) against both
servers, and that a reload restores the config from the URL (tests/e2e/test_e2e_sessions.py)."""

import re

from apptest import open_page
from streamlit.testing.v1 import AppTest

from tests.displayed import displayed


def open_train(params: dict[str, str]) -> AppTest:
    return open_page("train", timeout=60, **params)


def counter(at: AppTest) -> str:
    """The status line as a reader sees it, "Epoch N / M · loss X · status" ("" when there is none)."""
    lines = [displayed(m.value).replace("**", "") for m in at.markdown if re.match(r"\**Epoch \d+ / \d+", m.value)]
    return lines[0] if lines else ""


def final_loss(at: AppTest) -> str:
    return next(metric.value for metric in at.metric if metric.label == "Final loss")


def test_step_trains_one_epoch_at_a_time_then_resume_finishes():
    at = open_train({"epochs": "20", "seed": "7"})
    at.button(key="btn_step").click().run()
    assert counter(at).startswith("Epoch 1 / 20 · ") and counter(at).endswith(" · paused"), counter(at)
    at.button(key="btn_step").click().run()
    assert counter(at).startswith("Epoch 2 / 20 · "), counter(at)
    assert at.button(key="btn_train").label == "Resume"
    at.button(key="btn_train").click().run()
    assert not at.exception
    assert counter(at).startswith("Epoch 20 / 20 · ") and counter(at).endswith(" · finished"), counter(at)


def test_the_share_link_reproduces_the_run_in_a_new_session():
    """Settings changed on the page, not in the link it was opened with, reach the link; a new session
    opened from that link shows them and trains to the same final loss and status line."""
    at = open_train({"epochs": "30"})
    at.number_input(key="seed").set_value(3).run()
    at.text_input(key="hidden_sizes").input("8, 4").run()
    at.button(key="btn_train").click().run()
    assert not at.exception and counter(at).startswith("Epoch 30 / 30")
    link = dict(at.query_params)
    assert link["seed"] == "3" and link["hidden_sizes"] == "8,4" and link["epochs"] == "30", link

    other = open_train(link)
    assert other.number_input(key="seed").value == 3
    assert other.text_input(key="hidden_sizes").value == "8, 4"
    other.button(key="btn_train").click().run()
    assert not other.exception
    assert final_loss(other) == final_loss(at)
    assert counter(other) == counter(at)
