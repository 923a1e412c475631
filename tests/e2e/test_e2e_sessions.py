"""Many visitors at once: each browser session sees only its own run, and a closed tab stops training."""

import time

import psutil
from playwright.sync_api import expect

from core.config import Config
from core.trainer import Trainer


def expected_final_loss(**changes) -> str:
    trainer = Trainer(Config().replace(**changes))
    while not trainer.done:
        trainer.step()
    return f"{trainer.history.losses[-1]:.6g}"


def final_loss(tab) -> str:
    metric = tab.page.get_by_test_id("stMetric").filter(has_text="Final loss")
    return metric.get_by_test_id("stMetricValue").inner_text()


def server_cpu_percent(server, seconds: float) -> float:
    """The server's CPU use over `seconds`, in % of one core (its training runs in its threads)."""
    process = psutil.Process(server.process.pid)
    process.cpu_percent(None)
    time.sleep(seconds)
    return process.cpu_percent(None)


def test_two_sessions_training_at_once_each_see_their_own_run(new_app):
    first, second = new_app(), new_app()
    runs = {first: dict(hidden_sizes="8", seed=1, epochs=3000), second: dict(hidden_sizes="16, 4", seed=2,
                                                                               epochs=3000, activation="Tanh")}
    for tab, changes in runs.items():
        query = "&".join(f"{k}={v}" for k, v in changes.items())
        tab.goto(f"/train?{query}")
    for tab in runs:
        tab.button("btn_train").click()  # both train at the same time in one server
    for tab, changes in runs.items():
        expect(tab.page.get_by_test_id("stMetric").filter(has_text="Final loss")).to_be_visible(timeout=120_000)
        assert final_loss(tab) == expected_final_loss(**changes)
        assert tab.counter().startswith("Epoch 3000 / 3000")


def test_a_closed_tab_stops_its_training_within_two_seconds(new_app, server):
    tab = new_app().goto("/train?epochs=100000&live=false")
    tab.button("btn_train").click()
    tab.page.wait_for_function("() => /Epoch [1-9]\\d* \\/ 100000/.test(document.body.innerText)")
    busy = server_cpu_percent(server, 1.0)
    # Relative, not absolute: on a loaded machine "flat out" may be well under one core.
    assert busy > 20, f"the server should be training, but used {busy:.0f}% of a core"
    tab.page.context.close()  # the visitor goes away mid-run
    time.sleep(2.0)  # the promise: stopped within a second or two
    idle = server_cpu_percent(server, 1.0)
    assert idle < min(15, busy / 3), f"training went on after the tab closed: {idle:.0f}% vs {busy:.0f}% of a core"


def test_a_reload_restores_the_config_from_the_url(app):
    app.goto("/train")
    app.type_into("hidden_sizes", "12, 6")
    app.type_into("seed", "21")
    app.page.reload()
    app.goto(app.page.url)
    expect(app.page.locator(".st-key-hidden_sizes input")).to_have_value("12, 6")
    expect(app.page.locator(".st-key-seed input")).to_have_value("21")
