"""The Train page's sidebar: widgets whose keys are the config's field names and URL parameters.

A shared link (`?hidden_sizes=64,32&learning_rate=0.001&seed=3`) fills the widgets on the
first load of a session; from then on every valid change is written back to the URL.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st

from core.config import (
    ACTIVATIONS,
    DATASETS,
    FIELDS,
    LEARNING_RATE_RANGE,
    MAX_SEED,
    REDUCTIONS,
    Config,
    ConfigError,
    Limits,
    check_size,
    field_specs,
    parse_config,
    parse_fields,
    shown,
)
from core.device import cuda_unavailable_reason
from core.presets import PRESETS
from core.tabular import Dataset
from pages.ui.common.device_radio import device_radio
from pages.ui.common.limits import read_limits
from pages.ui.common.text import plain
from pages.ui.train import teacher_link
from pages.ui.train.data import uploaded_dataset
from pages.ui.train.teacher_link import locked

OPTIMIZER_LABELS = {"manual_sgd": "manual SGD (the lesson's loop)", "sgd": "torch.optim.SGD",
                    "adam": "torch.optim.Adam"}
VIEW_DEFAULTS = {"live": True, "log_scale": False}  # how to draw, not what to train; also in the URL
# Kept across page visits (Streamlit forgets a widget's value once another page was shown).
PERSISTED = [*FIELDS, *VIEW_DEFAULTS, "data_source"]
# 1, 2, 5 per decade from 1e-6 to 1: a log-scale slider
LEARNING_RATES = sorted(
    float(f"{m}e{e}") for e in range(-6, 1) for m in (1, 2, 5) if float(f"{m}e{e}") <= LEARNING_RATE_RANGE[1]
)


DATASET_LABELS = {"lesson": "the lesson's regression", "circle": "circle", "xor": "xor", "gauss": "gauss: two blobs",
                  "spiral": "spiral"}
assert set(DATASET_LABELS) == set(DATASETS)
TEST_FRACTIONS = tuple(round(0.1 * i, 1) for i in range(10))  # 0 to 0.9
PENALTIES = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)  # of l1 and l2, as Playground offers


def widget_value(value: object) -> object:
    """Lists are edited as comma-separated text."""
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) if isinstance(value, tuple) else value


def read_as(name: str, limits: Limits) -> None:
    """Under a list typed as text: the list it was read as, when stray separators were dropped ("32," is 32).

    Spacing alone is not mentioned; an invalid list gets the page's error instead.
    """
    text = str(st.session_state[name])
    try:
        normalised = widget_value(field_specs(limits)[name].parse(text))
    except ValueError:
        return
    if text.replace(" ", "") != str(normalised).replace(" ", ""):
        st.caption(f"Read as `{normalised}`")


def _flag(text: str) -> bool | None:
    return {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower())


def _load_url(limits: Limits) -> None:
    """First load of this session: widget values from the URL; bad values fall back to defaults, with a message."""
    params = st.query_params.to_dict()
    values, errors = parse_fields(params, limits)
    if values["device"] == "cuda" and (reason := cuda_unavailable_reason()):
        errors["device"] = f"'cuda' is not usable here ({reason}); using cpu"
        values["device"] = "cpu"
    for name, default in VIEW_DEFAULTS.items():
        flag = _flag(params.get(name, str(default)))
        if flag is None:
            errors[name] = f"{shown(params[name])} is not true or false"
        st.session_state[name] = default if flag is None else flag
    if errors:
        st.session_state.url_error = ConfigError(errors)
    for name, value in values.items():
        st.session_state[name] = widget_value(value)
    st.session_state.data_source = "lesson"  # an uploaded file cannot travel in a link


def _restore() -> None:
    """Widgets forget their values when another page was shown; put them back."""
    for name, value in st.session_state.get("train_values", {}).items():
        if name not in st.session_state:
            st.session_state[name] = value


def _add_layer() -> None:
    sizes = [s.strip() for s in str(st.session_state.hidden_sizes).split(",") if s.strip()]
    st.session_state.hidden_sizes = ", ".join([*sizes, sizes[-1] if sizes else "16"])


def _remove_layer() -> None:
    sizes = [s.strip() for s in str(st.session_state.hidden_sizes).split(",") if s.strip()]
    st.session_state.hidden_sizes = ", ".join(sizes[:-1])


def _data_widgets(limits: Limits) -> tuple[Dataset | None, str | None]:
    st.subheader("Data")
    dataset, data_error = uploaded_dataset(limits)
    if st.session_state.data_source == "lesson":
        st.selectbox("Data set", DATASETS, key="dataset", disabled=locked("dataset"), format_func=DATASET_LABELS.get,
                     help="The lesson's regression, or one of TensorFlow Playground's classification sets: "
                          "points (x1, x2) on the plane labelled 0 or 1.")
        classification = st.session_state.dataset != "lesson"
        st.number_input("Samples", key="n_samples", disabled=locked("n_samples"), min_value=1,
                        max_value=limits.max_samples, step=10,
                        help=f"Points on the plane; 1 to {limits.max_samples:,}." if classification else
                        f"Rows of x ~ N(0, 1); 1 to {limits.max_samples:,}.")
        st.number_input("Noise std", key="noise_std", disabled=locked("noise_std"), min_value=0.0, max_value=10.0,
                        step=0.1, format="%.2f",
                        help="Moves each point by N(0, (0.1·std)²) on each axis (gauss: widens the blobs)."
                        if classification else "y gets + N(0, std²) noise; the lesson uses 1.")
        if not classification:
            st.text_input("Target coefficients", key="coefficients", disabled=locked("coefficients"),
                          help="y = c1·x1 + c2·x2 + … + noise; one input per coefficient. The lesson: 0.2, -1.3, -0.5.")
            read_as("coefficients", limits)
    fractions = sorted({*TEST_FRACTIONS, float(st.session_state.test_fraction)})
    st.select_slider("Test fraction", fractions, key="test_fraction", disabled=locked("test_fraction"),
                     format_func=percent_label,
                     help="Rows held out, picked once with the seed: the model never trains on them, and their loss "
                          "(model.eval(), torch.no_grad()) is drawn beside the training loss. 0: train on every row.")
    st.number_input("Seed", key="seed", disabled=locked("seed"), min_value=0, max_value=MAX_SEED, step=1,
                    help="Seeds the data, the split and the initial weights: the same seed gives the same run.")
    return dataset, data_error


def percent_label(fraction: float) -> str:
    """'30%' for 0.3 (whose 100x is 30.000000000000004), '0.333' where a link gave more digits."""
    percent = 100 * fraction
    return f"{round(percent)}%" if abs(percent - round(percent)) < 1e-9 else f"{fraction:g}"


def _presets() -> None:
    """Links to runs worth trying (core/presets.py); not in a teacher's exercise, which fixes its own settings."""
    if teacher_link.exercise().locked:
        return
    st.markdown(f"Try: {_preset_links()}",
                help="Each link opens the Train page with that run's settings; hover for what it shows.")


