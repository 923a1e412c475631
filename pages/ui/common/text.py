"""Text on the pages: what a visitor typed or uploaded, shown literally, and validation messages."""

from __future__ import annotations

import re
from collections.abc import Sequence

import streamlit as st

from core.config import SHOWN_CHARS, ConfigError

LISTED = 5  # values a message lists at most; a link may name thousands
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


def quoted(value: object, limit: int = SHOWN_CHARS) -> str:
    """A visitor's value quoted in a message: cut to `limit` characters ('…' after), then `plain`."""
    text = str(value)
    return plain(text if len(text) <= limit else text[:limit] + "…")


def listed(values: Sequence[object], most: int = LISTED) -> str:
    """Visitors' values as one phrase: each `quoted`, at most `most` of them, then how many more."""
    shown_values = [quoted(value) for value in values[:most]]
    more = len(values) - most
    return "; ".join(shown_values) + (f"; and {more:,} more" if more > 0 else "")


def show_errors(error: ConfigError, what: str) -> None:
    """An error box: `what`, then each bad field and its message (which may quote what was typed)."""
    lines = "\n".join(f"- **{name}**: {plain(message)}" for name, message in error.errors.items())
    st.error(f"{what}:\n\n{lines}")
