"""The Playground's options (dataset, test_fraction, batch_size, l1, l2) against plain PyTorch written out by
hand."""

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
    new_fields = (data.dataset, training.test_fraction, training.batch_size, training.l1, training.l2)
    assert new_fields == ("lesson", 0, 0, 0, 0)
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


# ---------------------------------------------------------------- trainer ---

from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from core.trainer import Trainer, build_run  # noqa: E402


def train(config: Config) -> Trainer:
    trainer = Trainer(config)
    while not trainer.done:
        trainer.step()
    return trainer


def reference_run(config: Config) -> dict[str, list[float]]:
    """The Playground options' loop in plain PyTorch, written out: per epoch the test loss and accuracy (model.eval(),
    no_grad) with the weights the epoch starts from, then full-batch or DataLoader mini-batch steps on the
    loss plus the l1/l2 penalty; the epoch's loss is the penalty-free loss of every row as its batch met it."""
    t = config.training
    x, y, model = build_run(config)
    if t.test_fraction:
        n_test = int(len(x) * t.test_fraction + 0.5)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(t.seed))
        x_test, y_test, x, y = x[order[:n_test]], y[order[:n_test]], x[order[n_test:]], y[order[n_test:]]
    classify = config.data.classification
    if classify:
        loss_fn = nn.BCEWithLogitsLoss(reduction=t.reduction)
    else:
        def loss_fn(y_pred, target):
            return getattr((y_pred - target).pow(2), t.reduction)()
    optimizer = torch.optim.SGD(model.parameters(), lr=t.learning_rate) if t.optimizer == "sgd" else (
        torch.optim.Adam(model.parameters(), lr=t.learning_rate))
    shuffle = torch.Generator()
    batches = DataLoader(TensorDataset(x, y), batch_size=t.batch_size or len(x), shuffle=bool(t.batch_size),
                         generator=shuffle)
    out = {"loss": [], "test_loss": [], "accuracy": [], "test_accuracy": []}
    for epoch in range(1, t.epochs + 1):
        if t.test_fraction:
            model.eval()
            with torch.no_grad():
                test_pred = model(x_test)
                out["test_loss"].append(loss_fn(test_pred, y_test).item())
                out["test_accuracy"].append(((test_pred > 0).float() == y_test).sum().item() / len(y_test))
            model.train()
        shuffle.manual_seed(t.seed + epoch)
        total, right = 0.0, 0
        for xb, yb in batches:
            y_pred = model(xb)
            loss = loss_fn(y_pred, yb)
            right += ((y_pred > 0).float() == yb).sum().item()
            total += loss.item() * len(xb) if t.reduction == "mean" else loss.item()
            if t.l1:
                loss = loss + t.l1 * sum(p.abs().sum() for p in model.parameters())
            if t.l2:
                loss = loss + t.l2 * sum(p.pow(2).sum() for p in model.parameters())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        out["loss"].append(total / len(x) if t.reduction == "mean" else total)
        out["accuracy"].append(right / len(x))
    return out


def test_the_default_run_still_ends_at_the_lessons_loss():
    assert f"{train(Config()).history.losses[199]:.4f}" == "66.2039"


OPTIONS = {
    "classification": dict(dataset="circle", hidden_sizes="8", activation="Tanh"),
    "classification, sum": dict(dataset="gauss", reduction="sum", learning_rate=0.01),
    "test split": dict(test_fraction=0.25),
    "mini-batches": dict(batch_size=16),
    "mini-batches, a short last one": dict(batch_size=30, reduction="sum", learning_rate=1e-4),
    "l1": dict(l1=0.01),
    "l2": dict(l2=0.01),
    "all": dict(PLAYGROUND, hidden_sizes="8,8", activation="Tanh", optimizer="adam", learning_rate=0.03),
}


@pytest.mark.parametrize("changes", OPTIONS.values(), ids=OPTIONS.keys())
def test_each_option_trains_as_plain_pytorch_written_out(changes):
    base = dict(optimizer="sgd", learning_rate=0.05, reduction="mean", epochs=12, n_samples=120)
    config = Config().replace(**{**base, **changes})
    history = train(config).history
    expected = reference_run(config)
    np.testing.assert_allclose(history.losses, expected["loss"], rtol=1e-6)
    if config.training.test_fraction:
        np.testing.assert_allclose(history.test_losses, expected["test_loss"], rtol=1e-6)
    else:
        assert np.isnan(history.test_losses).all() and not history.has_test
    if config.data.classification:
        np.testing.assert_array_equal(history.accuracies, expected["accuracy"])
        if config.training.test_fraction:
            np.testing.assert_array_equal(history.test_accuracies, expected["test_accuracy"])
    else:
        assert np.isnan(history.accuracies).all() and not history.has_accuracy


def test_the_test_rows_are_held_out_of_training():
    config = Config().replace(test_fraction=0.3, n_samples=50)
    trainer = Trainer(config)
    x, _, _ = build_run(config)
    assert trainer.x.shape == (35, 3) and trainer.x_test.shape == (15, 3)
    rows = {tuple(row) for row in x.tolist()}
    assert {tuple(r) for r in trainer.x.tolist()} | {tuple(r) for r in trainer.x_test.tolist()} == rows
    assert not {tuple(r) for r in trainer.x.tolist()} & {tuple(r) for r in trainer.x_test.tolist()}


