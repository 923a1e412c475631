"""viz/boundary.py on figure contents: the plane, the points by set and class, the small multiples, sizes."""

import json
from types import SimpleNamespace

import numpy as np
import plotly.io as pio
import pytest

from viz import boundary as figures


def plane(grid=30, units=0, total=None, seed=0):
    """A plane whose p(class 1) rises along x1; units = arbitrary outputs scaled per unit."""
    rng = np.random.default_rng(seed)
    x1, x2 = np.linspace(-3, 3, grid, dtype=np.float32), np.linspace(-2, 4, grid, dtype=np.float32)
    probability = np.tile(1 / (1 + np.exp(-x1)), (grid, 1)).astype(np.float32)  # (G, G): rows x2, columns x1
    return SimpleNamespace(x1=x1, x2=x2, probability=probability,
                           units=rng.normal(size=(units, grid, grid)).astype(np.float32),
                           total_units=units if total is None else total)


def points(n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), (rng.random(n) > 0.4).astype(float)


def spec(fig):
    return json.loads(pio.to_json(fig, validate=False))


def heatmap_title(fig):
    return fig.data[0].colorbar.title.text


def test_the_plane_is_a_heatmap_of_p_in_percent_centred_at_half():
    fig = figures.boundary_figure(plane(), *points(50))
    heatmap = fig.data[0]
    assert heatmap.type == "heatmap" and np.asarray(heatmap.z).shape == (30, 30)
    np.testing.assert_array_equal(heatmap.z, np.round(plane().probability * 100))
    assert (heatmap.zmin, heatmap.zmid, heatmap.zmax) == (0, 50, 100)
    assert heatmap.x0 == pytest.approx(-3) and heatmap.dx == pytest.approx(6 / 29)
    assert heatmap.y0 == pytest.approx(-2) and heatmap.dy == pytest.approx(6 / 29)
    assert list(heatmap.colorbar.ticktext) == ["0", "0.5", "1"]
    assert spec(fig)["data"][0]["z"]["dtype"] == "u1"  # one byte a cell on the wire


def test_points_are_one_trace_per_set_and_class_with_distinct_markers():
    x_train, y_train = points(70)
    x_test, y_test = points(30, seed=2)
    fig = figures.boundary_figure(plane(), x_train, y_train, x_test, y_test, epoch=12)
    scatters = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in scatters] == ["train: class 0", "train: class 1", "test: class 0", "test: class 1"]
    assert [len(t.x) for t in scatters] == [(y_train == 0).sum(), (y_train == 1).sum(),
                                            (y_test == 0).sum(), (y_test == 1).sum()]
    np.testing.assert_allclose(scatters[1].x, x_train[y_train == 1, 0], rtol=1e-6)
    np.testing.assert_allclose(scatters[3].y, x_test[y_test == 1, 1], rtol=1e-6)
    assert scatters[0].marker.symbol == "circle" and scatters[2].marker.symbol == "diamond"
    assert scatters[0].marker.color == scatters[2].marker.color != scatters[1].marker.color
    assert fig.layout.xaxis.title.text == "x1" and fig.layout.yaxis.title.text == "x2"
    assert fig.layout.title.text == "Decision boundary at epoch 12"  # every point drawn: no note
    assert heatmap_title(fig) == "p(class 1) = torch.sigmoid(logit)"


def test_without_test_points_only_the_training_set_is_drawn():
    fig = figures.boundary_figure(plane(), *points(20), np.empty((0, 2)), np.empty(0))
    assert [t.name for t in fig.data if t.type == "scatter"] == ["train: class 0", "train: class 1"]


def test_many_points_are_decimated_and_the_title_says_so():
    x_train, y_train = points(7_000)
    x_test, y_test = points(3_000, seed=2)
    fig = figures.boundary_figure(plane(), x_train, y_train, x_test, y_test, max_points=600)
    counts = [len(t.x) for t in fig.data if t.type == "scatter"]
    assert sum(counts[:2]) == 420 and sum(counts[2:]) == 180  # in proportion to the sets' sizes
    assert "420 of 7,000 train, 180 of 3,000 test points drawn" in fig.layout.title.text


