"""The code beside each lesson step and the Train page: Python and R tabs, copy and download.

    code_panel(training_script(config), r_training_script(config), key="train_code",
               download_name="train_module_lab.py")
"""

from __future__ import annotations

from pathlib import PurePath

import streamlit as st

MAX_CODE_LINES = 30  # longer scripts get a scrolling box of MAX_CODE_HEIGHT pixels
MAX_CODE_HEIGHT = 640


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
