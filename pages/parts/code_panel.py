"""The code beside each lesson step (Python and R tabs), and the few widgets the lesson pages share.

    code_panel(training_script(config), r_training_script(config), key="train_code",
               download_name="train_module_lab.py")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import TypeVar

import streamlit as st

from core.config import ConfigError
from core.lesson import LESSON_CONSTANT, UPSTREAM_KINDS, TensorView, Upstream

UPSTREAM_LABELS = {
    "mean": "mean: 1/N each (d out.mean() / d out)",
    "sum": "sum: ones (d out.sum() / d out)",
    "lesson": f"the lesson's {LESSON_CONSTANT:g} for every element",
    "constant": "a constant of your choice",
}
MAX_CODE_LINES = 30  # longer scripts get a scrolling box of MAX_CODE_HEIGHT pixels
MAX_CODE_HEIGHT = 640
T = TypeVar("T")


def code_panel(python_code: str, r_code: str, *, key: str, download_name: str | None = None) -> None:
    """Python and R tabs; with download_name, a download button for each script (R's gets the .R suffix)."""
    python_tab, r_tab = st.tabs(["Python", "R (torch)"])
    with python_tab:
        _code(python_code, "python")
        if download_name:
            _download(python_code, download_name, "text/x-python", f"{key}_download_python")
    with r_tab:
        _code(r_code, "r")
        if download_name:
            _download(r_code, str(PurePath(download_name).with_suffix(".R")), "text/plain", f"{key}_download_r")


def _code(code: str, language: str) -> None:
    # Long lines scroll sideways: wrapped, their rest started at column 0 and read as broken Python
    # indentation. A long script scrolls inside a box so the step stays on screen.
    height = "content" if code.count("\n") <= MAX_CODE_LINES else MAX_CODE_HEIGHT
    st.code(code, language=language, wrap_lines=False, height=height)


def _download(code: str, file_name: str, mime: str, key: str) -> None:
    # on_click="ignore": a download must not rerun the script (it would interrupt a live training run).
    st.download_button(f"Download {file_name}", code, file_name=file_name, mime=mime, key=key,
                       icon=":material/download:", on_click="ignore")


def step_columns(title: str, explanation: str | None = None, *, printout: str | None = None) -> tuple:
    """A lesson step's heading, then (result column, code column): the result left, its code beside it.

    `printout`, torch's text for a whole model, goes above both columns: its lines ("  (2): Linear(
    in_features=16, out_features=1, bias=True)") are wider than the result column of a 1280 px window.
    """
    st.subheader(title)
    if explanation:
        st.markdown(explanation)
    if printout is not None:
        show_printout(printout)
    return st.columns([3, 2], gap="large")


def show_printout(text: str) -> None:
    """Text as torch prints it. One line may wrap (nothing to mis-indent); several keep their
    indentation and scroll sideways where too wide."""
    st.code(text, language="text", wrap_lines="\n" not in text.strip())


def show_errors(error: ConfigError, what: str) -> None:
    lines = "\n".join(f"- **{name}**: {message}" for name, message in error.errors.items())
    st.error(f"{what}:\n\n{lines}")


def checked(build: Callable[[], T], what: str) -> T:
    """build(), or the validation message and a stop: later steps need this one's result."""
    try:
        return build()
    except ConfigError as error:
        show_errors(error, what)
        st.caption("The steps below build on this one, so they wait until it is fixed.")
        st.stop()
        raise  # unreachable: st.stop raises


def show_tensor(name: str, view: TensorView) -> None:
    """Torch's printout of a tensor, with its shape and the type footer torch prints (as R's torch shows it)."""
    st.markdown(f"`{name}` · shape `{view.shape}` · `{view.type_label}` · requires_grad `{view.requires_grad}`")
    show_printout(view.printed)


def upstream_picker(key: str) -> Upstream:
    """Which gradient to pass to out.backward(gradient=g)."""
    kind = st.radio("Upstream gradient g", UPSTREAM_KINDS, key=f"{key}_upstream", format_func=UPSTREAM_LABELS.get,
                    help="What backward() needs for a non-scalar out: d(something)/d out, one number per element.")
    constant = LESSON_CONSTANT
    if kind == "constant":
        constant = st.number_input("Constant", key=f"{key}_constant", step=1.0, format="%g")
    return Upstream(kind, float(constant))


def keep_values(store: str, defaults: dict[str, object]) -> None:
    """Widgets forget their values on other pages: keep a copy under `store` and put missing ones back."""
    saved = st.session_state.get(store, {})
    for key, default in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = saved.get(key, default)
    st.session_state[store] = {key: st.session_state[key] for key in defaults}
