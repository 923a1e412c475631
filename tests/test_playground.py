"""Issue 14's options (dataset, test_fraction, batch_size, l1, l2) against plain PyTorch written out by hand."""

import json

import numpy as np
import pytest
import torch

from core.config import FIELDS, Config, ConfigError, parse_config
from core.exports import config_json

PLAYGROUND = dict(dataset="xor", test_fraction=0.3, batch_size=16, l1=0.001, l2=0.0001)


# ----------------------------------------------------------------- config ---


@pytest.mark.parametrize("field,value,message", [
    ("dataset", "moons", "'moons' is not one of lesson, circle, xor, gauss, spiral"),
    ("test_fraction", "0.95", "0.95 is out of range; allowed 0 to 0.9"),
    ("test_fraction", "-0.1", "-0.1 is out of range; allowed 0 to 0.9"),
    ("batch_size", "2.5", "'2.5' is not a whole number; allowed 0 to 10000"),
    ("batch_size", "10001", "10001 is out of range; allowed 0 to 10000"),
    ("l1", "-1", "-1 is out of range; allowed 0 to 1"),
    ("l2", "big", "'big' is not a number; allowed 0 to 1"),
])
def test_each_new_field_names_itself_and_what_is_allowed(field, value, message):
    with pytest.raises(ConfigError) as caught:
        parse_config({field: value})
    assert caught.value.errors == {field: message}


def test_new_fields_default_to_the_lessons_run():
    training, data = Config().training, Config().data
    assert (data.dataset, training.test_fraction, training.batch_size, training.l1, training.l2) == ("lesson", 0, 0, 0, 0)
    assert not data.classification and Config().layer_sizes() == [3, 32, 1]


def test_a_classification_set_has_two_inputs_whatever_the_coefficients():
    assert Config().replace(dataset="spiral", coefficients="1,2,3,4").layer_sizes() == [2, 32, 1]


@pytest.mark.parametrize("n_samples,fraction,side", [(1, 0.5, "training"), (3, 0.1, "testing")])
def test_a_split_that_leaves_a_side_empty_is_refused(n_samples, fraction, side):
    with pytest.raises(ConfigError) as caught:
        parse_config({"n_samples": n_samples, "test_fraction": fraction})
    assert caught.value.errors == {"test_fraction": f"{fraction:g} of {n_samples} samples leaves no rows for {side}; "
                                                    "use more samples or another fraction"}


def test_new_fields_round_trip_through_the_url_and_the_config_download():
    config = Config().replace(**PLAYGROUND)
    params = config.to_query_params()
    assert {name: params[name] for name in PLAYGROUND} == {
        "dataset": "xor", "test_fraction": "0.3", "batch_size": "16", "l1": "0.001", "l2": "0.0001"}
    assert parse_config(params) == config
    assert parse_config(json.loads(config_json(config))) == config
    assert set(PLAYGROUND) <= set(FIELDS)
