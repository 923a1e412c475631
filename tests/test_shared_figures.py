"""server/figure_cache.py: one figure's JSON for equal inputs, whichever session asks, and a
new one for any input that differs."""

import dataclasses
import math
from collections import OrderedDict

import numpy as np
import plotly.io as pio
import pytest

from server import figure_cache
from server.figure_cache import digest, shared_json, shared_jsons
from viz import training as figures


@dataclasses.dataclass
class Layer:
    name: str
    weight: np.ndarray
    grad: np.ndarray | None


WEIGHT = np.arange(6, dtype=np.float32).reshape(2, 3)


def changed_weight() -> np.ndarray:
    weight = WEIGHT.copy()
    weight[1, 2] = np.nextafter(weight[1, 2], np.float32(10))  # one value, by one ulp
    return weight


def test_equal_values_give_one_digest_whatever_the_objects():
    assert digest([Layer("0", WEIGHT.copy(), None), 0.1]) == digest([Layer("0", WEIGHT.copy(), None), 0.1])


@pytest.mark.parametrize("other", [
    [Layer("0", changed_weight(), None), 0.1],
    [Layer("0", WEIGHT.astype(np.float64), None), 0.1],  # same numbers, another dtype
    [Layer("0", WEIGHT.reshape(3, 2), None), 0.1],  # same bytes, another shape
    [Layer("2", WEIGHT, None), 0.1],
    [Layer("0", WEIGHT, np.zeros((2, 3), np.float32)), 0.1],
    [Layer("0", WEIGHT, None), math.nextafter(0.1, 1.0)],
    [Layer("0", WEIGHT, None), "0.1"],
    [Layer("0", WEIGHT, None)],
    ([Layer("0", WEIGHT, None), 0.1],),
], ids=["one-value", "dtype", "shape", "name", "gradient", "float", "text", "shorter", "nested"])
def test_any_difference_gives_another_digest(other):
    assert digest([Layer("0", WEIGHT, None), 0.1]) != digest(other)


def test_values_of_unknown_content_are_never_keyed():
    with pytest.raises(TypeError, match="cannot be keyed by a object"):
        digest([object()])


@pytest.fixture
def kept(monkeypatch) -> OrderedDict:
    monkeypatch.setattr(figure_cache, "_kept", OrderedDict())
    return figure_cache._kept


def counted(build, calls: list):
    def counting(*args, **kwargs):
        calls.append(args)
        return build(*args, **kwargs)
    counting.__module__, counting.__qualname__ = build.__module__, build.__qualname__
    return counting


def test_a_figure_is_built_once_for_equal_inputs_and_is_the_figures_own_json(kept):
    calls = []
    loss = counted(figures.loss_figure, calls)
    first = shared_json(loss, [1, 2], [3.0, 2.0], log_scale=True)
    again = shared_json(loss, [1, 2], [3.0, 2.0], log_scale=True)
    assert first == again == pio.to_json(figures.loss_figure([1, 2], [3.0, 2.0], log_scale=True), validate=False)
    assert len(calls) == 1
    shared_json(loss, [1, 2], [3.0, 2.0], log_scale=False)
    shared_json(loss, [1, 2], [3.0, 2.5], log_scale=True)
    assert len(calls) == 3


def test_the_least_recently_used_figure_goes_first_beyond_the_bound(kept, monkeypatch):
    monkeypatch.setattr(figure_cache, "KEPT", 2)
    calls = []
    loss = counted(figures.loss_figure, calls)
    for epochs in ([1], [2], [1], [3]):  # [1] used again, so [2] is the one dropped for [3]
        shared_json(loss, epochs, [1.0])
    assert len(kept) == 2 and len(calls) == 3
    shared_json(loss, [1], [1.0])
    assert len(calls) == 3
    shared_json(loss, [2], [1.0])
    assert len(calls) == 4


def test_figures_by_name_are_built_once_and_are_each_figures_own_json(kept):
    from core.config import Config
    from core.trainer import Trainer
    from viz.boundary import boundary_figures

    calls = []
    build = counted(boundary_figures, calls)
    plane = Trainer(Config().replace(dataset="xor", hidden_sizes="4")).plane()
    first, again = (shared_jsons(build, plane, epoch=0) for _ in range(2))
    assert first == again == {name: pio.to_json(figure, validate=False)
                              for name, figure in boundary_figures(plane, epoch=0).items()}
    assert len(calls) == 1
    shared_jsons(build, plane, epoch=1)
    assert len(calls) == 2


def test_a_reloaded_figure_function_builds_anew(kept):
    calls = []
    before, after = counted(figures.loss_figure, calls), counted(figures.loss_figure, calls)  # same names
    shared_json(before, [1], [1.0])
    shared_json(after, [1], [1.0])  # as after Streamlit reloaded an edited viz module
    assert len(calls) == 2
    shared_json(after, [1], [1.0])
    assert len(calls) == 2