def test_a_resumed_mini_batch_run_shuffles_as_an_uninterrupted_one():
    config = Config().replace(**PLAYGROUND, optimizer="sgd", learning_rate=0.05, epochs=8)
    whole = train(config)
    first = Trainer(config)
    for _ in range(5):
        first.step()
    resumed = Trainer(config)
    h = first.history
    resumed.restore(first.model.state_dict(), {}, first.learning_rate,
                    zip(h.losses, h.learning_rates, zip(*h.grad_norms.values())), [], None,
                    zip(*h.metrics.values()))
    while not resumed.done:
        resumed.step()
    np.testing.assert_array_equal(resumed.history.losses, whole.history.losses)
    np.testing.assert_array_equal(resumed.history.test_accuracies, whole.history.test_accuracies)


def test_xor_needs_a_hidden_layer():
    def accuracy(hidden_sizes):
        config = Config().replace(dataset="xor", hidden_sizes=hidden_sizes, activation="Tanh", optimizer="adam",
                                  learning_rate=0.03, reduction="mean", epochs=300, n_samples=200, noise_std=0)
        return train(config).history.accuracies[-1]

    assert accuracy("") < 0.7 and accuracy("4") > 0.9


# ----------------------------------------------------------------- budget ---

from server.budget import Calibration, estimate, steps_per_epoch  # noqa: E402
from server.limits import SERVER_LIMITS as LIMITS  # noqa: E402


def test_mini_batches_pay_the_step_overhead_once_a_batch():
    config = Config().replace(test_fraction=0.3, batch_size=16)  # 70 training rows: 5 batches
    assert steps_per_epoch(config) == 5 and steps_per_epoch(Config()) == 1
    fit = Calibration(overhead=0.001, per_unit=1e-9)
    full, batched = estimate(Config(), LIMITS, calibration=fit), estimate(config, LIMITS, calibration=fit)
    assert batched.seconds_per_epoch - full.seconds_per_epoch == pytest.approx(4 * 0.001)


# ---------------------------------------------------------------- presets ---

from core.presets import PRESETS  # noqa: E402

PRESET = {preset.name: preset for preset in PRESETS}


def test_the_overfit_preset_overfits():
    history = train(PRESET["overfit"].config).history
    best = int(np.argmin(history.test_losses))
    assert best < 100 and history.test_losses[-1] > 1.5 * history.test_losses[best]
    assert history.losses[-1] < 0.01 * history.losses[best]  # while the training loss keeps falling


def test_xor_is_half_right_without_a_hidden_layer_and_solved_with_four_units():
    without, with_four = (train(PRESET[name].config).history for name in ("xor needs a hidden layer",
                                                                          "xor, one hidden layer of 4"))
    assert without.accuracies[-1] < 0.6 and without.test_accuracies[-1] < 0.6
    assert with_four.accuracies[-1] > 0.95 and with_four.test_accuracies[-1] > 0.85


def test_the_spiral_preset_learns_the_spiral():
    history = train(PRESET["spiral"].config).history
    assert history.accuracies[-1] > 0.95 and history.test_accuracies[-1] > 0.9


# ------------------------------------------------------ CSV classification ---

from core.tabular import DataError, prepare, read_csv  # noqa: E402


def test_a_two_valued_target_reads_as_labels_smaller_value_zero():
    frame = read_csv(b"a,b,label\n1,2,5\n2,1,7\n3,3,5\n4,0,7\n")
    dataset = prepare(frame, "label", ["a", "b"], drop_incomplete=False)
    assert dataset.two_values == (5.0, 7.0) and dataset.classes is None
    labelled = dataset.as_classification()
    assert labelled.classes == (5.0, 7.0) and labelled.y.ravel().tolist() == [0, 1, 0, 1]
    assert labelled.y.dtype == np.float32 and labelled.y.shape == (4, 1)
    three = prepare(read_csv(b"a,label\n1,1\n2,2\n3,3\n"), "label", ["a"], drop_incomplete=False)
    assert three.two_values is None
    with pytest.raises(DataError, match="has 3 values; classification needs exactly two"):
        three.as_classification()


def test_uploaded_labels_train_as_plain_pytorch_classification():
    frame = read_csv(b"a,b,label\n" + b"".join(f"{i % 5},{(i * 7) % 3},{int(i % 5 > 2)}\n".encode() for i in range(40)))
    data = prepare(frame, "label", ["a", "b"], drop_incomplete=False).as_classification()
    config = Config().replace(optimizer="sgd", learning_rate=0.1, reduction="mean", epochs=10, hidden_sizes="4",
                              test_fraction=0.25)
    trainer = Trainer(config, data=(data.x, data.y), classification=True)
    while not trainer.done:
        trainer.step()
    x, y, model = build_run(config, (data.x, data.y))
    order = torch.randperm(40, generator=torch.Generator().manual_seed(7))
    x, y = x[order[10:]], y[order[10:]]
    optimizer, losses = torch.optim.SGD(model.parameters(), lr=0.1), []
    for _ in range(10):
        loss = nn.BCEWithLogitsLoss()(model(x), y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(trainer.history.losses, losses, rtol=1e-6)
    assert trainer.plane() is not None and trainer.history.has_accuracy


def test_the_metrics_csv_adds_the_test_loss_and_accuracies_a_run_has():
    import io

    import pandas as pd

    from core.exports import metrics_csv

    trainer = train(Config().replace(**PLAYGROUND, epochs=3))
    table = pd.read_csv(io.StringIO(metrics_csv(trainer)))
    assert list(table.columns[:6]) == ["epoch", "loss", "learning_rate", "test_loss", "accuracy", "test_accuracy"]
    np.testing.assert_allclose(table["test_accuracy"], trainer.history.test_accuracies)
    lesson = pd.read_csv(io.StringIO(metrics_csv(train(Config().replace(epochs=2)))))
    assert list(lesson.columns[:4]) == ["epoch", "loss", "learning_rate", "grad_norm_0.weight"]
