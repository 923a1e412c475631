"""Text from a link or a visitor's typing, in every page message that quotes it, shown as text and bounded:
the teacher's banner, run names (loaded settings, the runs cap), One epoch's phase. The browser's own
check of Streamlit's Markdown, with CSV columns and file names, is tests/e2e/test_e2e_hostile_text.py."""

from __future__ import annotations

import pytest
from apptest import open_page
from streamlit.testing.v1 import AppTest

from pages.ui.common.text import LISTED, plain, quoted

TRAIN_PAGE, EPOCH_PAGE = "train", "epoch"
HOSTILE = [
    "[click me](https://evil.example/phish)",
    "![img](http://127.0.0.1:9/x.png)",
    "www.evil.example",
    ":material/lock: :red[RED] **bold**",
    ":smile: <b>x</b>",
]


def messages(at: AppTest) -> list[str]:
    return [element.value for kind in ("error", "warning", "info", "success", "caption", "markdown")
            for element in getattr(at, kind)]


def assert_as_text(at: AppTest, text: str) -> None:
    """`text` is in a message only escaped (quoted: cut and plain), never as the markup it is."""
    bodies = messages(at)
    assert any(quoted(text) in body for body in bodies), (text, bodies)
    assert not any(text in body for body in bodies if text != plain(text)), text


@pytest.mark.parametrize("text", HOSTILE)
def test_a_teachers_link_naming_markup_is_quoted_as_text(text):
    at = open_page(TRAIN_PAGE, lock=f"seed,{text}", hide=text.replace(",", " "))
    assert_as_text(at, text)


def test_a_teachers_link_of_2000_names_gets_a_bounded_warning():
    at = open_page(TRAIN_PAGE, lock=",".join(f"name{i}" for i in range(2000)))
    [warning] = [w.value for w in at.warning]
    assert "name0" in warning and f"name{LISTED - 1}" in warning and f"name{LISTED}" not in warning
    assert f"and {2000 - LISTED:,} more" in warning and len(warning) < 500


def test_a_phase_from_the_link_is_quoted_as_text_and_cut():
    text = HOSTILE[0] * 20
    at = open_page(EPOCH_PAGE, phase=text)
    [error] = [e.value for e in at.error]
    assert plain(repr(text)[:40]) in error and "…" in error and text[:40] not in error


@pytest.mark.parametrize("text", HOSTILE)
def test_a_run_named_with_markup_is_quoted_in_the_pages_notes(monkeypatch, text):
    """Its loaded settings' note, and the note of the runs cap that drops it."""
    monkeypatch.setenv("MODULE_LAB_MAX_RUNS", "1")
    at = open_page(TRAIN_PAGE, epochs="3")
    at.button(key="btn_train").click().run()
    at.button(key="btn_train").click().run()  # Train again: run 1 is kept
    store = at.session_state.runs
    store.rename(store.runs[0].number, text)
    at.button(key="btn_load_run").click().run()
    assert_as_text(at, text)
    at.button(key="btn_train").click().run()  # Train again: run 2 is kept, the cap drops run 1
    assert any("was dropped" in body for body in messages(at))
    assert_as_text(at, text)


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1)"]  # a name is trimmed of tabs


def test_a_cell_a_spreadsheet_would_run_gets_a_quote_and_numbers_do_not():
    from core.exports import spreadsheet_safe

    for formula in [*FORMULAS, "\tx", "\rx", "-1.3, 0.2"]:
        assert spreadsheet_safe(formula) == "'" + formula
    for kept in ["-1.5", "+2", "1e-4", "run 1", "", -1.5, 3, None]:
        assert spreadsheet_safe(kept) == kept


@pytest.mark.parametrize("name", FORMULAS)
def test_the_runs_csv_of_a_formula_named_run_opens_as_text_and_numbers_stay_numbers(monkeypatch, name):
    import csv
    import io

    from core.exports import safe_csv
    from pages.ui.train import runs

    written = []  # what "Table as CSV" downloads
    monkeypatch.setattr(runs, "safe_csv", lambda frame: written.append(safe_csv(frame)) or written[-1])
    at = open_page(TRAIN_PAGE, epochs="3", coefficients="-1.3,0.2")
    at.button(key="btn_train").click().run()
    at.button(key="btn_train").click().run()
    store = at.session_state.runs
    store.rename(store.runs[0].number, name)
    at.run()
    rows = list(csv.DictReader(io.StringIO(written[-1])))
    assert rows[0]["name"] == "'" + name
    assert rows[0]["coefficients"] == "'-1.3,0.2"  # text that starts like a formula
    assert float(rows[0]["final loss"]) == store.runs[0].final_loss  # a number, unchanged
    assert rows[0]["n_samples"] == "100"
