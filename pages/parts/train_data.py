"""The Train page's data source: the lesson's synthetic data, or an uploaded CSV for regression."""

from __future__ import annotations

import re

import streamlit as st

from core.config import Limits
from core.tabular import DataError, Dataset, mostly_numeric_columns, numeric_columns, prepare, read_csv

SOURCES = {"lesson": "The lesson's data", "csv": "Upload a CSV"}


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


def _read(upload, caps: Limits):
    """The upload as a DataFrame, parsed once per file (reruns come several times a second)."""
    cached = st.session_state.get("csv_frame")
    if cached is None or cached[0] != upload.file_id:
        frame = read_csv(upload.getvalue(), caps)
        # A new file: the last numeric column is the target, the other mostly-numeric ones the
        # features (a stray "n/a" should be reported and droppable, not hide its column).
        target = numeric_columns(frame)[-1]
        st.session_state.csv_target = target
        st.session_state.csv_features = [c for c in mostly_numeric_columns(frame) if c != target]
        st.session_state.csv_frame = cached = (upload.file_id, frame)
    return cached[1]


def _choose_columns(frame) -> tuple[str, list[str], bool]:
    columns = [str(c) for c in frame.columns]
    target = st.selectbox("Target column", numeric_columns(frame), key="csv_target")
    options = [c for c in columns if c != target]
    st.session_state.csv_features = [c for c in st.session_state.get("csv_features", []) if c in options]
    features = st.multiselect("Feature columns", options, key="csv_features",
                              help="The network's inputs, each standardised to mean 0 and std 1.")
    drop = st.checkbox("Drop incomplete rows", key="csv_drop",
                       help="Leave out rows with a gap or a non-number in a chosen column.")
    return target, features, drop


def uploaded_dataset(caps: Limits) -> tuple[Dataset | None, str | None]:
    """Draw the source choice; return (dataset, None), (None, why not) or (None, None) for the lesson's data."""
    st.radio("Source", list(SOURCES), key="data_source", format_func=SOURCES.get, horizontal=True,
             help="An uploaded file stays in this browser session; a shared link cannot carry it.")
    st.session_state.data_key = None  # what the data is, to spot a change while a run exists
    if st.session_state.data_source != "csv":
        return None, None
    upload = st.file_uploader("CSV with a header row", type=["csv"], key="csv_file",
                              help=f"Numbers only in the chosen columns; up to {caps.max_samples:,} rows.")
    if upload is None:
        return None, "Upload a CSV file, or switch the data source back to the lesson's data."
    try:
        target, features, drop = _choose_columns(_read(upload, caps))
        dataset = prepare(_read(upload, caps), target, features, drop)
    except DataError as error:
        return None, str(error)
    st.session_state.data_key = (upload.file_id, target, tuple(features), drop)
    dropped = f"; {dataset.dropped_rows} incomplete rows dropped" if dataset.dropped_rows else ""
    st.caption(f"{len(dataset.x):,} rows × {len(features)} features, each standardised to mean 0 and "
               f"std 1{dropped}. The target is used as it is.")
    return dataset, None
