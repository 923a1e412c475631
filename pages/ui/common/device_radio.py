"""The device choice the Models and Train pages share."""

from __future__ import annotations

import streamlit as st

from core.device import cuda_unavailable_reason

DEVICE_LABELS = {"cpu": "CPU", "cuda": "CUDA"}


def device_radio(key: str, locked: bool = False) -> str:
    """CPU or CUDA; CUDA disabled, with the reason beside it, where torch cannot use it.
    `locked`: shown, not changeable."""
    reason = cuda_unavailable_reason()
    choice = st.radio("Device", list(DEVICE_LABELS), key=key, horizontal=True, format_func=DEVICE_LABELS.get,
                      disabled=reason is not None or locked, help=f"CUDA is unavailable: {reason}" if reason else None)
    if reason:
        st.caption(f"CUDA is disabled: {reason}.")
    return choice
