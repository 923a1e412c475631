"""Typed values are never lost, and the harness sees every rerun they start.

Streamlit's frontend shows a run on `data-test-script-state`, but when a whole run's messages reach a
busy page (or a fast run's reach any page) React applies them in one render, and "running" never
reaches the DOM. An earlier harness waited for that attribute to change, and took the rerun it missed
for a lost action (1 typed value in 30); the run had happened and the value was on screen. `App.act`
now counts the runs the server starts on the websocket (tests/e2e/conftest.py).

The loop of 100 typed values is slow (minutes): `python -m pytest tests/e2e/test_e2e_typed_values.py -m slow`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from conftest import RERUN_START_S, TIMEOUT_MS, App, wait_idle
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from browser_support import LOCAL_OPTIONS, StreamlitServer

# Counts the changes of Streamlit's script-state attribute: what the harness used to wait for.
COUNT_STATE_CHANGES_JS = """
window.__stateChanges = 0;
new MutationObserver((records) => {
  window.__stateChanges += records.filter((r) => r.attributeName === "data-test-script-state").length;
}).observe(document, {subtree: true, attributes: true});
"""
# The stimulus, not a wait: the page's thread kept busy while a run's messages arrive, so React applies
# them in one render. Nothing waits for it to end (act waits for the run) and nothing asserts its length.
BUSY_JS = "(ms) => { const end = performance.now() + ms; while (performance.now() < end); }"
MINIMAL_APP = ('import streamlit as st\n\nst.text_input("Value", key="value")\n'
               'st.write(f"You typed: {st.session_state.value}")\n')


@pytest.fixture(scope="module")
def minimal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    """Streamlit alone: a text input and what it holds, nothing of Module Lab."""
    folder = tmp_path_factory.mktemp("minimal_app")
    (folder / "app.py").write_text(MINIMAL_APP)
    with StreamlitServer(folder, folder / "streamlit.log", options=LOCAL_OPTIONS) as server:
        server.wait_healthy(90)
        yield server


def test_a_rerun_the_page_never_shows_as_running_is_still_waited_for(page: Page, minimal_server):
    """A page busy while the run's messages arrive; with the old wait, most of these runs were "lost"."""
    app = App(page, minimal_server.url)
    page.context.add_init_script(COUNT_STATE_CHANGES_JS)
    app.goto("/")
    field = page.get_by_label("Value")
    unseen = 0
    for n in range(5):
        changes = page.evaluate("window.__stateChanges")
        app.act(lambda: (field.fill(f"v{n}"), field.press("Enter"), page.evaluate(BUSY_JS, 2000)))
        assert page.get_by_text(f"You typed: v{n}").count() == 1  # act waited for the run to be drawn
        unseen += page.evaluate("window.__stateChanges") == changes
    assert unseen > 0, "every run showed as running: this test no longer covers the runs React batches"
    app.assert_healthy()


# ------------------------------------------------------------------- the loop (slow) ---

TRIES = int(os.environ.get("TYPED_VALUES_TRIES", "100"))
TRAIN = "/train?epochs=20&seed=7"


def open_train_page(app: App) -> None:
    """A fresh session on the Train page, typed into as soon as a reader could: once the first run
    has ended and the seed field is there, while plotly.js may still be loading."""
    app.page.goto(app.base_url + TRAIN)
    app.page.wait_for_function("window.__e2e.runs >= 1 && !window.__e2e.running", timeout=TIMEOUT_MS)
    expect(app.page.locator(".st-key-seed input")).to_be_editable(timeout=TIMEOUT_MS)


def type_seed(app: App, value: str) -> dict[str, bool]:
    """Type a seed; whether a run started, whether the seed then reached the URL (the page writes a
    valid config there), whether the script-state attribute ever changed."""
    field = app.page.locator(".st-key-seed input")
    runs, changes = app.page.evaluate("[window.__e2e.runs, window.__stateChanges]")
    field.fill(value)
    field.press("Enter")
    outcome = {"run": False, "applied": False, "shown_running": False}
    try:
        app.page.wait_for_function(f"window.__e2e.runs > {runs}", polling=100, timeout=RERUN_START_S * 1000)
        outcome["run"] = True
        app.page.wait_for_function("!window.__e2e.running", polling=100, timeout=TIMEOUT_MS)
        app.page.wait_for_url(re.compile(rf"[?&]seed={value}(&|$)"), timeout=10_000)
        outcome["applied"] = True
    except PlaywrightTimeoutError:
        pass
    outcome["shown_running"] = app.page.evaluate("window.__stateChanges") > changes
    return outcome


@pytest.mark.slow
@pytest.mark.timeout(TRIES * 60)
@pytest.mark.parametrize("server_kind", ["local", "cloud"], indirect=True)
def test_no_typed_value_is_lost_while_another_session_trains(app, new_app, capsys):
    """TRIES seeds, each typed into a freshly loaded Train page while a second tab trains live."""
    app.page.context.add_init_script(COUNT_STATE_CHANGES_JS)
    trainer = new_app().goto("/train?epochs=100000&seed=1")
    outcomes = []
    for n in range(TRIES):
        if n % 20 == 0:  # a 100,000-epoch run lasts a while; keep the load on
            trainer.page.reload()
            wait_idle(trainer.page, min_runs=1)
            trainer.button("btn_train").click()
        open_train_page(app)
        outcomes.append(type_seed(app, str(1000 + n)))
    lost = [n for n, o in enumerate(outcomes) if not (o["run"] and o["applied"])]
    unseen = sum(not o["shown_running"] for o in outcomes if o["run"])
    with capsys.disabled():
        print(f"\n{TRIES} typed seeds: {len(lost)} lost {lost}; {unseen} runs never shown as running")
    assert not lost
