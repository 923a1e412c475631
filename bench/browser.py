"""The app in a real browser: `streamlit run` on a free port, driven by Playwright in headless Chromium.

Times are taken inside the page (performance.now()): from the Train button's click event to the
DOM mutation that puts the final epoch in the loss chart's title (plotly's SVG `.gtitle`). A run
starts from the page as a reader sees it: Train enabled and the start view drawn. Cold start stops
at the enabled Train button.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from playwright.sync_api import Browser, Page

from browser_support import LOCAL_OPTIONS, StreamlitServer, launch_args

VIEWPORT = {"width": 1400, "height": 1000}
TRAIN_ENABLED = ".st-key-btn_train button:not([disabled])"
START_VIEW_DRAWN = ".js-plotly-plot .gtitle >> text=Weights at epoch 0"
RUN_TIMEOUT_MS = 600_000
IDLE_TIMEOUT_MS = 60_000

# The minimal app cold start is compared with: Streamlit, torch, and a Train button to wait for.
MINIMAL_APP = ('import streamlit as st\nimport torch  # noqa: F401\n\n'
               'st.button("Train", key="btn_train", type="primary")\n')

# Notes the click on Train, and the first time each loss-chart title with an epoch ("Loss (epoch 12: 3.4)")
# and each epoch counter text ("Epoch 12 / 200") is in the DOM: distinct frames, however often redrawn.
OBSERVER_JS = """
() => {
  const log = window.__bench = {click: null, chart: [], counter: []};
  const seen = new Set();
  document.addEventListener("click", (event) => {
    if (log.click === null && event.target.closest(".st-key-btn_train")) log.click = performance.now();
  }, true);
  const note = (list, text) => { if (!seen.has(text)) { seen.add(text); list.push([performance.now(), text]); } };
  new MutationObserver(() => {
    for (const el of document.querySelectorAll(".gtitle"))
      if (el.textContent.startsWith("Loss (epoch ")) note(log.chart, el.textContent);
    for (const el of document.querySelectorAll("[data-testid='stMarkdownContainer'] strong"))
      if (el.textContent.startsWith("Epoch ")) note(log.counter, el.textContent);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""

# The run is over and fully drawn: no script running, status "finished", all four live charts at epoch N.
FINAL_FRAME_JS = """
(epochs) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.dataset.testScriptState !== "notRunning") return false;
  const counter = [...document.querySelectorAll("[data-testid='stMarkdownContainer']")].map((e) => e.textContent);
  if (!counter.some((t) => t.startsWith(`Epoch ${epochs} / ${epochs}`) && t.includes("finished"))) return false;
  const titles = [...document.querySelectorAll(".gtitle")].map((e) => e.textContent);
  const final = [`Loss (epoch ${epochs}:`, `parameter (epoch ${epochs})`, `Weights at epoch ${epochs}`, \
`Gradients at epoch ${epochs}`];
  return final.every((part) => titles.some((t) => t.includes(part)));
}
"""


class Server(StreamlitServer):
    """The app served for timing, without a file watcher; `started` is the perf_counter of the launch.
    Its log is deleted afterwards, unless something failed (the error may be there)."""

    def __init__(self, app_dir: Path, script: str = "app.py", env: dict[str, str] | None = None):
        handle, log = tempfile.mkstemp(prefix="bench-streamlit-", suffix=".log")
        os.close(handle)
        super().__init__(app_dir, Path(log), script, options=LOCAL_OPTIONS, env=env)

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def cpu_seconds(self) -> dict[int, float]:
        return cpu_seconds([psutil.Process(self.process.pid)])

    def __exit__(self, error_type: type | None, *exc: object) -> None:
        self.stop()
        if error_type is None:
            self.log.unlink()


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """pid -> user + system CPU seconds used so far, for the processes still alive."""
    used = {}
    for process in processes:
        try:
            times = process.cpu_times()
            used[process.pid] = times.user + times.system
        except psutil.Error:
            pass
    return used


def cpu_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU seconds used between two readings; a process that ended in between counts 0, a new one all it used."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())


def chromium() -> list[psutil.Process]:
    """Chromium's processes (browser, renderers, GPU, network), all started by this one."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "chrom" in process.name():
                found.append(process)
        except psutil.Error:  # a renderer of a closed page may exit while we look
            pass
    return found


def launch(playwright) -> Browser:
    return playwright.chromium.launch(headless=True, **launch_args())


@dataclass(frozen=True)
class Training:
    """One click-to-last-frame run as the browser saw it."""

    seconds: float  # click on Train -> final epoch in the loss chart's title
    start: float  # click -> the first epoch counter shown (the rerun that starts training)
    final_render: float  # counter at the final epoch -> loss chart at the final epoch
    chart_updates: int  # distinct loss-chart titles shown, the final one included
    counter_updates: int  # distinct "Epoch N / M" texts shown
    server_cpu: float  # CPU seconds the streamlit process used in that time (training included)
    browser_cpu: float  # CPU seconds Chromium's processes used in that time
    websocket_bytes: int  # received from the server between the click and the final frame
    frames_sent: int  # messages in that time that carried a loss chart with an epoch
    last_drawn: bool  # every live chart shows the final epoch once the app is idle


class WireCounter:
    """Bytes of every websocket message the page receives, and how many carried a loss chart with an
    epoch (one per frame the server sent). The listener must be on before the page loads."""

    def __init__(self, page: Page):
        self.bytes = 0
        self.frames = 0
        page.on("websocket", lambda socket: socket.on("framereceived", self._add))

    def _add(self, payload: str | bytes) -> None:
        self.bytes += len(payload)
        self.frames += (b"Loss (epoch " if isinstance(payload, bytes) else "Loss (epoch ") in payload


def open_train(browser: Browser, server: Server, query: str) -> tuple[Page, WireCounter]:
    """A new session on the Train page as a reader sees it before clicking: the Train button enabled
    and the start view drawn (the page loads plotly.js after its controls; see `cold_start`)."""
    page = browser.new_page(viewport=VIEWPORT)
    wire = WireCounter(page)
    page.goto(f"{server.url}/train?{query}")
    page.wait_for_selector(TRAIN_ENABLED, timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(START_VIEW_DRAWN, timeout=RUN_TIMEOUT_MS)
    return page, wire


def train(page: Page, wire: WireCounter, server: Server, epochs: int) -> Training:
    """Click Train and wait for the final epoch to be drawn."""
    page.evaluate(OBSERVER_JS)
    before, frames_before = wire.bytes, wire.frames
    cpu = server.cpu_seconds(), cpu_seconds(chromium())
    page.click(TRAIN_ENABLED)
    final = f"(epoch {epochs}:"
    page.wait_for_function(f"window.__bench.chart.some(([t, text]) => text.includes({final!r}))",
                           timeout=RUN_TIMEOUT_MS, polling=100)
    log = page.evaluate("window.__bench")
    done = next(t for t, text in log["chart"] if final in text)
    counted = next((t for t, text in log["counter"] if text.startswith(f"Epoch {epochs} /")), done)
    received, sent = wire.bytes - before, wire.frames - frames_before
    server_cpu, browser_cpu = cpu_since(cpu[0], server.cpu_seconds()), cpu_since(cpu[1], cpu_seconds(chromium()))
    try:
        page.wait_for_function(FINAL_FRAME_JS, arg=epochs, timeout=IDLE_TIMEOUT_MS, polling=100)
        last_drawn = True
    except Exception:
        last_drawn = False
    start = log["counter"][0][0] if log["counter"] else done
    return Training((done - log["click"]) / 1000, (start - log["click"]) / 1000, (done - counted) / 1000,
                    len(log["chart"]), len(log["counter"]), server_cpu, browser_cpu, received, sent, last_drawn)


def time_run(browser: Browser, server: Server, query: str, epochs: int) -> Training:
    page, wire = open_train(browser, server, query)
    try:
        return train(page, wire, server, epochs)
    finally:
        page.close()


def cold_start(browser: Browser, app_dir: Path, script: str, path: str) -> tuple[float, float]:
    """Seconds from launching the server to (the page at `path` showing an enabled Train button,
    the server answering its health check)."""
    with Server(app_dir, script) as server:
        server.wait_healthy()
        healthy = time.perf_counter() - server.started
        context = browser.new_context(viewport=VIEWPORT)  # an empty cache: a first visit
        try:
            context.new_page().goto(f"{server.url}{path}")
            context.pages[0].wait_for_selector(TRAIN_ENABLED, timeout=RUN_TIMEOUT_MS)
            return time.perf_counter() - server.started, healthy
        finally:
            context.close()


def minimal_app_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bench-minimal-app-"))
    (folder / "app.py").write_text(MINIMAL_APP)
    return folder


