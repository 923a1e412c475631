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


# ------------------------------------------------------------------- data ---

from core.data import CLASSIFICATION_SETS, make_data  # noqa: E402

SETS = list(CLASSIFICATION_SETS)


@pytest.mark.parametrize("dataset", SETS)
def test_a_classification_set_is_two_inputs_and_balanced_zero_one_labels(dataset):
    config = Config().replace(dataset=dataset, n_samples=101)
    torch.manual_seed(3)
    x, y = make_data(config.data)
    torch.manual_seed(3)
    again_x, again_y = make_data(config.data)
    assert x.shape == (101, 2) and y.shape == (101, 1) and x.dtype == y.dtype == torch.float32
    assert set(y.flatten().tolist()) == {0.0, 1.0}
    assert 30 < int(y.sum()) < 70 if dataset == "xor" else int(y.sum()) == 51  # xor's by quadrant, the rest by half
    assert torch.equal(x, again_x) and torch.equal(y, again_y)
    assert x.abs().max() < 3  # on the unit scale the lesson's learning rates suit


def test_without_noise_each_set_follows_its_rule():
    def noiseless(dataset):
        torch.manual_seed(0)
        x, y = make_data(Config().replace(dataset=dataset, n_samples=400, noise_std=0).data)
        return x, y.flatten().bool()

    x, inside = noiseless("circle")
    radius = x.norm(dim=1)
    assert radius[inside].max() <= 0.5 and radius[~inside].min() >= 0.7 - 1e-6 and radius.max() <= 1 + 1e-6
    x, same_sign = noiseless("xor")
    assert torch.equal(same_sign, x[:, 0] * x[:, 1] > 0) and x.abs().min() >= 0.05
    x, upper = noiseless("gauss")
    assert torch.allclose(x[upper].mean(0), torch.tensor([0.6, 0.6]), atol=0.05)
    assert torch.allclose(x[~upper].mean(0), torch.tensor([-0.6, -0.6]), atol=0.05)
    x, first_arm = noiseless("spiral")
    assert torch.allclose(x[first_arm], -x[~first_arm], atol=1e-6)  # the arms are half a turn apart


def test_noise_std_scales_the_spread():
    def spread(noise_std):
        torch.manual_seed(0)
        x, _ = make_data(Config().replace(dataset="circle", n_samples=400, noise_std=noise_std).data)
        return x

    clean, noisy = spread(0), spread(2)
    assert 0.15 < (noisy - clean).std() < 0.25  # 0.1 * noise_std per coordinate
