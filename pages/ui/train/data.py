"""The Train page's data source: generated data, or an uploaded CSV (regression, or classification when
its target has two values)."""

from __future__ import annotations

import streamlit as st

from core.config import Limits
from core.tabular import DataError, Dataset, mostly_numeric_columns, numeric_columns, prepare, read_csv
from pages.ui.train.teacher_link import locked

SOURCES = {"lesson": "Generated", "csv": "Upload a CSV"}


def _read(upload, limits: Limits):
    """The upload as a DataFrame, parsed once per file (reruns come several times a second)."""
    cached = st.session_state.get("csv_frame")
    if cached is None or cached[0] != upload.file_id:
        frame = read_csv(upload.getvalue(), limits)
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


def uploaded_dataset(limits: Limits) -> tuple[Dataset | None, str | None]:
    """Draw the source choice; return (dataset, None), (None, why not) or (None, None) for the lesson's data."""
    st.radio("Source", list(SOURCES), key="data_source", format_func=SOURCES.get, horizontal=True,
             disabled=locked("data_source"),
             help="An uploaded file stays in this browser session; a shared link cannot carry it.")
    st.session_state.data_key = None  # what the data is, to spot a change while a run exists
    if st.session_state.data_source != "csv":
        return None, None
    upload = st.file_uploader("CSV with a header row", type=["csv"], key="csv_file",
                              help=f"Numbers only in the chosen columns; up to {limits.max_samples:,} rows.")
    if upload is None:
        return None, "Upload a CSV file, or switch the data source back to generated data."
    try:
        target, features, drop = _choose_columns(_read(upload, limits))
        dataset = prepare(_read(upload, limits), target, features, drop)
    except DataError as error:
        return None, str(error)
    classify = _classify_choice(dataset)
    if classify:
        dataset = dataset.as_classification()
    st.session_state.data_key = (upload.file_id, target, tuple(features), drop, classify)
    dropped = f"; {dataset.dropped_rows} incomplete rows dropped" if dataset.dropped_rows else ""
    if dataset.classes is not None:
        low, high = dataset.classes
        used = f"The target is a label: {low:g} is class 0, {high:g} is class 1."
    else:
        used = "The target is used as it is."
    st.caption(f"{len(dataset.x):,} rows × {len(features)} features, each standardised to mean 0 and "
               f"std 1{dropped}. {used}")
    return dataset, None


def _classify_choice(dataset: Dataset) -> bool:
    """A target of exactly two values may be classes: ticked by default, as a 0/1 column usually is."""
    if dataset.two_values is None:
        return False
    return st.checkbox("Classification", value=True, key="csv_classify",
                       help="The target has two values: train one logit with nn.BCEWithLogitsLoss and count "
                            "accuracy, instead of regressing the values with the squared error.")
