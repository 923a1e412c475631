"""The Train page's live view: when each part is drawn, what a frame holds, and the printout."""

import re

import pytest

from core.config import Config
from core.trainer import Trainer
from pages.ui.train.live_schedule import FrameClock, LiveSchedule
from pages.ui.train.live_view import SLOW_CHARTS_NOTES, live_figures, printout, printout_every, run_frame


def test_frame_clock_throttles_to_max_fps_and_drawing_budget():
    now = [0.0]
    clock = FrameClock(max_fps=20, budget=0.25, clock=lambda: now[0])
    assert clock.due()
    clock.drew(started=0.0)  # a free frame: next one 1/20 s later
    now[0] = 0.049
    assert not clock.due()
    now[0] = 0.05
    assert clock.due()
    clock.drew(started=0.0)  # that frame took 50 ms: at most 25% drawing -> wait 150 ms
    now[0] = 0.05 + 0.149
    assert not clock.due()
    now[0] = 0.05 + 0.15
    assert clock.due()


def test_live_schedule_draws_the_loss_curve_most_often_and_text_and_matrices_less():
    """Ten simulated seconds of 1 ms epochs, every due part drawn at no cost: how often each was due."""
    now = [0.0]
    schedule = LiveSchedule(live=True, clock=lambda: now[0])
    drawn = {"frame": [], "text": [], "slow": []}
    for ms in range(10_000):
        now[0] = ms / 1000
        if schedule.frame.due():
            for part, times in drawn.items():
                clock = getattr(schedule, part)
                if part == "frame" or (schedule.slow_due(float("inf")) if part == "slow" else clock.due()):
                    clock.drew(now[0])
                    times.append(now[0])
    # Text and matrices are only drawn with a frame, so float rounding can push one to the next frame.
    assert len(drawn["frame"]) == 200 and drawn["frame"][0] == 0.0  # 20 a second, from the first epoch
    assert 40 <= len(drawn["text"]) <= 50 and drawn["text"][0] == 0.0  # 4-5 a second
    assert 16 <= len(drawn["slow"]) <= 19 and drawn["slow"][0] >= 0.5  # 2 a second, after the start view
    assert LiveSchedule(live=False).frame.min_interval == 0.25  # live drawing off: the counter, 4 a second


def test_live_schedule_leaves_the_matrices_to_the_final_frame_when_the_run_ends_first():
    now = [0.0]
    schedule = LiveSchedule(clock=lambda: now[0])
    now[0] = 0.6  # due, and 0.6 s in; 3,000 of 5,000 epochs done
    assert schedule.seconds_left(epochs_done=3000, epochs_left=2000) == pytest.approx(0.4)
    assert not schedule.slow_due(seconds_left=0.4)  # the final frame comes before the next would
    assert schedule.slow_due(seconds_left=0.6)
    assert schedule.seconds_left(epochs_done=0, epochs_left=2000) == float("inf")



def test_a_wait_for_the_next_turn_is_left_out_of_every_clock_and_the_pace():
    """Ten seconds waiting between turns: nothing is due the moment the run's turn comes back, and
    its pace is that of its turns (otherwise each turn would begin by drawing every chart)."""
    now = [0.0]
    schedule = LiveSchedule(clock=lambda: now[0])
    now[0] = 0.4
    for clock in (schedule.frame, schedule.text):
        clock.drew(now[0])
    due = {name: getattr(schedule, name).next_due for name in ("frame", "text", "slow", "plane")}
    now[0] = 10.4
    schedule.skip(10.0)
    assert {name: getattr(schedule, name).next_due for name in due} == {name: t + 10.0 for name, t in due.items()}
    assert not schedule.frame.due() and not schedule.slow.due()
    # 2,000 epochs in its 0.4 s of turns, 3,000 left: 0.6 s more, not the 15.6 s the wall clock says
    assert schedule.seconds_left(epochs_done=2000, epochs_left=3000) == pytest.approx(0.6)

def trained(epochs: int, **changes) -> Trainer:
    trainer = Trainer(Config().replace(epochs=epochs, **changes))
    while not trainer.done:
        trainer.step()
    return trainer


def test_the_printout_is_the_lessons_every_tenth_epoch_from_the_first_line():
    run = trained(200)
    lines = printout(run).splitlines()
    assert lines == run.history.log_lines(every=10) and len(lines) == 20
    assert lines[0].startswith("Epoch: 10  Loss: ") and lines[-1].startswith("Epoch: 200  Loss: ")


@pytest.mark.parametrize("epochs,every", [(200, 10), (2_500, 10), (2_510, 20), (5_000, 20), (5_020, 50),
                                          (100_000, 500)])
def test_a_long_run_prints_every_20_50_100_epochs_to_stay_readable(epochs, every):
    assert printout_every(epochs) == every and epochs // every <= 250


def test_a_thinned_printout_says_so():
    run = trained(10)
    for _ in range(2_600):  # as long as a long run, without training one
        run.history.append(1.0, run.learning_rate, [0.0] * len(run.history.parameter_names))
    first, second = printout(run).splitlines()[:2]
    assert first == "# every 20 epochs: the lesson prints every 10, which would be 261 lines"
    assert second.startswith("Epoch: 20  Loss: ")


def titles(frame_figures) -> dict[str, str]:
    return {name: figure.layout.title.text for name, figure in frame_figures.items()}


def test_a_frames_charts_and_counter_show_one_epoch():
    run = trained(30)
    shown = titles(live_figures(run))
    assert shown["loss"].startswith("Loss (epoch 30")
    assert all(re.search(r"\b30\b", title) for title in shown.values()), shown


def test_live_matrices_say_they_are_updated_less_often_and_the_final_frame_does_not(monkeypatch):
    run = trained(3)
    drawn = []
    monkeypatch.setattr("pages.ui.train.live_view.chart", lambda name, live, figure: drawn.append((name, figure)))
    run_frame(run, live=True, log_scale=False, text=False, slow=True, status="running", note_slow=True)
    noted = {name: figure.layout.title.text.endswith(SLOW_CHARTS_NOTES.get(name, "?")) for name, figure in drawn}
    assert noted == {"loss": False, "norms": True, "weights": True, "gradients": True}
    drawn.clear()
    run_frame(run, live=True, log_scale=False, status="finished")
    assert not any(note in figure.layout.title.text for _, figure in drawn for note in SLOW_CHARTS_NOTES.values())


def test_the_decision_boundary_has_its_own_clock_within_a_tenth_of_the_time():
    now = [0.0]
    schedule = LiveSchedule(clock=lambda: now[0])
    assert not schedule.plane_due(float("inf"))  # the start view shows epoch 0's boundary
    now[0] = 0.25
    assert schedule.plane_due(float("inf")) and not schedule.plane_due(seconds_left=0.2)
    schedule.plane.drew(started=0.2)  # a 50 ms frame: the next one 0.45 s later, 10% of the time drawing
    assert schedule.plane.next_due == pytest.approx(0.25 + 0.45)


def test_a_classification_frame_draws_the_boundary_and_units_at_its_epoch_and_a_regression_none():
    run = trained(4, dataset="circle", test_fraction=0.2)
    shown = titles(live_figures(run, plane=True))
    assert shown["boundary"].startswith("Decision boundary at epoch 4")
    assert shown["units"].startswith("Each unit of the first hidden layer over the plane at epoch 4")
    assert [trace.name for trace in live_figures(run, slow=False)["loss"].data] == ["train", "test"]
    assert "boundary" not in live_figures(trained(2), plane=True)
