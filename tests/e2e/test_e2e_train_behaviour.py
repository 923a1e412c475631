"""The Train page in a real browser: live frames, Pause, Step after Pause, Stop, Reset, a checkpoint upload.

Tests marked both_servers run against the local server and against one with Community Cloud's
settings (fast reruns, run on save, below a path prefix): the transport and the live charts. Step from
the start and the share link are checked by AppTest (tests/test_moved_from_e2e_train.py), a deep link on a
fresh server by tests/e2e/test_e2e_fresh_server.py.
"""

import re

import numpy as np
import pytest
from conftest import server_idle, wait_idle
from playwright.sync_api import expect

from core.checkpoint import save_checkpoint
from core.config import Config
from core.trainer import Trainer

LONG_RUN = "/train?epochs=100000&seed=7"  # lasts seconds: long enough to watch it, pause it and step it

# Notes every distinct status line and loss-chart title as the app redraws them, so frames that
# come and go between two polls are still seen. textContent, not innerText: no layout per mutation.
RECORD_FRAMES_JS = """
() => {
  const seen = (window.__frames = {counter: [], loss: [], interactive: []});
  const note = (list, text) => { if (!list.includes(text)) { list.push(text); return true; } return false; };
  new MutationObserver(() => {
    for (const line of document.querySelectorAll("[data-testid='stMarkdownContainer']")) {
      if (/^Epoch \\d+ \\/ \\d+/.test(line.textContent)) note(seen.counter, line.textContent);
    }
    for (const plot of document.querySelectorAll(".js-plotly-plot")) {
      const title = plot.querySelector(".gtitle");
      if (title && title.textContent.startsWith("Loss (epoch") && note(seen.loss, title.textContent)) {
        seen.interactive.push(Boolean(plot.querySelector(".nsewdrag")));  // plotly's zoom and hover layer
      }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def epoch(counter: str) -> int:
    return int(re.match(r"Epoch (\d+) / \d+", counter).group(1))


def final_loss(app) -> str:
    metric = app.page.get_by_test_id("stMetric").filter(has_text="Final loss")
    return metric.get_by_test_id("stMetricValue").inner_text()


def train_live_then_pause(app) -> str:
    """Start a long run, see at least three frames drawn while it runs, pause it; the paused status line."""
    app.goto(LONG_RUN)
    app.page.evaluate(RECORD_FRAMES_JS)
    app.button("btn_train").click()  # no wait for idle: the run goes on for seconds
    app.page.wait_for_function("() => __frames.counter.length >= 3 && __frames.loss.length >= 3")
    live = app.page.evaluate("__frames")
    app.click("btn_pause")
    frames = app.page.evaluate("__frames")
    assert not any(live["interactive"]), live  # live frames are static plots, cheaper to draw
    expect(app.page.locator(".js-plotly-plot").filter(has_text="Loss (epoch").locator(".nsewdrag")).not_to_have_count(0)
    running = [line for line in frames["counter"] if line.endswith(" · running")]
    assert len(running) >= 3, frames["counter"]
    assert [epoch(line) for line in running] == sorted({epoch(line) for line in running}), running
    assert len(frames["loss"]) >= 3, frames["loss"]
    paused = app.counter()
    assert paused.endswith(" · paused") and epoch(paused) < 100000, paused
    return paused


# Watches the live loss plot once per animation frame (before each paint) from now on: which plot divs
# drew it, whether one was ever out of the page (a blink), which titles it showed.
WATCH_LIVE_PLOT_JS = """
() => {
  const seen = (window.__livePlot = {plots: new Set(), titles: new Set(), missing: 0, plot: null});
  const look = () => {
    const plot = window.__moduleLabPlots?.loss;
    if (plot) {
      seen.plots.add(plot);
      seen.plot = plot;
      if (!plot.isConnected) seen.missing++;
      seen.titles.add(plot.querySelector(".gtitle")?.textContent);
    }
    if (!seen.stopped) requestAnimationFrame(look);
  };
  look();
}
"""
# Stops watching; what was seen.
LIVE_PLOT_SEEN_JS = """
() => {
  const seen = window.__livePlot;
  seen.stopped = true;
  return {plots: seen.plots.size, missing: seen.missing, titles: seen.titles.size,
          template: seen.plot?.layout?.template, interactive: Boolean(seen.plot?.querySelector(".nsewdrag"))};
}
"""
PAUSED_LOSS_TEMPLATE_JS = """
() => [...document.querySelectorAll(".stPlotlyChart .js-plotly-plot")]
  .find((plot) => plot.querySelector(".gtitle")?.textContent.startsWith("Loss (epoch")).layout.template
