"""The widgets the lesson pages (Layers, Models) share: a step's columns, torch's printouts, the
upstream gradient, and values kept across page visits."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from core.config import ConfigError
from core.lesson import LESSON_CONSTANT, UPSTREAM_KINDS, TensorView, Upstream
from pages.ui.common.text import show_errors

UPSTREAM_LABELS = {
    "mean": "mean: 1/N each (d out.mean() / d out)",
    "sum": "sum: ones (d out.sum() / d out)",
    "lesson": f"the lesson's {LESSON_CONSTANT:g} for every element",
    "constant": "a constant of your choice",
}
T = TypeVar("T")


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