@functools.cache  # the same text on every rerun of every session; parsing the presets' configs took 0.6 ms
def _preset_links() -> str:
    return " · ".join(f"[{preset.name}](train?{urlencode(preset.config.to_query_params())} \"{preset.shows}\")"
                      for preset in PRESETS)


def _network_widgets(limits: Limits) -> None:
    st.subheader("Network")
    st.text_input("Hidden layer sizes", key="hidden_sizes", disabled=locked("hidden_sizes"),
                  help=f"Units per hidden nn.Linear, comma-separated: 0 to {limits.max_hidden_layers} layers "
                       f"of 1 to {limits.max_units} units; empty for none (one nn.Linear straight to the output). "
                       "The output layer has 1.")
    read_as("hidden_sizes", limits)
    add, remove = st.columns(2)
    fixed = locked("hidden_sizes")
    add.button("Layer", key="add_layer", icon=":material/add:", on_click=_add_layer, width="stretch", disabled=fixed,
               help="Add a hidden layer (a copy of the last size).")
    remove.button("Layer", key="remove_layer", icon=":material/remove:", on_click=_remove_layer, width="stretch",
                  disabled=fixed, help="Remove the last hidden layer.")
    st.selectbox("Activation", ACTIVATIONS, key="activation", disabled=locked("activation"),
                 help="The nn module placed after each hidden Linear.")


