"""A class on one server: with one training slot, runs take turns and a short one is not held up by
long ones; with turns as long as a run, runs queue, show their place and drain in order; a teacher's
link shows the exercise with its controls locked; a One epoch walk takes turns too, and ends with its tab."""

import re
from collections.abc import Iterator

import pytest
from conftest import RESULTS, TIMEOUT_MS, Server, run_server, server_busy, server_idle
from playwright.sync_api import expect

from core.config import Config
from core.epoch import EpochWalker
from core.trainer import Trainer

RUNS = {1: 100_000, 2: 100_000, 3: 1_500}  # seed: epochs; the first two train until paused
TURNS = {4: 30_000, 5: 30_000, 6: 1_500}  # seed: epochs; the two long ones train until paused
LINK = "/train?hidden_sizes=2&learning_rate=0.001&epochs=500&seed=3&lock=all&unlock=learning_rate&hide=code"


@pytest.fixture(scope="module")
def classroom_server() -> Iterator[Server]:
    with run_server("classroom", RESULTS / "streamlit-classroom.log") as server:
        yield server


@pytest.fixture(scope="module")
def queue_server() -> Iterator[Server]:
    with run_server("queue", RESULTS / "streamlit-queue.log") as server:
        yield server


@pytest.fixture
def server_kind(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "classroom")  # MODULE_LAB_MAX_CONCURRENT_RUNS=1


def expected_final_loss(seed: int) -> str:
    trainer = Trainer(Config().replace(epochs=(RUNS | TURNS)[seed], seed=seed))
    while not trainer.done:
        trainer.step()
    return f"{trainer.history.losses[-1]:.6g}"


def final_loss(tab):
    return tab.page.get_by_test_id("stMetric").filter(has_text="Final loss").get_by_test_id("stMetricValue")


def queued(tab, text: str):
    return tab.page.get_by_test_id("stAlertContentInfo").filter(has_text=text)


@pytest.fixture(autouse=True)
def patient_expect() -> None:
    expect.set_options(timeout=TIMEOUT_MS)  # a click's rerun and the queue's redraw wait on a busy CPU


def started(tab, epochs: int) -> None:
    tab.page.wait_for_function(f"() => /Epoch [1-9]\\d* \\/ {epochs:,}|Epoch [1-9]\\d* \\/ {epochs}/"
                               ".test(document.body.innerText)")


@pytest.mark.timeout(600)  # on a shared CPU
def test_one_slot_three_runs_take_turns_and_a_short_one_is_not_held_up(new_app):
    """Two long runs and then a short one, on one slot in turns of 100 ms (the app's default): all
    three move at once, the short one ends first with its exact loss, and a long one between its
    turns says it is waiting for its turn."""
    first, second, short = [new_app().goto(f"/train?epochs={epochs}&live=false&seed={seed}")
                            for seed, epochs in TURNS.items()]
    for tab in (first, second, short):
        tab.button("btn_train").click()
    for tab, epochs in zip((first, second, short), TURNS.values()):
        started(tab, epochs)
    expect(final_loss(short)).to_be_visible(timeout=180_000)
    assert final_loss(short).inner_text() == expected_final_loss(6)
    for tab in (first, second):  # still running, part of the way
        progress = re.match(r"Epoch (\d+) / 30000 · .* · running", tab.counter())
        assert progress and 0 < int(progress[1]) < 30_000, tab.counter()
    first.page.wait_for_function("() => document.body.innerText.includes('running, waiting for its turn')")
    for tab in (first, second):
        tab.click("btn_pause")
        assert tab.counter().endswith(" · paused")


