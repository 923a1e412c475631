"""Browser tests: one `streamlit run app.py` for the session, Chromium from the system, and waits
that follow the app's own signals (script state, DOM mutations, plotly's drawn SVG), never the clock.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

import snapshot

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results"
SERVER_LOG = RESULTS / "streamlit.log"
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium; scripts/test.sh installs it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 1600}  # tall: Streamlit's main area scrolls inside a container
# Fixed size, scale, locale, zone and motion: equal runs give equal pixels.
CONTEXT_ARGS = {"viewport": VIEWPORT, "device_scale_factor": 1, "locale": "en-US", "timezone_id": "UTC",
                "color_scheme": "light", "reduced_motion": "reduce"}
RESERVED_PORTS = (range(8599, 8620), range(8640, 8660))  # other engineers' servers on this machine
BAD_LOG_LINE = re.compile(r"Traceback|Exception|Examining the path of torch\.classes")
# Streamlit's frontend, opened at /<page>, first tries /<page> as the server's base path and then "/"
# (getPossibleBaseUris in its UriUtil): two 404s per fresh load of a non-root URL, then it connects.
HARMLESS_CONSOLE = re.compile(r"^https?://[^/]+/[\w-]+/_stcore/(health|host-config)$")
TIMEOUT_MS = 90_000  # generous: the CPU is shared with other test runs
RERUN_START_S = 15  # a rerun starts within milliseconds of a click
QUIET_MS = 500  # the DOM must be unchanged this long before we call the app idle

# Installed before the app's scripts in every document: counts script-state flips and notes the last
# DOM mutation, so a wait can tell "a rerun happened and finished" from "nothing started yet".
INIT_SCRIPT = """
window.__e2e = {stateChanges: 0, lastMutation: performance.now()};
new MutationObserver((records) => {
  window.__e2e.lastMutation = performance.now();
  if (records.some((r) => r.attributeName === "data-test-script-state")) window.__e2e.stateChanges++;
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""

# True when the app is connected, no script runs, fonts are in, every plotly chart has drawn its SVG
# and no plotly render is pending, nothing is stale, and the DOM has been still for `quiet` ms.
IDLE_JS = """
([quiet, minChanges]) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || !window.__e2e || window.__e2e.stateChanges < minChanges) return false;
  if (app.dataset.testConnectionState !== "CONNECTED" || app.dataset.testScriptState !== "notRunning") return false;
  if (document.fonts.status !== "loaded" || document.querySelector("[data-stale='true']")) return false;
  const holders = document.querySelectorAll("[data-testid='stPlotlyChart']");
  const charts = [...document.querySelectorAll(".js-plotly-plot")];
  if (charts.length < holders.length) return false;
  if (!charts.every((c) => c._fullLayout && c.querySelector(".main-svg") && !(c._promises || []).length)) return false;
  return performance.now() - window.__e2e.lastMutation >= quiet;
}
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-snapshots", action="store_true",
                     help="rewrite tests/e2e/__snapshots__ from this run (same as UPDATE_SNAPSHOTS=1)")


# ------------------------------------------------------------------ server ---


def free_port() -> int:
    """A port the kernel says is free (bind to 0), outside the ranges other engineers use."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not any(port in reserved for reserved in RESERVED_PORTS):
            return port


class Server:
    """A `streamlit run app.py` we started, and its log."""

    def __init__(self, url: str, process: subprocess.Popen, log: Path):
        self.url, self.process, self.log = url, process, log
        self.checked = 0  # log characters already checked by a test

    def new_log(self) -> str:
        text = self.log.read_text(errors="replace")
        new, self.checked = text[self.checked:], len(text)
        return new

    def assert_clean_log(self, text: str) -> None:
        bad = [line for line in text.splitlines() if BAD_LOG_LINE.search(line)]
        assert not bad, f"the streamlit log ({self.log}) has errors:\n" + "\n".join(bad)


def wait_healthy(server: Server, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"streamlit exited with {server.process.returncode}:\n{server.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    pytest.fail(f"streamlit was not healthy within {timeout} s; see {server.log}")


def stop(process: subprocess.Popen) -> None:
    """Stop the server we started (and any child it made), nothing else."""
    children = psutil.Process(process.pid).children(recursive=True) if process.poll() is None else []
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for child in children:
        if child.is_running():
            child.kill()


@contextmanager
def run_server(log: Path) -> Iterator[Server]:
    """Start the app on a free port, wait for its health check, stop it afterwards, then check its log."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
               "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_healthy(server)
        yield server
    finally:
        stop(process)
    server.assert_clean_log(log.read_text(errors="replace"))


@pytest.fixture(scope="session")
def streamlit_server() -> Iterator[Server]:
    with run_server(SERVER_LOG) as server:
        yield server


@pytest.fixture(scope="session")
def fresh_server() -> Callable[[], AbstractContextManager[Server]]:
    """Another server of one's own, for what only a server no browser has visited yet shows."""
    return lambda: run_server(RESULTS / "streamlit-fresh.log")


@pytest.fixture(autouse=True)
def server_log_is_clean(streamlit_server: Server) -> Iterator[None]:
    """Blame a server-side error on the test that caused it, not only on the session's end."""
    streamlit_server.new_log()
    yield
    streamlit_server.assert_clean_log(streamlit_server.new_log())


# ----------------------------------------------------------------- browser ---


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    args = {**browser_type_launch_args, "args": CHROMIUM_ARGS}
    if SYSTEM_CHROMIUM.exists():
        args["executable_path"] = str(SYSTEM_CHROMIUM)
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, **CONTEXT_ARGS}


@pytest.fixture(scope="session")
def base_url(streamlit_server: Server) -> str:
    """pytest-playwright gives each context this base URL, so tests go to "/train?...". """
    return streamlit_server.url


def wait_idle(page: Page, min_changes: int = 0, quiet_ms: int = QUIET_MS) -> None:
    page.wait_for_function(IDLE_JS, arg=[quiet_ms, min_changes], polling=100, timeout=TIMEOUT_MS)


def settle(page: Page, target: Page | Locator | None = None) -> None:
    """Before a screenshot: no hover or focus styles, `target` inside the viewport, a still, idle app."""
    page.mouse.move(0, 0)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    wait_idle(page)
    if isinstance(target, Locator):
        fit_viewport(page, target)
    page.wait_for_timeout(300)  # let canvases (the dataframe grid) paint: the DOM cannot tell


def fit_viewport(page: Page, target: Locator) -> None:
    """Grow the viewport's height (in 400 px steps, so equal pages get equal sizes) until `target` fits.

    The main area scrolls inside its own container, so a full-page screenshot would not show it,
    and a screenshot of an element taller than the viewport would scroll it and show the header.
    """
    box = target.bounding_box()
    size = page.viewport_size
    if box is None or box["y"] + box["height"] <= size["height"]:
        return
    height = -(-int(box["y"] + box["height"] + 1) // 400) * 400
    page.set_viewport_size({"width": size["width"], "height": height})
    wait_idle(page)


class App:
    """One browser tab on the app: navigation, reruns and reads that wait for the app itself."""

    def __init__(self, page: Page):
        self.page = page
        self.console_errors: list[str] = []
        page.set_default_timeout(TIMEOUT_MS)
        page.context.add_init_script(INIT_SCRIPT)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not HARMLESS_CONSOLE.match(message.location.get("url", "")):
            self.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def goto(self, path: str) -> App:
        self.page.goto(path)
        wait_idle(self.page, min_changes=1)  # at least one script run has started and ended
        return self

    def act(self, action: Callable[[], object]) -> None:
        """Do something that reruns the script, then wait until that rerun (and any st.rerun) is done.

        About one suite run in five, an action on a freshly loaded Train page started no rerun in the
        page: the browser sent its rerun request and the server started a run (traced), but the
        page's script state never changed, and it stayed as it was for 90 s. Seen as often on session
        3's code as on this one (1 in 30 typed values each; up to 6 in 40 in other tries); cause not
        found. Recovery, with a warning in the test report: do the action once more (a repeated click
        is a new request), then ask Streamlit for a plain rerun (its "r" shortcut), which drew a typed
        value that the repeat could not resend (5 of 5 lost ones). A rerun starts within
        milliseconds, so nothing counts twice.
        """
        before = self.page.evaluate("window.__e2e.stateChanges")
        started = f"window.__e2e.stateChanges > {before}"
        retries = (action, self._rerun_shortcut)
        action()
        for attempt, retry in enumerate(retries):
            try:
                self.page.wait_for_function(started, polling=100, timeout=RERUN_START_S * 1000)
                break
            except PlaywrightTimeoutError:
                warnings.warn(f"no rerun started within {RERUN_START_S} s of the action; "
                              f"{'doing it once more' if attempt == 0 else 'asking Streamlit for a rerun'}")
                retry()
        wait_idle(self.page, min_changes=before + 1)

    def _rerun_shortcut(self) -> None:
        self.page.evaluate("document.activeElement && document.activeElement.blur()")  # "r" must not type
        self.page.keyboard.press("r")

    def button(self, key: str) -> Locator:
        # Streamlit 1.67 gives a keyed widget's container the class st-key-<key>. A button with help
        # text is in it twice, once hidden from the accessibility tree: the role picks the real one.
        return self.page.locator(f".st-key-{key}").get_by_role("button")

    def click(self, key: str) -> None:
        self.act(self.button(key).click)

    def type_into(self, key: str, text: str) -> None:
        field = self.page.locator(f".st-key-{key} input")
        self.act(lambda: (field.fill(text), field.press("Enter")))

    def counter(self) -> str:
        """The Train page's status line, "Epoch N / M · loss X · status" ("" when there is none)."""
        line = self.page.get_by_test_id("stMarkdownContainer").filter(has_text=re.compile(r"^Epoch \d+ / \d+"))
        return line.inner_text() if line.count() else ""

    def assert_healthy(self) -> None:
        exceptions = self.page.get_by_test_id("stException")
        assert exceptions.count() == 0, f"{self.page.url} shows an exception:\n{exceptions.first.inner_text()}"
        assert not self.console_errors, "browser console errors:\n" + "\n".join(self.console_errors)


@pytest.fixture
def app(page: Page) -> Iterator[App]:
    """The test's tab; afterwards, no exception box on screen and no console errors."""
    tab = App(page)
    yield tab
    tab.assert_healthy()


@pytest.fixture
def new_app(new_context: Callable[..., BrowserContext]) -> Iterator[Callable[[], App]]:
    """A tab in a fresh browser context (no cookies, no session): a shared link opened by someone else."""
    tabs: list[App] = []

    def open_tab() -> App:
        tabs.append(App(new_context().new_page()))
        return tabs[-1]

    yield open_tab
    for tab in tabs:
        if not tab.page.is_closed():  # a test that closed its tab checked it itself
            tab.assert_healthy()


@pytest.fixture
def assert_snapshot(request: pytest.FixtureRequest) -> Callable[..., None]:
    """assert_snapshot(element_or_page, name): let the app settle, then compare with the baseline."""
    # The option exists when pytest starts in tests/e2e (a conftest below the start is read too late).
    update = snapshot.update_requested(request.config.getoption("--update-snapshots", default=False))

    def check(target: Page | Locator, name: str, **options) -> None:
        settle(target if isinstance(target, Page) else target.page, target)
        snapshot.assert_snapshot(target, name, update=update, **options)

    return check