def _training_widgets(limits: Limits) -> None:
    st.subheader("Training")
    rates = sorted({*LEARNING_RATES, float(st.session_state.learning_rate)})
    st.select_slider("Learning rate", rates, key="learning_rate", disabled=locked("learning_rate"),
                     format_func=lambda v: f"{v:g}",
                     help="Log scale, 1e-6 to 1; the lesson uses 1e-4. May change mid-run.")
    st.number_input("Epochs", key="epochs", disabled=locked("epochs"), min_value=1, step=50, help="May change mid-run.")
    st.radio("Loss reduction", REDUCTIONS, key="reduction", disabled=locked("reduction"), horizontal=True,
             help="sum: (y_pred - y).pow(2).sum(), as in the lesson; mean divides it by the number of samples.")
    st.selectbox("Update rule", list(OPTIMIZER_LABELS), key="optimizer", disabled=locked("optimizer"),
                 format_func=OPTIMIZER_LABELS.get)
    st.number_input("Batch size", key="batch_size", disabled=locked("batch_size"), min_value=0,
                    max_value=limits.max_samples, step=1,
                    help="0: every training row in one step, the lesson's full batch. Otherwise a "
                         "torch.utils.data.DataLoader shuffles the rows each epoch and the model takes a step "
                         "per batch; an epoch is one pass over them.")
    for name, label, term in (("l1", "L1 penalty", "p.abs().sum()"), ("l2", "L2 penalty", "p.pow(2).sum()")):
        rates = sorted({*PENALTIES, float(st.session_state[name])})
        st.select_slider(label, rates, key=name, disabled=locked(name), format_func=lambda v: f"{v:g}",
                         help=f"loss = loss + {name} * sum({term} for p in model.parameters()), before backward(): "
                              "it pulls the weights toward 0. The charted loss leaves it out, like the test loss.")
    device_radio("device", locked=locked("device"))


def _view_widgets() -> None:
    st.subheader("View")
    st.toggle("Live charts", key="live", help="Off: only the progress updates while training; fastest.")
    st.toggle("Log-scale loss", key="log_scale")


@dataclass(frozen=True)
class Setup:
    """What the sidebar says to train, and how to draw it."""

    config: Config | None  # None while a setting is invalid; the error is in st.session_state.config_error
    view: dict[str, bool]
    dataset: Dataset | None  # an uploaded CSV, or None for the lesson's synthetic data
    limits: Limits


def config_sidebar() -> Setup:
    """Draw the sidebar and read it into a Setup."""
    limits = read_limits()
    if "train_values" not in st.session_state:
        _load_url(limits)
        teacher_link.load(st.query_params.to_dict(), st.session_state)
    _restore()
    teacher_link.pin()  # a teacher's link: locked fields keep the link's values, whatever a widget sent
    with st.sidebar:
        if url_error := st.session_state.pop("url_error", None):
            lines = "; ".join(f"{name}: {plain(message)}" for name, message in url_error.errors.items())
            st.warning(f"The link had values that could not be used, so defaults stand in: {lines}")
        _presets()
        dataset, data_error = _data_widgets(limits)
        _network_widgets(limits)
        _training_widgets(limits)
        _view_widgets()
    st.session_state.train_values = {name: st.session_state[name] for name in PERSISTED}
    view = {name: bool(st.session_state[name]) for name in VIEW_DEFAULTS}
    config = _checked_config(limits, dataset, data_error)
    if config is not None:
        _write_url(config, view)
    return Setup(config, view, dataset, limits)


def _checked_config(limits: Limits, dataset: Dataset | None, data_error: str | None) -> Config | None:
    """The widgets' config, within the limits for the data it will train on; None (and the error kept) if not."""
    try:
        if data_error:
            raise ConfigError({"data": data_error})
        values = {name: st.session_state[name] for name in FIELDS}
        if dataset is not None:
            values["dataset"] = "lesson"  # an upload is regression: its own target, not a generated set
        config = parse_config(values, limits)
        if dataset is not None:
            check_size(config, limits, data_shape=dataset.x.shape)
    except ConfigError as error:
        st.session_state.config_error = error
        return None
    st.session_state.config_error = None
    return config


def _write_url(config: Config, view: dict[str, bool]) -> None:
    wanted = {**config.to_query_params(), **{k: str(v).lower() for k, v in view.items()},
              **dict(teacher_link.exercise().params)}
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
