"""core.checkpoint: exports match the run, a resumed run matches an uninterrupted one, and
whatever else is uploaded is refused with a CheckpointError without running any of its code."""

import io
import json
import os
import pickle
import random
import struct
import subprocess
import sys
import types
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from bench.hostile import MemoFloats
from core.checkpoint import (
    REFUSED,
    CheckpointError,
    load_checkpoint,
    restore_trainer,
    save_checkpoint,
)
from core.config import FIELDS, Config, Limits, parse_config
from core.exports import config_json, metrics_csv
from core.trainer import Trainer


def trained(config: Config, epochs: int, lr_change_at: int | None = None) -> Trainer:
    """`epochs` steps, switching to lr 2e-3 before epoch `lr_change_at`, as a learner might mid-run."""
    trainer = Trainer(config)
    return train_on(trainer, epochs, lr_change_at)


def train_on(trainer: Trainer, epochs: int, lr_change_at: int | None = None) -> Trainer:
    for _ in range(epochs):
        if trainer.epoch + 1 == lr_change_at:
            trainer.set_learning_rate(2e-3)
        trainer.step()
    return trainer


CONFIG = Config().replace(hidden_sizes="8, 4", activation="Tanh", learning_rate=1e-3, epochs=20)


@pytest.fixture(scope="module")
def saved() -> bytes:
    return save_checkpoint(trained(CONFIG, 10, lr_change_at=6))


def payload_of(data: bytes) -> dict:
    return torch.load(io.BytesIO(data), weights_only=True)


def bytes_of(payload: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------ export ---


def test_checkpoint_round_trips_every_part_of_the_run(saved):
    original = trained(CONFIG, 10, lr_change_at=6)
    checkpoint = load_checkpoint(saved)
    assert checkpoint.config == CONFIG and checkpoint.epoch == 10
    for name, tensor in original.model.state_dict().items():
        assert torch.equal(checkpoint.state_dict[name], tensor)
    np.testing.assert_array_equal(checkpoint.losses, original.history.losses)
    np.testing.assert_array_equal(checkpoint.learning_rates, original.history.learning_rates)
    assert list(checkpoint.grad_norms) == list(original.history.grad_norms)
    for name, norms in original.history.grad_norms.items():
        np.testing.assert_array_equal(checkpoint.grad_norms[name], norms)
    assert checkpoint.lr_changes == ((6, 2e-3),) and checkpoint.learning_rate == 2e-3
    assert checkpoint.diverged_at is None


def test_checkpoint_holds_only_plain_values(saved):
    payload = payload_of(saved)  # weights_only=True: raises on anything but tensors and plain data
    assert payload["config"] == {
        name: list(value) if isinstance(value, tuple) else value for name, value in CONFIG.values().items()
    }
    assert all(type(value) in (str, int, float, list) for value in payload["config"].values())


@pytest.mark.parametrize("optimizer", ["manual_sgd", "sgd", "adam"])
def test_resuming_from_a_checkpoint_matches_an_uninterrupted_run(optimizer):
    config = CONFIG.replace(optimizer=optimizer)
    straight = trained(config, 20, lr_change_at=15)
    resumed = train_on(restore_trainer(load_checkpoint(save_checkpoint(trained(config, 10)))), 10, lr_change_at=15)
    assert resumed.epoch == 20 and resumed.done
    np.testing.assert_array_equal(resumed.history.losses, straight.history.losses)
    np.testing.assert_array_equal(resumed.history.learning_rates, straight.history.learning_rates)
    assert resumed.lr_changes == straight.lr_changes == [(15, 2e-3)]
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor)


def test_a_classification_run_with_a_split_and_batches_resumes_with_its_metrics():
    config = Config().replace(dataset="xor", hidden_sizes="8", activation="Tanh", optimizer="adam",
                              learning_rate=0.03, epochs=20, test_fraction=0.3, batch_size=16, l2=1e-4,
                              reduction="mean")
    straight = trained(config, 20)
    resumed = train_on(restore_trainer(load_checkpoint(save_checkpoint(trained(config, 10)))), 10)
    for name, column in straight.history.metrics.items():
        assert np.isfinite(column).all(), name
        np.testing.assert_array_equal(resumed.history.metrics[name], column)
    np.testing.assert_array_equal(resumed.history.losses, straight.history.losses)


