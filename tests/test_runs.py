"""core/runs.py and viz/runs.py: which epochs a run snapshots, its memory budget, the settings diff,
the store's cap, and the comparison figure."""

import gc
import weakref

import numpy as np
import pytest
import torch

import core.trainer
from core.config import LIMITS, Config, Limits, parameter_count
from core.runs import (
    MAX_SNAPSHOTS,
    SNAPSHOT_BUDGET_BYTES,
    KeptRun,
    RunStore,
    differing_fields,
    snapshot_bytes,
    snapshot_count,
    snapshot_epochs,
)
from core.trainer import Trainer
from viz.runs import comparison_figure, mark_epoch

LARGEST = Config().replace(hidden_sizes=[LIMITS.max_units] * LIMITS.max_hidden_layers,
                           coefficients=[0.1] * LIMITS.max_features, epochs=LIMITS.max_epochs)


def test_a_short_run_snapshots_every_epoch():
    assert snapshot_epochs(200, MAX_SNAPSHOTS) == list(range(201))


@pytest.mark.parametrize("total,count", [(201, 201), (1000, 201), (100_000, 201), (100_000, 10), (5, 2)])
def test_a_long_run_is_thinned_within_the_count_always_keeping_0_and_the_last(total, count):
    epochs = snapshot_epochs(total, count)
    assert epochs[0] == 0 and epochs[-1] == total
    assert len(epochs) <= count and epochs == sorted(set(epochs))


def test_thinning_is_log_spaced_early_and_evenly_spaced_later():
    epochs = snapshot_epochs(10_000, 201)
    assert {1, 2, 3, 4, 5} <= set(epochs)  # the first epochs change most
    gaps = np.diff([e for e in epochs if e >= 5000])
    assert gaps.max() <= 10_000 / 50  # ~100 evenly spaced over the whole run


def test_snapshot_bytes_match_the_trainers_copies():
    trainer = Trainer(Config().replace(hidden_sizes="8,4", epochs=3))
    trainer.step()
    layers = trainer.snapshots[1].layers
    copied = sum(a.nbytes for layer in layers for a in (layer.weight, layer.bias, layer.weight_grad, layer.bias_grad))
    assert copied == snapshot_bytes(Config().replace(hidden_sizes="8,4").layer_sizes())


def test_the_largest_allowed_network_keeps_at_least_ten_epochs_within_the_budget():
    sizes = LARGEST.layer_sizes()
    assert parameter_count(sizes) == 799_233
    count = snapshot_count(sizes)
    assert count == 10
    assert count * snapshot_bytes(sizes) <= SNAPSHOT_BUDGET_BYTES
    assert snapshot_count(Config().layer_sizes()) == MAX_SNAPSHOTS  # the lesson: every epoch of 200


def test_a_network_too_big_for_the_budget_still_keeps_the_first_and_last_epoch():
    assert snapshot_count([20, 10_000, 10_000, 1]) == 2


def test_the_trainer_keeps_snapshots_of_the_planned_epochs_equal_to_the_weights_then():
    trainer = Trainer(Config().replace(epochs=1000, hidden_sizes="4"))
    reference = [p.detach().clone() for p in trainer.model.parameters()]  # epoch 0
    while not trainer.done:
        trainer.step()
        if trainer.epoch == 7:
            at_7 = [p.detach().clone() for p in trainer.model.parameters()]
            grad_7 = trainer.model[0].weight.grad.clone()
    assert sorted(trainer.snapshots) == snapshot_epochs(1000, MAX_SNAPSHOTS)
    assert trainer.snapshots[0].layers[0].weight_grad is None  # before the first backward()
    np.testing.assert_array_equal(trainer.snapshots[0].layers[0].weight, reference[0].numpy())
    np.testing.assert_array_equal(trainer.snapshots[7].layers[0].weight, at_7[0].numpy())
    np.testing.assert_array_equal(trainer.snapshots[7].layers[0].weight_grad, grad_7.numpy())
    np.testing.assert_array_equal(trainer.snapshots[1000].layers[1].bias, trainer.model[2].bias.detach().numpy())


def layer_arrays(snapshot) -> list:
    return [a for layer in snapshot.layers for a in (layer.weight, layer.bias, layer.weight_grad, layer.bias_grad)]


