"""Property-based tests: whatever a URL, a secret, an upload or a checkpoint holds, core/ answers
with a valid result or its own error type (ConfigError, DataError, CheckpointError), never a crash."""

import functools
import io

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.checkpoint import Checkpoint, CheckpointError, load_checkpoint, restore_trainer, save_checkpoint
from core.config import (
    ACTIVATIONS,
    DEVICES,
    FIELDS,
    LEARNING_RATE_RANGE,
    LIMITS,
    MAX_SEED,
    OPTIMIZERS,
    REDUCTIONS,
    Config,
    ConfigError,
    Limits,
    estimated_memory_mb,
    parameter_count,
    parse_config,
)
from core.tabular import DataError, prepare, read_csv
from core.trainer import Trainer

# Per test, not a global profile: other test files keep their own settings. ~1 s per test.
fuzz = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(),
)
# Anything JSON or a query string could carry, nested.
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none()), inner, max_size=4),
    ),
    max_leaves=8,
)
numbers = st.one_of(
    st.integers(-10, 1000), st.floats(-200, 200), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**400, -(10**400), 2**63, 0.1 + 0.2, 5e-324]),  # beyond float, beyond int64, inexact
)
# Text a person could type into a field: numbers, lists of numbers, option names.
typed = st.one_of(
    numbers.map(str),
    st.lists(numbers, max_size=6).map(lambda xs: ", ".join(map(str, xs))),
    st.lists(numbers, max_size=6),
    st.sampled_from([*ACTIVATIONS, *REDUCTIONS, *OPTIMIZERS, *DEVICES, "", " ", "1e400", "-0", "0x10", "1_000"]),
)
field_values = st.one_of(anything, typed, numbers)
limit_names = st.sampled_from([f"MODULE_LAB_{name.upper()}" for name in Limits.__dataclass_fields__])


def parse_or_config_error(raw, limits=LIMITS):
    try:
        config = parse_config(raw, limits)
    except ConfigError as error:
        assert error.errors and all(isinstance(message, str) and message for message in error.errors.values())
        return None
    assert_valid(config, limits)
    return config


def assert_valid(config: Config, limits: Limits) -> None:
    data, model, training = config.data, config.model, config.training
    assert type(data.n_samples) is int and 1 <= data.n_samples <= limits.max_samples
    assert 0 <= data.noise_std <= 10
    assert 1 <= len(data.coefficients) <= limits.max_features
    assert all(-100 <= c <= 100 for c in data.coefficients)
    assert 0 <= len(model.hidden_sizes) <= limits.max_hidden_layers
    assert all(type(units) is int and 1 <= units <= limits.max_units for units in model.hidden_sizes)
    assert model.activation in ACTIVATIONS
    assert LEARNING_RATE_RANGE[0] <= training.learning_rate <= LEARNING_RATE_RANGE[1]
    assert type(training.epochs) is int and 1 <= training.epochs <= limits.max_epochs
    assert training.reduction in REDUCTIONS and training.optimizer in OPTIMIZERS and training.device in DEVICES
    assert type(training.seed) is int and 0 <= training.seed <= MAX_SEED
    assert parameter_count(config.layer_sizes()) <= limits.max_parameters
    assert estimated_memory_mb(config) <= limits.max_memory_mb
    # A shared link must reproduce the run exactly.
    assert parse_config(config.to_query_params(), limits) == config


# ------------------------------------------------------------------ config ---


@fuzz
@given(st.dictionaries(st.one_of(st.sampled_from(list(FIELDS)), st.text(max_size=12), st.integers()),
                       field_values, max_size=8))
def test_parse_config_of_any_mapping_gives_a_valid_config_or_config_error(raw):
    parse_or_config_error(raw)


@fuzz
@given(st.sampled_from(list(FIELDS)), field_values)
def test_parse_config_of_any_value_per_field_names_that_field(name, value):
    try:
        config = parse_config({name: value})
    except ConfigError as error:
        assert list(error.errors) in ([name], ["hidden_sizes"], ["n_samples"])  # the field, or a size cap
        return
    assert_valid(config, LIMITS)


@fuzz
@given(st.dictionaries(st.one_of(limit_names, st.text(max_size=12)), st.one_of(anything, typed), max_size=6),
       st.dictionaries(st.sampled_from(list(FIELDS)), typed, max_size=4))