UPLOADED = CONFIG.replace(epochs=20, test_fraction=0.2, n_samples=20)  # 3 inputs, as the generated data has


def uploaded_rows(classification: bool) -> tuple[np.ndarray, np.ndarray]:
    """40 rows of 3 features, as core.tabular hands them over: float32, y a column."""
    generator = np.random.default_rng(7)
    x = generator.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, :1] > 0) if classification else x[:, :1] * 2 - x[:, 1:2]
    return x, y.astype(np.float32)


@pytest.mark.parametrize("classification", [False, True], ids=["regression", "classification"])
def test_a_run_on_uploaded_rows_resumes_on_those_rows_not_the_configs_data(classification):
    rows = uploaded_rows(classification)
    straight = train_on(Trainer(UPLOADED, data=rows, classification=classification), 20)
    names = ("rooms", "<b>area</b>", "age")
    first = Trainer(UPLOADED, data=rows, classification=classification, feature_names=names)
    checkpoint = load_checkpoint(save_checkpoint(train_on(first, 10)))
    np.testing.assert_array_equal(checkpoint.uploaded_rows[0], rows[0])
    resumed = train_on(restore_trainer(checkpoint), 10)
    assert resumed.uploaded and resumed.classification is classification and resumed.feature_names == names
    np.testing.assert_array_equal(resumed.history.losses, straight.history.losses)
    for name, column in straight.history.metrics.items():
        np.testing.assert_array_equal(resumed.history.metrics[name], column)


def test_a_run_on_generated_data_saves_no_rows(saved):
    assert payload_of(saved)["uploaded_data"] is None and load_checkpoint(saved).uploaded_rows is None


@pytest.fixture(scope="module")
def saved_upload() -> bytes:
    return save_checkpoint(train_on(Trainer(UPLOADED, data=uploaded_rows(True), classification=True), 3))


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.pop("classification"), "uploaded data should hold x, y, whether it is classification and the"),
    (lambda d: d.update(classification=1), "uploaded data should hold x, y, whether it is classification and the"),
    (lambda d: d.update(feature_names=["a", "b"]), "uploaded data should name its 3 features"),
    (lambda d: d.update(feature_names=["a", "b", 3]), "uploaded data should name its 3 features"),
    (lambda d: d.update(x=d["x"].double()), r"uploaded x should be a table of numbers \(a 2-D float32 tensor\)"),
    (lambda d: d.update(x=d["x"][:, :2], feature_names=["a", "b"]),
     r"weight '0.weight' has shape \(8, 3\) in the file, but .* \(8, 2\)"),
    (lambda d: d.update(y=d["y"][:30]), r"uploaded y has shape \(30, 1\) in the file, but .* needs \(40, 1\)"),
    (lambda d: d["x"].__setitem__((5, 1), float("nan")), "uploaded data holds NaN or infinite values"),
    (lambda d: d["y"].__setitem__((0, 0), 0.5), "labels are not all 0 or 1"),
], ids=["no-flag", "flag-not-bool", "two-names", "a-name-not-text", "dtype", "features-disagree-with-weights",
        "rows-disagree", "nan", "labels"])
