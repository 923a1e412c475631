"""core/boundary.py against the same grid and forward pass written out in plain torch."""

import numpy as np
import pytest
import torch
from torch import nn

from core.boundary import (
    GRID_SIZES,
    MAX_GRID_MACS,
    MAX_UNITS,
    boundary_data,
    grid_size_for,
    plane_extent,
    plane_outputs,
)
from viz.boundary import boundary_figures


def classifier(hidden=(8, 8), activation=nn.Tanh, seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    sizes, layers = [2, *hidden], []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), activation()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], 1))


POINTS = np.array([[-2.0, 1.0], [3.0, -1.0], [0.5, 4.0]])


def reference_grid(points, grid_size, margin=0.1):
    """The plane by hand: range + margin of it on each side, x1 along columns, x2 along rows."""
    low, high = points.min(axis=0), points.max(axis=0)
    pad = (high - low) * margin
    x1 = torch.linspace(low[0] - pad[0], high[0] + pad[0], grid_size)
    x2 = torch.linspace(low[1] - pad[1], high[1] + pad[1], grid_size)
    rows, columns = torch.meshgrid(x2, x1, indexing="ij")  # (G, G) each
    return x1, x2, torch.stack([columns.reshape(-1), rows.reshape(-1)], dim=1)  # (G*G, 2)


def test_extent_is_the_range_plus_a_margin_of_it():
    np.testing.assert_allclose(plane_extent(POINTS), [(-2.5, 3.5), (-1.5, 4.5)])


def test_extent_of_a_single_point_or_a_constant_column_is_not_empty():
    assert plane_extent(np.array([[1.0, 2.0]])) == ((0.0, 2.0), (1.0, 3.0))
    np.testing.assert_allclose(plane_extent(torch.tensor([[0.0, 5.0], [2.0, 5.0]])), [(-0.2, 2.2), (4.0, 6.0)])


def test_probability_is_the_sigmoid_of_the_logits_on_the_grid():
    model = classifier()
    out = plane_outputs(model, POINTS, grid_size=7)
    x1, x2, grid = reference_grid(POINTS, 7)
    with torch.no_grad():
        expected = torch.sigmoid(model(grid)).reshape(7, 7)
    np.testing.assert_allclose(out.x1, x1.numpy(), rtol=1e-6)
    np.testing.assert_allclose(out.x2, x2.numpy(), rtol=1e-6)
    np.testing.assert_allclose(out.probability, expected.numpy(), rtol=1e-5, atol=1e-7)
    assert out.probability.dtype == np.float32 and out.probability.shape == (7, 7)


def test_rows_follow_x2_and_columns_x1():
    """A model whose logit is x1: probability rises along each row, is constant down a column."""
    model = nn.Sequential(nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0]]))
        model[0].bias.zero_()
    p = plane_outputs(model, POINTS, grid_size=5).probability
    assert np.all(np.diff(p, axis=1) > 0) and np.allclose(np.diff(p, axis=0), 0)


def test_first_hidden_layer_units_after_the_activation():
    model = classifier(hidden=(5, 3), activation=nn.ReLU)
    out = plane_outputs(model, POINTS, grid_size=6)
    _, _, grid = reference_grid(POINTS, 6)
    with torch.no_grad():
        hidden = torch.relu(model[0](grid))  # (G*G, 5)
    assert out.total_units == 5 and out.units.shape == (5, 6, 6)
    np.testing.assert_allclose(out.units, hidden.T.reshape(5, 6, 6).numpy(), rtol=1e-6, atol=1e-7)


def test_only_the_first_units_of_a_wide_layer_are_kept():
    out = plane_outputs(classifier(hidden=(40,)), POINTS, grid_size=4)
    assert out.total_units == 40 and out.units.shape == (MAX_UNITS, 4, 4)
    assert plane_outputs(classifier(hidden=(40,)), POINTS, grid_size=4, max_units=3).units.shape == (3, 4, 4)


def test_a_model_without_hidden_layers_has_no_units():
    out = plane_outputs(nn.Sequential(nn.Linear(2, 1)), POINTS, grid_size=4)
    assert out.total_units == 0 and out.units.shape == (0, 4, 4)