@pytest.mark.parametrize("optimizer,batch_size", [("manual_sgd", 0), ("adam", 16)])
def test_a_fast_short_run_copies_nothing_while_training_and_replays_the_same_bits(monkeypatch, optimizer, batch_size):
    """Its snapshots are made by training it again (with its learning-rate change) when first asked for,
    equal to those a run copying every epoch keeps."""
    config = Config().replace(epochs=40, optimizer=optimizer, batch_size=batch_size, test_fraction=0.2)

    def run(defer_below: float) -> Trainer:
        monkeypatch.setattr(core.trainer, "DEFERRED_EPOCH_SECONDS", defer_below)
        trainer = Trainer(config)
        while not trainer.done:
            if trainer.epoch == 25:
                trainer.set_learning_rate(3e-4)
            trainer.step()
        return trainer

    copied, deferred = run(0.0), run(60.0)
    assert len(deferred._snapshots) == 1  # epoch 0 only, until asked
    assert sorted(deferred.snapshots) == sorted(copied.snapshots) == list(range(41))
    for epoch in (0, 1, 25, 26, 40):
        for mine, theirs in zip(layer_arrays(deferred.snapshots[epoch]), layer_arrays(copied.snapshots[epoch])):
            assert (mine is None and theirs is None) or np.array_equal(mine, theirs), epoch


def test_deferred_snapshots_of_a_run_that_cannot_be_trained_again_are_not_made_up(monkeypatch):
    monkeypatch.setattr(core.trainer, "DEFERRED_EPOCH_SECONDS", 60.0)
    trainer = Trainer(Config().replace(epochs=10))
    while not trainer.done:
        trainer.step()
    with torch.no_grad():
        trainer.model[0].bias.add_(1.0)  # weights no second run reaches (as a restored run's could be)
    assert list(trainer.snapshots) == [0]


def test_training_longer_replans_and_drops_snapshots_off_the_new_plan():
    trainer = Trainer(Config().replace(epochs=300))
    while not trainer.done:
        trainer.step()
    assert len(trainer.snapshots) == 201  # the plan for 300 epochs
    trainer.set_epochs(100_000)
    assert set(trainer.snapshots) <= trainer.snapshot_plan and len(trainer.snapshot_plan) <= MAX_SNAPSHOTS
    assert 0 in trainer.snapshots


def test_a_snapshot_handed_out_stays_true_when_a_new_plan_moves_the_rows():
    trainer = Trainer(Config().replace(epochs=300))
    while not trainer.done:
        trainer.step()
    handed_out = {epoch: trainer.snapshots[epoch] for epoch in trainer.snapshots}
    then = {epoch: [None if a is None else a.copy() for a in layer_arrays(s)] for epoch, s in handed_out.items()}
    trainer.set_epochs(100_000)
    for _ in range(50):  # rows of the new plan written
        trainer.step()
    kept = set(trainer.snapshots) & set(then)
    assert {0, 1, 2, 250} <= kept < set(then)  # some rows move, some go
    for epoch, snapshot in handed_out.items():
        for mine, before in zip(layer_arrays(snapshot), then[epoch], strict=True):
            assert (mine is None and before is None) or np.array_equal(mine, before), epoch
    for epoch in kept:
        for mine, before in zip(layer_arrays(trainer.snapshots[epoch]), then[epoch], strict=True):
            assert (mine is None and before is None) or np.array_equal(mine, before), epoch


def tracked_objects_after(make_run) -> int:
    """How many more objects the garbage collector tracks once `make_run()`'s trainer has trained."""
    gc.collect()
    before = len(gc.get_objects())
    trainer = make_run()
    while not trainer.done:
        trainer.step()
    gc.collect()
    return len(gc.get_objects()) - before


def test_a_runs_snapshots_give_the_garbage_collector_nothing_more_to_scan():
    """Streamlit collects every generation after each script run, holding the GIL, so a class's
    snapshots must add next to nothing to each collection's scan."""
    config = Config().replace(epochs=1000)
    without = tracked_objects_after(lambda: Trainer(config, replay=False))
    with_snapshots = tracked_objects_after(lambda: Trainer(config))
    assert len(Trainer(config).snapshot_plan) == MAX_SNAPSHOTS
    assert with_snapshots - without < 20


def test_snapshots_leave_the_run_unchanged():
    trainer = Trainer(Config())
    while not trainer.done:
        trainer.step()
    assert f"{trainer.history.losses[-1]:.4f}" == "66.2039"  # the lesson's run, unchanged by replay


def test_settings_diff_lists_only_the_fields_that_differ_in_sidebar_order():
    a, b = Config(), Config().replace(learning_rate=1e-3, hidden_sizes="64,32")
    assert differing_fields([a, b]) == ["hidden_sizes", "learning_rate"]
    assert differing_fields([a, a.replace()]) == []
    assert differing_fields([a]) == []
    assert differing_fields([a, b, a.replace(seed=3)]) == ["hidden_sizes", "learning_rate", "seed"]


