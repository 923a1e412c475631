"""The compute budget (server/budget.py): the estimate's arithmetic, its message, the training clock."""

import gc

from core.config import Config, parameter_count
from core.trainer import Trainer
from server.budget import TRAINING_CLOCK, Calibration, TrainingClock, estimate, fit, work_units
from server.gate import refusal_text
from server.limits import ServerLimits

CALIBRATION = Calibration(overhead=0.001, per_unit=1e-9)  # 1 ms a step plus 1 ns per parameter x sample


def test_work_is_parameters_times_samples():
    config = Config().replace(hidden_sizes=(64, 32), n_samples=500)
    assert work_units(config) == parameter_count([3, 64, 32, 1]) * 500
    assert work_units(config, data_shape=(2_000, 5)) == parameter_count([5, 64, 32, 1]) * 2_000


def test_fit_passes_through_both_measurements():
    calibration = fit((1_000, 0.002), (1_001_000, 0.012))
    assert abs(calibration.per_unit - 1e-8) < 1e-15
    assert abs(calibration.overhead - 0.00199) < 1e-12
    assert fit((1_000, 0.005), (2_000, 0.004)).per_unit == 0.0  # noise never makes bigger runs cheaper


def test_estimate_of_the_largest_run_is_refused_with_a_way_out():
    config = Config().replace(hidden_sizes=(512,) * 4, n_samples=10_000, epochs=100_000)
    cost = estimate(config, ServerLimits(max_run_seconds=600), calibration=CALIBRATION)
    per_epoch = 0.001 + 1e-9 * parameter_count([3, 512, 512, 512, 512, 1]) * 10_000
    assert abs(cost.seconds - 100_000 * per_epoch) < 1e-6
    assert cost.over and cost.epochs_that_fit == int(600 / per_epoch)
    text = refusal_text(cost)
    assert f"about {100_000 * per_epoch:,.0f} s" in text and "limit of 600 s" in text
    assert f"at most {int(600 / per_epoch):,} epochs" in text and "The code" in text


def test_a_walk_over_the_budget_names_its_epoch_and_the_epochs_that_fit():
    config = Config().replace(hidden_sizes=(512,) * 4, n_samples=10_000, epochs=100_000)
    cost = estimate(config, ServerLimits(max_run_seconds=600), calibration=CALIBRATION, epochs=100_001)
    per_epoch = 0.001 + 1e-9 * parameter_count([3, 512, 512, 512, 512, 1]) * 10_000
    assert abs(cost.seconds - 100_001 * per_epoch) < 1e-6
    text = refusal_text(cost, reaching=99_999)
    assert text.startswith("Reaching epoch 99,999 from the seed would train for about")
    assert f"an epoch below {int(600 / per_epoch):,}" in text and "the script below" in text


def test_the_lessons_run_fits():
    assert not estimate(Config(), ServerLimits(), calibration=CALIBRATION).over  # 200 epochs x ~1 ms


def test_training_clock_adds_up_over_resumes_and_forgets_a_dropped_run():
    clock, run = TrainingClock(), Trainer(Config())
    clock.add(run, 2.5)
    clock.add(run, 1.0)
    assert clock.seconds(run) == 3.5
    with clock.timing(run, limit=3.0) as over:
        assert over()  # 3.5 s already trained
    with clock.timing(run, limit=100.0) as over:
        assert not over()
    del run
    gc.collect()
    assert len(clock._seconds) == 0


def test_shared_clock_starts_at_zero():
    assert TRAINING_CLOCK.seconds(Trainer(Config())) == 0.0