@pytest.mark.parametrize("training", [True, False])
def test_runs_in_eval_mode_without_autograd_and_restores_the_mode(training):
    seen = []
    model = classifier(hidden=(4,))
    model.train(training)
    model[1].register_forward_hook(lambda module, inputs, output: seen.append((module.training, output.requires_grad)))
    plane_outputs(model, POINTS, grid_size=3)
    assert seen == [(False, False)] and model.training is training and model[0].training is training


def test_eval_mode_matters_for_dropout():
    """Dropout in the network: the plane shows the deterministic eval-mode output, not a random mask."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 1)).train()
    _, _, grid = reference_grid(POINTS, 5)
    with torch.no_grad():
        expected = torch.sigmoid(model.eval()(grid)).reshape(5, 5)
    model.train()
    np.testing.assert_allclose(plane_outputs(model, POINTS, grid_size=5).probability, expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("hidden,expected", [((32,), 80), ((256, 256), 80), ((512, 512), 40), ((512,) * 4, 25)])
def test_the_grid_is_the_finest_whose_pass_fits_the_budget(hidden, expected):
    model = classifier(hidden=hidden)
    per_point = sum(m.in_features * m.out_features for m in model if isinstance(m, nn.Linear))
    assert grid_size_for(model) == expected
    assert expected == GRID_SIZES[-1] or expected**2 * per_point <= MAX_GRID_MACS
    assert plane_outputs(classifier(), POINTS).probability.shape == (80, 80)  # the lesson-sized default


def test_tensor_points_and_a_float64_model():
    model = classifier().double()
    out = plane_outputs(model, torch.tensor(POINTS), grid_size=4)
    _, _, grid = reference_grid(POINTS, 4)
    with torch.no_grad():
        expected = torch.sigmoid(model(grid.double())).reshape(4, 4)
    assert out.probability.dtype == np.float32
    np.testing.assert_allclose(out.probability, expected.numpy(), rtol=1e-6)


def test_boundary_data_spans_train_and_test_points_and_returns_numpy():
    model = classifier()
    x_train, y_train = torch.tensor(POINTS, dtype=torch.float32), torch.tensor([[0.0], [1.0], [1.0]])
    x_test, y_test = torch.tensor([[9.0, -3.0]]), torch.tensor([0.0])
    data = boundary_data(model, x_train, y_train, x_test, y_test, grid_size=5)
    assert data.plane.x1[-1] > 9.0 and data.plane.x2[0] < -3.0  # the test point is inside the plane
    assert data.x_train.dtype == np.float32
    assert data.y_train.tolist() == [0.0, 1.0, 1.0] and data.y_test.tolist() == [0.0]
    both = np.concatenate([POINTS, [[9.0, -3.0]]])
    np.testing.assert_allclose(data.plane.probability, plane_outputs(model, both, grid_size=5).probability)


def test_the_page_gets_both_figures_from_a_model_and_its_points():
    data = boundary_data(classifier(hidden=(6,)), POINTS, np.array([0, 1, 1]))
    figures = boundary_figures(data, epoch=4)
    assert list(figures) == ["boundary", "units"]
    assert [t.name for t in figures["boundary"].data][1:] == ["train: class 0", "train: class 1"]
    assert len([t for t in figures["units"].data if t.type == "heatmap"]) == 6
    assert "at epoch 4" in figures["boundary"].layout.title.text


@pytest.mark.parametrize("model,found", [(nn.Sequential(nn.Linear(3, 1)), "3 inputs"),
                                         (nn.Sequential(nn.ReLU()), "no nn.Linear")])
def test_a_model_without_two_inputs_is_refused_by_name(model, found):
    with pytest.raises(ValueError, match=f"two inputs.*{found}"):
        plane_outputs(model, POINTS)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cuda_model_gives_the_cpu_result_as_numpy():
    model = classifier()
    expected = plane_outputs(model, POINTS, grid_size=9)
    got = plane_outputs(model.cuda(), torch.tensor(POINTS).cuda(), grid_size=9)
    assert isinstance(got.probability, np.ndarray) and isinstance(got.units, np.ndarray)
    np.testing.assert_allclose(got.probability, expected.probability, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.units, expected.units, rtol=1e-4, atol=1e-5)