def kept(number: int, pinned: bool = False, points: int = 3) -> KeptRun:
    return KeptRun(number, f"run {number}", Config(), np.arange(1, points + 1, dtype=np.int32),
                   np.ones(points, dtype=np.float32), 1.0, 0.5, points, 0.1, "finished", pinned=pinned)


def test_the_store_drops_the_oldest_unpinned_run_over_the_cap_and_names_it():
    store = RunStore(max_runs=3)
    for number in (1, 2, 3):
        assert store.keep(kept(number, pinned=number == 1)) == []
    assert store.keep(kept(4)) == ["run 2"]
    assert [run.number for run in store.runs] == [1, 3, 4]  # run 1 is pinned, so run 2 went


def test_a_store_of_pinned_runs_still_keeps_to_its_cap():
    store = RunStore(max_runs=2)
    for number in (1, 2, 3):
        store.keep(kept(number, pinned=True))
    assert [run.number for run in store.runs] == [2, 3]


def test_keeping_a_run_again_updates_it_and_keeps_its_name_and_pin():
    store = RunStore()
    store.keep(kept(1))
    store.rename(1, "  lr 1e-3  ")
    store.get(1).pinned = True
    store.keep(kept(1, points=9))
    assert len(store.runs) == 1 and store.get(1).name == "lr 1e-3" and store.get(1).pinned
    assert store.get(1).epochs_trained == 9
    store.rename(1, "   ")
    assert store.get(1).name == "lr 1e-3"  # a blank name keeps the old one


class Run:
    """Stands in for a Trainer."""


def test_run_numbers_follow_the_trainer_and_are_never_reused_and_the_store_lets_a_trainer_go():
    store, first, second = RunStore(max_runs=1), Run(), Run()
    assert store.number_of(first) == 1 and store.number_of(first) == 1
    assert store.number_of(second) == 2
    gone = weakref.ref(second)
    del second
    assert gone() is None  # the store holds no reference: a reset run's snapshots are freed


def test_max_runs_is_a_cap_like_the_others():
    assert LIMITS.max_runs == 20
    assert Limits.from_mapping({"MODULE_LAB_MAX_RUNS": "5"}).max_runs == 5


def test_comparison_figure_names_each_trace_by_its_run_on_a_log_axis():
    epochs = np.arange(1, 5001)
    figure = comparison_figure([("run 1", epochs, 100.0 / epochs), ("lr 1e-3", epochs[:10], np.ones(10))])
    assert [trace.name for trace in figure.data] == ["run 1", "lr 1e-3"]
    assert figure.layout.yaxis.type == "log" and figure.layout.showlegend
    assert len(figure.data[0].x) <= 600  # decimated like the live curves
    assert comparison_figure([("run 1", epochs, 100.0 / epochs)], log_scale=False).layout.yaxis.type == "linear"


def test_comparison_figure_draws_a_runs_test_loss_dotted_in_its_colour():
    epochs = np.arange(1, 101)
    figure = comparison_figure([("run 1", epochs, 100.0 / epochs, (epochs, 50.0 + epochs)),
                                ("run 2", epochs, np.ones(100))])
    assert [trace.name for trace in figure.data] == ["run 1", "run 1 · test", "run 2"]
    assert figure.data[1].line.color == figure.data[0].line.color and figure.data[1].line.dash == "dot"
    np.testing.assert_allclose(figure.data[1].y, 50.0 + epochs)


def test_mark_epoch_draws_a_line_and_says_the_epoch():
    figure = mark_epoch(comparison_figure([("run 1", [1, 2], [2.0, 1.0])]), 0)
    assert figure.layout.shapes[0].x0 == 0 and "epoch 0" in figure.layout.annotations[0].text


def test_kept_run_memory_is_bounded_by_its_curve():
    assert kept(1, points=1200).nbytes == 1200 * 8


def test_a_trainer_without_replay_copies_nothing_and_trains_the_same():
    with_replay, without = Trainer(Config().replace(epochs=20)), Trainer(Config().replace(epochs=20), replay=False)
    for trainer in (with_replay, without):
        while not trainer.done:
            trainer.step()
    assert without.snapshots == {} and len(with_replay.snapshots) == 21
    np.testing.assert_array_equal(without.history.losses, with_replay.history.losses)