"""


LOADED_SCRIPTS_JS = "() => performance.getEntriesByType('resource').map((entry) => entry.name)"


@pytest.mark.both_servers
def test_live_frames_update_one_plot_in_place_that_never_blinks(app):
    """At least three distinct live frames are drawn in one plot div that never leaves the page, as a
    static plot themed as the paused chart is. How many frames a second the page paints is a rate, timed by
    `python -m bench --only live`, not here."""
    app.goto(LONG_RUN)
    app.button("btn_train").click()
    # Watched once plotly.js is in and drew the loss: on a server's first visit, loading it (4.7 MB)
    # holds the browser's frames back, which says nothing of the live frames.
    app.page.wait_for_function("() => window.Plotly && window.__moduleLabPlots?.loss?._fullLayout")
    app.page.evaluate(WATCH_LIVE_PLOT_JS)
    app.page.wait_for_function("() => window.__livePlot.titles.size >= 3")  # three frames, however long they take
    seen = app.page.evaluate(LIVE_PLOT_SEEN_JS)
    # The live charts import Streamlit's own plotly.js, found below the server's base path, if any.
    own_plotly = app.base_url + "/static/js/PlotlyChart."
    assert any(url.startswith(own_plotly) for url in app.page.evaluate(LOADED_SCRIPTS_JS)), own_plotly
    assert seen["plots"] == 1 and seen["titles"] >= 3, seen  # one div, updated frame after frame
    assert seen["missing"] == 0, seen  # never out of the page at a paint: no blink
    assert not seen["interactive"], seen  # a static plot: nothing to hover on a chart redrawn 20 times a second
    app.click("btn_pause")
    # The paused chart is Streamlit's own, themed in the browser: the live frames looked the same.
    assert seen["template"] == app.page.evaluate(PAUSED_LOSS_TEMPLATE_JS)


IN_PLACE_PLOTS = "[data-testid='stBidiComponentRegular'] .js-plotly-plot"
# Notes each in-place plot's refit: plotly's relayout after the window's resize event (the plots are
# responsive), which is where a plot div without its own height measured 0 and the chart vanished.
NOTE_REFITS_JS = f"""
() => document.querySelectorAll({IN_PLACE_PLOTS!r}).forEach((plot) => {{
  plot.refitted = false;
  plot.on("plotly_relayout", () => {{ plot.refitted = true; }});
}})
"""
REFITTED_JS = f"""
() => [...document.querySelectorAll({IN_PLACE_PLOTS!r})].every((plot) =>
  plot.refitted && !(plot._promises || []).length && Math.abs(plot._fullLayout.width - plot.clientWidth) < 1)
"""


def test_charts_drawn_in_place_keep_their_height_when_the_window_narrows(app):
    """The start view's plot divs are reused after a run and a Reset; plotly refits them on resize."""
    app.goto("/train?epochs=20&seed=7")
    app.click("btn_train")
    app.click("btn_reset")
    app.page.evaluate(NOTE_REFITS_JS)
    app.page.set_viewport_size({"width": 1000, "height": 900})
    app.page.wait_for_function(REFITTED_JS)  # plotly refits on the window's resize event
    wait_idle(app.page)
    heights = app.page.evaluate(f"() => [...document.querySelectorAll({IN_PLACE_PLOTS!r})].map((p) => p.offsetHeight)")
    assert heights == [320, 380], heights  # the empty loss curve, the weights at epoch 0


def test_charts_say_so_when_plotly_js_cannot_load(app):
    app.page.route("**/static/js/PlotlyChart.*.js", lambda route: route.abort())
    app.goto("/train?epochs=20&seed=7")
    expect(app.page.get_by_text("This chart needs plotly.js, which did not load.")).to_have_count(2)  # loss, weights
    expect(app.button("btn_train")).to_be_enabled()  # the rest of the page works
    assert app.console_errors and all("plotly.js did not load" in e or "PlotlyChart" in e for e in app.console_errors)
    app.console_errors.clear()  # the errors this test caused on purpose


# One run for the whole transport (a run costs seconds, and this test runs against both servers).
# With runner.fastReruns = true (Community Cloud forces it) the interrupted run went on stepping the
# same Trainer in its own thread after Pause, so the paused screen said epoch N while the model was at N+2.
@pytest.mark.both_servers
def test_live_frames_then_pause_holds_step_after_pause_advances_one_epoch_and_reset_clears(app, server):
    paused = train_live_then_pause(app)
    # What is tested: nothing moves. A run that stepped on after Pause would keep the server busy
    # until its 100,000 epochs end, and the Step below would add more than one epoch.
    assert server_idle(server), "the server trained on after Pause"
    wait_idle(app.page)
    assert app.counter() == paused

    app.click("btn_step")
    assert epoch(app.counter()) == epoch(paused) + 1, (paused, app.counter())

    app.click("btn_reset")
    assert app.counter() == ""
    start_view = app.page.locator(".js-plotly-plot .gtitle").filter(has_not_text="Runs compared")  # the kept run stays
    expect(start_view).to_have_text(["Loss", "Weights at epoch 0"])  # the start view
    expect(app.page.get_by_test_id("stAlertContentInfo")).to_contain_text("Press Train")