def test_uploaded_rows_that_do_not_fit_the_run_are_refused(saved_upload, edit, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(edited(saved_upload, lambda p: edit(p["uploaded_data"])))


def test_uploaded_rows_over_this_servers_caps_are_refused(saved_upload):
    with pytest.raises(CheckpointError, match="has 40 rows of 3 features; this server allows 1 to 30 rows"):
        load_checkpoint(saved_upload, limits=Limits(max_samples=30))


def test_metrics_that_are_missing_or_infinite_before_a_divergence_are_refused(saved):
    with pytest.raises(CheckpointError, match="metrics should be test_loss, accuracy, test_accuracy"):
        load_checkpoint(edited(saved, lambda p: p["history"]["metrics"].pop("accuracy")))

    def infinite_test_loss(payload):
        payload["history"]["metrics"]["test_loss"][2] = float("inf")

    with pytest.raises(CheckpointError, match="test_loss is infinite at epoch 3"):
        load_checkpoint(edited(saved, infinite_test_loss))


def test_a_checkpoint_can_be_restored_twice_with_the_same_result():
    checkpoint = load_checkpoint(save_checkpoint(trained(CONFIG.replace(optimizer="adam"), 5)))
    first, second = (train_on(restore_trainer(checkpoint), 5) for _ in range(2))
    np.testing.assert_array_equal(first.history.losses, second.history.losses)


def diverged_run() -> Trainer:
    """Trained as the page trains, until done: it stops at the epoch that turned NaN or inf."""
    diverged = Trainer(Config().replace(learning_rate=1.0, epochs=500))
    while not diverged.done:
        diverged.step()
    assert diverged.diverged_at == diverged.epoch < 500
    return diverged


def test_a_diverged_run_stays_diverged_after_restoring():
    diverged = diverged_run()
    restored = restore_trainer(load_checkpoint(save_checkpoint(diverged)))
    assert restored.diverged_at == diverged.diverged_at and restored.done
    np.testing.assert_array_equal(restored.history.losses, diverged.history.losses)  # NaN/inf survive


def test_metrics_csv_has_one_row_per_epoch_with_the_histories_values():
    trainer = trained(CONFIG, 10, lr_change_at=6)
    table = pd.read_csv(io.StringIO(metrics_csv(trainer)))
    names = list(trainer.history.grad_norms)
    assert list(table.columns) == ["epoch", "loss", "learning_rate", *(f"grad_norm_{name}" for name in names)]
    assert table["epoch"].tolist() == list(range(1, 11))
    np.testing.assert_array_equal(table["loss"], trainer.history.losses)
    np.testing.assert_array_equal(table["learning_rate"], [1e-3] * 5 + [2e-3] * 5)
    for name in names:
        np.testing.assert_array_equal(table[f"grad_norm_{name}"], trainer.history.grad_norms[name])


def test_config_json_is_flat_readable_and_parses_back():
    config = CONFIG.replace(coefficients="1.5, -0.25", learning_rate=1.2345678e-4)
    text = config_json(config)
    assert set(json.loads(text)) == set(FIELDS) and '"hidden_sizes"' in text and "\n" in text
    assert parse_config(json.loads(text)) == config


# ------------------------------------------------------ hostile uploads ---


class RunsCode:
    """Unpickling this calls os.mkdir(marker): proof that the file's code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def plain_loads_in_a_subprocess(data: bytes, loader: str) -> None:
    """Load the bytes the unsafe way, in another process, so this one never unpickles them."""
    code = f"import io, pickle, sys, torch; data = sys.stdin.buffer.read(); {loader}"
    subprocess.run([sys.executable, "-c", code], input=data, check=True, capture_output=True, timeout=120)


@pytest.mark.parametrize("write,unsafe_load", [
    (bytes_of, "torch.load(io.BytesIO(data), weights_only=False)"),
    (pickle.dumps, "pickle.loads(data)"),
])
def test_a_checkpoint_carrying_code_is_refused_and_the_code_never_runs(saved, tmp_path, write, unsafe_load):
    payload = payload_of(saved)
    marker = tmp_path / "code-ran"
    payload["config"]["seed"] = RunsCode(marker)
    data = write(payload)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(data)
    assert str(caught.value) == REFUSED
    assert not marker.exists()
    # Not vacuous: loaded without weights_only, the same bytes do run the code.
    plain_loads_in_a_subprocess(data, unsafe_load)
    assert marker.exists()


def test_a_compressed_checkpoint_is_refused_although_torch_would_inflate_it(saved):
    """A deflated zip can unpack to a thousand times its size: refuse before torch reads it."""
    original = zipfile.ZipFile(io.BytesIO(saved))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in original.infolist():
            archive.writestr(entry.filename, original.read(entry.filename))
    assert payload_of(buffer.getvalue())["format"] == "module-lab-checkpoint"
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(buffer.getvalue())


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (random.Random(0).randbytes(4096), "refused"),
    (pickle.dumps({"format": "module-lab-checkpoint"}), "refused"),  # a pickle, not torch.save's zip
    (bytes_of({"0.weight": torch.zeros(2, 2)}), "not saved by Module Lab"),
    (bytes_of([1, 2, 3]), "not saved by Module Lab"),
])
def test_files_that_are_not_checkpoints_are_refused(data, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(data)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_checkpoints_are_refused(saved, keep):
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(saved[: int(len(saved) * keep)])


def test_files_over_the_size_cap_are_refused_before_reading(saved):
    with pytest.raises(CheckpointError, match="over the cap of 0.001 MB"):
        load_checkpoint(saved, max_bytes=1000)


def test_a_newer_format_version_is_refused(saved):
    payload = payload_of(saved)
    payload["version"] = 3
    with pytest.raises(CheckpointError, match="not version 2"):
        load_checkpoint(bytes_of(payload))


def test_a_version_1_checkpoint_is_refused_with_what_to_do(saved):
    """Version 1 kept the history as lists of floats, which a hostile file could fill with 1.2 million values."""
    def as_version_1(payload):
        payload["version"] = 1
        history = payload["history"]
        history.update(losses=history["losses"].tolist(), learning_rates=history["learning_rates"].tolist(),
                       grad_norms={name: column.tolist() for name, column in history["grad_norms"].items()})

    with pytest.raises(CheckpointError, match=r"saved by an earlier Module Lab \(format version 1.*train again"):
        load_checkpoint(edited(saved, as_version_1))


def test_history_columns_are_saved_as_their_own_values_only(saved):
    """Each column a float64 tensor of its epochs, not a view of History's whole table."""
    history = payload_of(saved)["history"]
    for column in [history["losses"], history["learning_rates"], *history["grad_norms"].values()]:
        assert column.dtype == torch.float64 and column.shape == (10,)
        assert column.untyped_storage().nbytes() == 10 * 8


def edited(saved: bytes, edit) -> bytes:
    payload = payload_of(saved)
    edit(payload)
    return bytes_of(payload)


@pytest.mark.parametrize("edit,message", [
    (lambda p: p["state_dict"].pop("2.bias"), r"weight '2.bias' is missing; the config's network needs shape \(4,\)"),
    (lambda p: p["state_dict"].update(extra=torch.zeros(1)), "weight 'extra' is not part of the config's network"),
    (lambda p: p["state_dict"].update({"0.weight": torch.zeros(8, 4)}),
     r"weight '0.weight' has shape \(8, 4\) in the file, but the config's network needs \(8, 3\)"),
    (lambda p: p["state_dict"].update({"0.bias": torch.zeros(8, dtype=torch.float64)}),
     "weight '0.bias' has dtype torch.float64 in the file, but the config's network needs torch.float32"),
    (lambda p: p["state_dict"].update({"0.bias": [0.0] * 8}), "weight '0.bias' is not a plain tensor"),
    (lambda p: p["config"].update(hidden_sizes=[8, 5]), r"weight '2.weight' has shape \(4, 8\) .* needs \(5, 8\)"),
], ids=["missing", "extra", "shape", "dtype", "not-a-tensor", "config-and-weights-disagree"])
def test_weights_that_do_not_fit_the_configs_network_are_refused(saved, edit, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(edited(saved, edit))


@pytest.mark.parametrize("field,value", [
    ("hidden_sizes", [100_000]),
    ("n_samples", 10**7),
    ("learning_rate", 5.0),
    ("activation", "Softmax"),
])
def test_a_config_outside_the_allowed_ranges_is_refused_naming_the_field(saved, field, value):
    with pytest.raises(CheckpointError, match=f"config can't be used here: {field}"):
        load_checkpoint(edited(saved, lambda p: p["config"].update({field: value})))


def test_a_config_over_this_servers_caps_is_refused(saved):
    with pytest.raises(CheckpointError, match="hidden_sizes: entry 1: 8 is out of range; allowed 1 to 4"):
        load_checkpoint(saved, limits=Limits(max_units=4))


def test_a_config_missing_a_field_is_refused(saved):
    with pytest.raises(CheckpointError, match="no 'seed' field"):
        load_checkpoint(edited(saved, lambda p: p["config"].pop("seed")))


@pytest.mark.parametrize("edit,message", [
    (lambda p: p["history"].update(losses=p["history"]["losses"][:-1]), "9 losses but 10 learning rates"),
    (lambda p: p["history"]["grad_norms"].update({"2.bias": torch.zeros(11, dtype=torch.float64)}),
     "10 losses but 11 gradient norms of '2.bias'"),
    (lambda p: p["history"]["grad_norms"].pop("0.bias"), "gradient norms should be for 0.weight, 0.bias"),
    (lambda p: p["history"].update(losses=[1.0] * 10), r"losses should be a column of numbers \(a 1-D float64"),
    (lambda p: p["history"].update(losses=p["history"]["losses"].float()), "losses should be a column of numbers"),
    (lambda p: p["history"].update(losses=p["history"]["losses"][None]), "losses should be a column of numbers"),
    (lambda p: p.update(diverged_at=11), "diverged_at should be empty or an epoch from 1 to 10"),
    (lambda p: p.update(lr_changes=[[99, 1e-3]]), r"lr_changes entry 1 should be \[epoch from 1 to 11"),
    (lambda p: p.update(learning_rate=7.0), "learning_rate: 7 is out of range"),
])
def test_an_inconsistent_history_is_refused(saved, edit, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(edited(saved, edit))


def test_adam_state_that_does_not_fit_the_network_is_refused():
    saved = save_checkpoint(trained(CONFIG.replace(optimizer="adam"), 3))
    with pytest.raises(CheckpointError, match=r"adam state 'exp_avg' of parameter 1 has shape \(3,\)"):
        load_checkpoint(edited(saved, lambda p: p["optimizer_state"][1].update(exp_avg=torch.zeros(3))))
    with pytest.raises(CheckpointError, match="does not match the network's 6 parameters"):
        load_checkpoint(edited(saved, lambda p: p["optimizer_state"].pop(5)))


# ------------------------------------------------------- hostile contents ---


def bytes_with_references(payload: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer, pickle_module=types.SimpleNamespace(Pickler=MemoFloats, __name__="pickle"))
    return buffer.getvalue()


def with_pickle(saved: bytes, pickled: bytes) -> bytes:
    """The checkpoint's zip with its data.pkl replaced."""
    original, buffer = zipfile.ZipFile(io.BytesIO(saved)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for entry in original.infolist():
            is_pickle = entry.filename.endswith("/data.pkl")
            archive.writestr(entry.filename, pickled if is_pickle else original.read(entry.filename))
    return buffer.getvalue()


def test_a_memo_bomb_is_refused_before_torch_unpickles_it(saved, monkeypatch):
    """One float referenced 20,000 times in 40 KB: a memo bomb small enough for torch to read, refused first."""
    payload = payload_of(saved)
    payload["history"]["losses"] = [1.5] * 20_000
    data = bytes_with_references(payload)
    assert len(payload_of(data)["history"]["losses"]) == 20_000 and len(data) < 100_000  # torch would read it
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load reached"))
    with pytest.raises(CheckpointError, match="repeats values by reference over 2,000 times"):
        load_checkpoint(data)


def test_more_values_than_a_run_holds_are_refused_before_unpickling(saved, monkeypatch):
    """Distinct floats in a list: 1.2 million of them cost +60 MB while torch unpickled them."""
    payload = payload_of(saved)
    payload["lr_changes"] = [[1, float(i)] for i in range(10_000)]
    data = bytes_of(payload)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load reached"))
    with pytest.raises(CheckpointError, match=r"holds over 20,000 values outside its tensors"):
        load_checkpoint(data)


@pytest.mark.parametrize("pickled", [
    b"\x80\x02cbuiltins\nbytearray\n(J" + struct.pack("<i", 1_000_000) + b"tR.",  # zeroed memory of any size
    b"\x80\x02ctorch\nFloatTensor\n(J" + struct.pack("<i", 1_000_000) + b"tR.",
    b"\x80\x02c_codecs\nencode\n(X\x01\x00\x00\x00aX\x06\x00\x00\x00latin1tR.",
    b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",  # protocol 4 framing: not what torch.save writes
    b"\x80\x02}q\x00",  # no STOP
], ids=["bytearray", "FloatTensor", "codecs", "frame", "truncated"])
def test_calls_torchs_unpickler_would_allow_are_refused_before_it_runs(saved, pickled):
    """torch's weights_only unpickler calls bytearray(n): a 1 KB file allocated 300 MB."""
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(with_pickle(saved, pickled))
    assert str(caught.value) == REFUSED


def test_tensors_larger_than_the_largest_run_allowed_are_refused_before_reading(saved):
    # 73 parameters, their Adam moments and 20 epochs fit, beside room for 100 uploaded rows of 3 features
    limits = Limits(max_parameters=100, max_epochs=20, max_samples=100, max_features=3)
    assert load_checkpoint(saved, limits)
    data = edited(saved, lambda p: p["state_dict"].update(extra=torch.zeros(200_000)))
    with pytest.raises(CheckpointError,
                       match=r"tensors hold 0.8 MB, more than the largest run this server "
                             r"allows: 100 parameters .* 20 epochs of history .* and 100 uploaded rows"):
        load_checkpoint(data, limits)
    longer = edited(saved, lambda p: p["history"].update(losses=torch.zeros(20_000, dtype=torch.float64)))
    with pytest.raises(CheckpointError, match=r"tensors hold 0.2 MB, more than the largest run"):
        load_checkpoint(longer, limits)


def test_a_long_text_is_refused_before_unpickling(saved):
    with pytest.raises(CheckpointError, match="a text or number of 5,000 bytes; at most 1,000"):
        load_checkpoint(edited(saved, lambda p: p["config"].update(activation="x" * 5000)))


def test_a_history_longer_than_the_configs_epochs_is_refused(saved):
    """A run stops at its epochs, so a longer history would load as 'epoch 7500000 of 100'."""
    def lengthen(payload):
        history = payload["history"]
        eleven_more = lambda column: torch.cat([column, torch.ones(11, dtype=torch.float64)])  # noqa: E731
        history.update(losses=eleven_more(history["losses"]), learning_rates=eleven_more(history["learning_rates"]),
                       grad_norms={name: eleven_more(column) for name, column in history["grad_norms"].items()})

    with pytest.raises(CheckpointError, match="the history has 21 epochs, more than the config's 20"):
        load_checkpoint(edited(saved, lengthen))


def test_non_finite_values_are_refused_unless_where_the_run_diverged(saved):
    def nan_weight(payload):
        payload["state_dict"]["2.bias"] = torch.tensor([0.0, float("nan"), 0.0, 0.0])

    def inf_loss(payload):
        payload["history"]["losses"][3] = float("inf")

    with pytest.raises(CheckpointError, match="weight '2.bias' holds NaN or infinite values, but the run did not"):
        load_checkpoint(edited(saved, nan_weight))
    with pytest.raises(CheckpointError, match="loss is NaN or infinite at epoch 4, but the run did not diverge"):
        load_checkpoint(edited(saved, inf_loss))
    diverged = save_checkpoint(diverged_run())  # its last epoch's gradient norms are inf: still loads
    assert not np.isfinite(payload_of(diverged)["history"]["grad_norms"]["0.weight"][-1])
    load_checkpoint(diverged)

    def nan_before_divergence(payload):
        payload["history"]["losses"][0] = float("nan")

    with pytest.raises(CheckpointError, match="loss is NaN or infinite at epoch 1, but the run diverged at epoch"):
        load_checkpoint(edited(diverged, nan_before_divergence))


def test_adam_state_holding_nan_is_refused():
    saved = save_checkpoint(trained(CONFIG.replace(optimizer="adam"), 3))
    with pytest.raises(CheckpointError, match="optimizer state 'exp_avg' of parameter 0 holds NaN"):
        load_checkpoint(edited(saved, lambda p: p["optimizer_state"][0]["exp_avg"].fill_(float("nan"))))