def test_limits_from_any_mapping_give_positive_caps_or_config_error(raw_limits, raw_config):
    try:
        limits = Limits.from_mapping(raw_limits)
    except ConfigError:
        return
    assert all(type(value) is int and value >= 1 for value in vars(limits).values())
    parse_or_config_error({**Config().values(), **raw_config}, limits)


def test_defaults_are_checked_against_lowered_limits():
    with pytest.raises(ConfigError, match="epochs"):
        parse_config({}, Limits(max_epochs=100))  # the default is 200 epochs


# ------------------------------------------------------------------ tabular ---

csv_text = st.lists(st.sampled_from([*'0123456789.,-+e"x \n\r\t;', "nan", "inf", "NA", "é"]), max_size=80).map("".join)


@fuzz
@given(st.one_of(st.binary(max_size=300), csv_text.map(str.encode)), st.booleans(), st.data())
def test_read_csv_and_prepare_of_any_bytes_give_data_or_data_error(data, drop_incomplete, draw):
    try:
        frame = read_csv(data, Limits(max_samples=50, max_features=5))
    except DataError:
        return
    assert isinstance(frame, pd.DataFrame) and 1 <= len(frame) <= 50 and 1 <= len(frame.columns) <= 6
    target = draw.draw(st.sampled_from(list(frame.columns)))
    features = draw.draw(st.lists(st.sampled_from(list(frame.columns)), max_size=4))
    try:
        dataset = prepare(frame, target, features, drop_incomplete)
    except DataError:
        return
    assert np.isfinite(dataset.x).all() and np.isfinite(dataset.y).all()
    assert dataset.x.shape == (len(frame) - dataset.dropped_rows, len(features))


# --------------------------------------------------------------- checkpoint ---


@functools.cache
def valid_checkpoint(optimizer: str = "adam") -> bytes:
    trainer = Trainer(Config().replace(hidden_sizes="4", optimizer=optimizer, learning_rate=1e-3, epochs=5))
    for _ in range(3):
        trainer.step()
    trainer.set_learning_rate(2e-3)
    trainer.step()
    return save_checkpoint(trainer)


def load_or_checkpoint_error(data: bytes) -> Checkpoint | None:
    try:
        checkpoint = load_checkpoint(data)
    except CheckpointError as error:
        assert str(error)
        return None
    restore_trainer(checkpoint).step()  # whatever passed the checks must train
    return checkpoint


@fuzz
@given(st.binary(max_size=2000))
def test_load_checkpoint_of_any_bytes_gives_checkpoint_error(data):
    assert load_or_checkpoint_error(data) is None


@fuzz
@given(st.data())
def test_load_checkpoint_of_a_damaged_file_gives_a_checkpoint_or_checkpoint_error(draw):
    data = bytearray(valid_checkpoint())
    for _ in range(draw.draw(st.integers(1, 4))):
        data[draw.draw(st.integers(0, len(data) - 1))] = draw.draw(st.integers(0, 255))
    cut = draw.draw(st.integers(1, len(data)))
    load_or_checkpoint_error(bytes(data[:cut]))


tensors = st.builds(
    lambda shape, dtype: torch.zeros(shape, dtype=dtype),
    st.lists(st.integers(0, 4), max_size=3).map(tuple),
    st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool]),
)
payload_values = st.recursive(
    st.one_of(scalars, tensors),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(-2, 5)), inner, max_size=4),
    ),
    max_leaves=8,
)


@pytest.mark.parametrize("optimizer", ["manual_sgd", "adam"])
@fuzz
@given(data=st.data())
def test_load_checkpoint_with_any_part_replaced_gives_a_checkpoint_or_checkpoint_error(optimizer, data):
    payload = torch.load(io.BytesIO(valid_checkpoint(optimizer)), weights_only=True)
    section = data.draw(st.sampled_from(sorted(payload)))
    if isinstance(payload[section], dict) and payload[section] and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(list(payload[section])))  # replace one entry, e.g. a single config field
        payload[section][key] = data.draw(st.one_of(payload_values, field_values))
    else:
        payload[section] = data.draw(payload_values)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    load_or_checkpoint_error(buffer.getvalue())