def test_point_shares_draw_every_point_while_they_fit():
    assert figures.point_shares([70, 30], 600) == [70, 30]
    assert figures.point_shares([9_999, 1], 600) == [599, 1]


def test_evenly_spaced_picks_keep_the_ends_and_the_class_proportions():
    picks = figures.evenly_spaced(10_000, 500)
    assert len(picks) == 500 and picks[0] == 0 and picks[-1] == 9_999
    labels = np.repeat([0, 1], [3_000, 7_000])  # stored class by class
    assert labels[picks].mean() == pytest.approx(0.7, abs=0.01)
    assert figures.evenly_spaced(3, 500).tolist() == [0, 1, 2]


def test_a_diverged_network_leaves_gaps_not_invalid_json():
    broken = plane()
    broken.probability[3, 4] = np.nan
    fig = figures.boundary_figure(broken, *points(10))

    def refuse(constant):
        raise AssertionError(f"{constant} is not valid JSON for the browser")

    json.loads(pio.to_json(fig, validate=False), parse_constant=refuse)
    assert np.isnan(np.asarray(fig.data[0].z)[3, 4])


def unit_tiles(fig):
    return [t for t in fig.data if t.type == "heatmap"]


def test_units_figure_one_small_multiple_per_unit_scaled_to_its_own_max():
    grid = plane(grid=12, units=5)
    fig = figures.units_figure(grid, epoch=3, columns=4)
    tiles = unit_tiles(fig)
    assert [t.name for t in tiles] == [f"unit {k}" for k in range(5)]
    limit = np.abs(grid.units[2]).max()
    np.testing.assert_array_equal(tiles[2].z, np.round(grid.units[2] / limit * 127))
    labels = [t for t in fig.data if t.type == "scatter"][0]
    assert list(labels.text)[2] == f"2 ±{figures.number_label(float(f'{limit:.2g}'))}"
    assert np.isclose(float(labels.text[2].split("±")[1]), limit, rtol=0.05)
    assert {t.coloraxis for t in tiles} == {"coloraxis"} and fig.layout.coloraxis.cmid == 0
    assert fig.layout.title.text == "Each unit of the first hidden layer over the plane at epoch 3"
    assert spec(fig)["data"][0]["z"]["dtype"] == "i1"


def test_unit_tiles_sit_in_rows_from_the_top_without_overlapping():
    fig = figures.units_figure(plane(grid=12, units=5), columns=4)
    corners = [(t.x0, t.y0) for t in unit_tiles(fig)]
    assert len(set(corners)) == 5
    assert corners[0][1] == corners[3][1] > corners[4][1]  # unit 4 starts the second row, below
    assert corners[1][0] - corners[0][0] >= 12 and corners[0][1] - corners[4][1] >= 12  # a tile is 12 cells a side


def test_a_wide_layer_shows_its_first_units_and_says_so():
    fig = figures.units_figure(plane(grid=60, units=16, total=512))
    tiles = unit_tiles(fig)
    assert len(tiles) == 16 and "the first 16 of 512" in fig.layout.title.text
    assert np.asarray(tiles[0].z).shape == (15, 15)  # a 60-point plane sampled every fourth point


def test_no_hidden_layer_says_why_the_boundary_is_a_line():
    fig = figures.units_figure(plane(units=0))
    assert fig.data == () and "straight line" in fig.layout.annotations[0].text


def test_the_largest_boundary_frame_is_small():
    """10,000 points and a 512-unit first layer: both figures together stay a fraction of 100 KB."""
    x_train, y_train = points(7_000)
    x_test, y_test = points(3_000, seed=2)
    grid = plane(grid=80, units=16, total=512)
    size = sum(len(pio.to_json(fig, validate=False)) for fig in (
        figures.boundary_figure(grid, x_train, y_train, x_test, y_test), figures.units_figure(grid)))
    assert size < 40_000, size