RUNNING_JS = "() => /Epoch [1-9]\\d* \\/ 100000 · loss \\S+ · running/.test(document.body.textContent)"


@pytest.mark.both_servers
def test_learning_rate_changed_mid_run_applies_then_stop_keeps_the_run(app, server):
    app.goto(LONG_RUN)
    app.button("btn_train").click()  # no wait for idle: the run goes on for seconds
    app.page.wait_for_function(RUNNING_JS)
    app.page.locator(".st-key-learning_rate").get_by_role("slider").press("ArrowRight")  # the lesson's 1e-4 -> 2e-4
    marker = app.page.locator(".js-plotly-plot .annotation-text").filter(has_text="lr=0.0002")
    expect(marker).to_have_count(1)  # a live frame marks the epoch the change applied from: the run went on
    app.click("btn_stop")
    stopped = app.counter()
    assert stopped.endswith(" · stopped") and "learning_rate=0.0002" in app.page.url, (stopped, app.page.url)
    expect(marker).to_have_count(1)
    # What is tested: nothing moves after Stop. A run that stepped on would keep the server busy
    # until its 100,000 epochs end, and the outcome would describe a later epoch than the counter.
    assert server_idle(server), "the server trained on after Stop"
    wait_idle(app.page)
    assert app.counter() == stopped
    # The outcome describes the model the counter describes: its last loss and its epoch.
    final_loss_text, _, epochs_trained = app.page.get_by_test_id("stMetricValue").all_inner_texts()
    assert (final_loss_text, int(epochs_trained)) == (re.search(r"loss (\S+)", stopped).group(1), epoch(stopped))

def test_a_figure_the_plot_already_shows_is_not_drawn_again(page):
    """pages/ui/train/live_chart.py's code with a stand-in plotly.js: a run's first frame from epoch 0 is
    the start view again, and the browser skips it (the weights alone are ~30 ms of plotly work)."""
    from pages.ui.train.live_chart import _JS  # the component's code, pages/ui/train/live_chart.js

    page.set_content("<div id='host'></div>")
    page.evaluate("""async (code) => {
      window.drawn = [];
      window.Plotly = {react: (div, traces, layout, config) =>
        window.drawn.push([layout.title.text, config.staticPlot])};
      const chart = await import("data:text/javascript;charset=utf-8," + encodeURIComponent(code));
      let frame = 0;
      window.show = (title, interactive) => chart.default({parentElement: document.getElementById("host"), data: {
        name: "loss", frame: ++frame, interactive, plotly: "unused",
        figure: JSON.stringify({data: [], layout: {title: {text: title}}})}});
    }""", _JS)
    for title, interactive in [("Loss", True), ("Loss", True), ("Loss", False), ("Loss (epoch 1: 3.2)", False),
                               ("Loss (epoch 1: 3.2)", False)]:
        page.evaluate("([title, interactive]) => show(title, interactive)", [title, interactive])
    # With window.Plotly there, each show draws before it returns; then every task it queued has run.
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve))")
    assert page.evaluate("window.drawn") == [["<b>Loss</b>", False], ["<b>Loss</b>", True],
                                             ["<b>Loss (epoch 1: 3.2)</b>", True]]


# An upload through the Cloud settings too: XSRF on and a URL path prefix, as the hosted demo has them.
@pytest.mark.both_servers
def test_a_csv_runs_checkpoint_uploads_and_carries_on_with_the_csvs_rows(app):
    rows = (np.linspace(-1, 1, 18, dtype=np.float32).reshape(6, 3), np.arange(6, dtype=np.float32).reshape(6, 1))
    config = Config().replace(epochs=40, seed=3)
    first, straight = Trainer(config, data=rows), Trainer(config, data=rows)
    for _ in range(15):
        first.step()
    while not straight.done:
        straight.step()
    app.goto("/train")
    upload = app.page.locator(".st-key-checkpoint_file input[type='file']")
    app.act(lambda: upload.set_input_files({"name": "houses.pt", "mimeType": "application/octet-stream",
                                             "buffer": save_checkpoint(first)}))
    expect(app.page.get_by_test_id("stAlert")).to_contain_text(
        "epoch 15 of 40. It carries on with the 6 rows of the uploaded CSV saved with it")
    app.click("btn_train")  # Resume
    assert app.counter().startswith("Epoch 40 / 40")
    assert final_loss(app) == f"{straight.history.losses[-1]:.6g}"
