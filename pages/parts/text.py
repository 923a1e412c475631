"""Text on the pages: what a visitor typed or uploaded, shown literally, and validation messages."""

from __future__ import annotations

import re

import streamlit as st

from core.config import ConfigError

JOINER = "\u2060"  # WORD JOINER: invisible and zero-width; it splits a pattern without showing
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark


def plain(text: str) -> str:
    """Text from a file, a link or a typed value, shown literally in Streamlit's Markdown (st.error,
    st.warning, st.caption...): no link, image, icon, emoji, colour, emphasis or HTML ever comes out.

    Every ASCII punctuation mark is backslash-escaped, which CommonMark shows as the mark itself:
    no [link](...), ![image](...), <tag>, *emphasis*, `code`, $math$, table, heading or list, and no
    directive such as :red[...]. Streamlit acts on the parsed text too, where the escapes are gone:
    it turns :material/lock: (and :material_lock:) into an icon, :smile: into an emoji, and remark-gfm
    links bare http://..., www.x.com and a@b.co. A word joiner after every ':' and '@', and between
    'www' and '.', breaks those patterns. Line breaks become spaces: the text stays one paragraph.
    """
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    text = re.sub(r"(?i)(?<=www)\.", JOINER + ".", re.sub(r"([:@])", "\\1" + JOINER, text))
    return _PUNCTUATION.sub(r"\\\1", text)


def show_errors(error: ConfigError, what: str) -> None:
    """An error box: `what`, then each bad field and its message (which may quote what was typed)."""
    lines = "\n".join(f"- **{name}**: {plain(message)}" for name, message in error.errors.items())
    st.error(f"{what}:\n\n{lines}")