@pytest.mark.parametrize("server_kind", ["queue"], indirect=True)
@pytest.mark.timeout(600)  # on a shared CPU
def test_one_slot_three_sessions_queue_and_drain_in_order(new_app):
    first, second, third = [new_app().goto(f"/train?epochs={epochs}&live=false&seed={seed}")
                            for seed, epochs in RUNS.items()]
    first.button("btn_train").click()
    started(first, RUNS[1])
    second.button("btn_train").click()
    expect(queued(second, "Queued: yours is next.")).to_be_visible()
    third.button("btn_train").click()
    expect(queued(third, "Queued: 1 run ahead of yours.")).to_be_visible()
    # A queued run's place is drawn only when it changes; a click on Pause still stops its wait at once
    # (this server keeps runner.fastReruns off, so the waiting script run itself must let the click in).
    third.click("btn_pause")
    expect(queued(third, "Queued")).to_have_count(0)
    assert third.counter().endswith(" · paused")
    third.button("btn_train").click()  # back in line, behind the second
    expect(queued(third, "Queued: 1 run ahead of yours.")).to_be_visible()

    first.click("btn_pause")  # a paused run gives its slot to the next in line
    assert first.counter().endswith(" · paused")
    expect(queued(second, "Queued")).to_have_count(0)
    started(second, RUNS[2])
    expect(queued(third, "Queued: yours is next.")).to_be_visible()  # moved up; waits for the second

    second.click("btn_pause")
    expect(queued(third, "Queued")).to_have_count(0)
    expect(final_loss(third)).to_be_visible(timeout=180_000)
    assert final_loss(third).inner_text() == expected_final_loss(3)
    assert third.counter().startswith(f"Epoch {RUNS[3]} / {RUNS[3]}")
    assert first.counter().endswith(" · paused") and second.counter().endswith(" · paused")


def test_teachers_link_shows_the_exercise_with_locked_controls(app, assert_snapshot):
    app.goto(LINK)
    expect(app.page.get_by_test_id("stAlertContentInfo").first).to_contain_text(
        "Exercise: change only the learning rate")
    for key in ("hidden_sizes", "epochs", "seed", "activation"):
        expect(app.page.locator(f".st-key-{key}").first.locator("input").first).to_be_disabled()
    expect(app.page.get_by_role("heading", name="The code")).to_have_count(0)
    expect(app.page.locator(".js-plotly-plot .gtitle")).to_have_text(["Loss", "Weights at epoch 0"])
    assert_snapshot(app.page, "classroom_teachers_link")


def walked(epochs: int, epoch: int) -> str:
    """The loss before the update of epoch `epoch`, as the One epoch page's metric shows it."""
    walker = EpochWalker(Config().replace(epochs=epochs))
    return f"{walker.walk(epoch).loss.loss:.6g}"


@pytest.mark.timeout(600)
def test_a_one_epoch_walk_takes_turns_beside_a_train_page_run_in_another_session(new_app):
    """One slot, turns of 100 ms: a long Train page run keeps training while another visitor's link walks
    3,000 epochs from the seed, and the walk ends on the weights a walk alone reaches."""
    trainer = new_app().goto("/train?epochs=100000&live=false&seed=4")
    trainer.button("btn_train").click()
    started(trainer, 100_000)
    walker = new_app()
    walker.goto("/epoch?epochs=5000&epoch=3000&phase=update")  # waits until its script run is done
    expect(walker.page.get_by_role("heading", name="6 · update")).to_be_visible()
    before = walker.page.get_by_test_id("stMetric").filter(has_text="loss before the update")
    assert before.get_by_test_id("stMetricValue").inner_text() == walked(5000, 3000)
    progress = re.match(r"Epoch (\d+) / 100000 · .* · running", trainer.counter())
    assert progress and 0 < int(progress[1]) < 100_000, trainer.counter()  # it trained on, in turns
    trainer.click("btn_pause")


@pytest.mark.timeout(600)
def test_a_closed_one_epoch_tab_stops_its_walk(new_app, server):
    """A walk of over a minute (128 x 128 units, 10,000 samples, to epoch 3,000: under a sixth of the budget,
    so that a calibration on a loaded machine, which reads high, still lets it start), its tab closed once
    the progress shows: the server goes idle long before the walk could have ended."""
    tab = new_app()
    tab.page.goto(f"{server.url}/epoch?hidden_sizes=128,128&n_samples=10000&reduction=mean"
                  "&epochs=10000&epoch=3000")
    expect(tab.page.get_by_test_id("stProgress")).to_be_visible()
    assert server_busy(server), "the server should be walking"
    tab.page.context.close()
    assert server_idle(server), "the walk went on after its tab closed"
