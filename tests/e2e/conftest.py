"""Browser tests: one `streamlit run app.py` for the session (and, for tests marked both_servers, a
second one with Community Cloud's settings), Chromium from the system, and waits that follow the
app's own signals (script runs read from the websocket, DOM mutations, plotly's drawn SVG), never the clock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psutil
import pytest
import snapshot
from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from browser_support import CLOUD_BASE_PATH, CLOUD_ENV, LOCAL_OPTIONS, StreamlitServer, launch_args

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results"
# How each kind of server is started: as locally (no file watcher), and with what Community Cloud
# forces (fast reruns, run on save with the file watcher on, no error details, XSRF protection) below
# a path prefix.
SERVER_KINDS = {"local": {"options": LOCAL_OPTIONS},
                "cloud": {"env": CLOUD_ENV, "base_path": CLOUD_BASE_PATH},
                # one training slot, so a second and third run take turns (tests/e2e/test_e2e_classroom.py)
                "classroom": {"options": LOCAL_OPTIONS, "env": {"MODULE_LAB_MAX_CONCURRENT_RUNS": "1"}},
                # one slot, each run keeping it to its end (turns of 10 minutes): the queue as such
                "queue": {"options": LOCAL_OPTIONS, "env": {"MODULE_LAB_MAX_CONCURRENT_RUNS": "1",
                                                            "MODULE_LAB_MAX_TURN_MS": "600000"}}}
VIEWPORT = {"width": 1280, "height": 1600}  # tall: Streamlit's main area scrolls inside a container
# Fixed size, scale, locale, zone and motion: equal runs give equal pixels.
CONTEXT_ARGS = {"viewport": VIEWPORT, "device_scale_factor": 1, "locale": "en-US", "timezone_id": "UTC",
                "color_scheme": "light", "reduced_motion": "reduce"}
BAD_LOG_LINE = re.compile(r"Traceback|Exception|Examining the path of torch\.classes")
# Streamlit's frontend, opened at <base>/<page>, first tries <base>/<page> as the server's base path and
# then <base> (getPossibleBaseUris in its UriUtil): two 404s per fresh load of a page's URL, then it connects.
HARMLESS_CONSOLE = re.compile(r"^https?://[^/]+(/[\w-]+)+/_stcore/(health|host-config)$")
TIMEOUT_MS = 90_000  # generous: the CPU is shared with other test runs
RERUN_START_S = 15  # a rerun starts within milliseconds of a click
QUIET_MS = 500  # the DOM must be unchanged this long before we call the app idle
# A server's CPU use, sampled over half a second at a time, in % of one core: training or walking
# uses most of a core (more than 20% even on two loaded cores), a server with nothing to do under 10%.
CPU_SAMPLE_S = 0.5
IDLE_CPU_PERCENT = 10
BUSY_CPU_PERCENT = 20
SERVER_STATE_S = 30  # generous: how long a server may take to reach the state polled for

# Installed before the app's scripts in every document: counts the script runs the server starts and
# whether one is still going, read from the websocket itself, and notes the last DOM mutation and the
# last message. The script-state attribute Streamlit's frontend shows cannot tell that a run happened:
# when the page is busy as a run's messages arrive (it is evaluating plotly.js, say), React applies
# them in one render and "running" never reaches the DOM (tests/e2e/README.md, "Waiting").
INIT_SCRIPT = """
window.__e2e = {runs: 0, running: false, lastMutation: performance.now(), lastMessage: performance.now()};
new MutationObserver(() => { window.__e2e.lastMutation = performance.now(); })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});

// A ForwardMsg's type is a top-level protobuf field: 4 new_session (a run started), 6 script_finished
// (its value 2: ended early for an st.rerun, whose run follows).
function scriptRunEvent(bytes) {
  let at = 0;
  const varint = () => {
    let value = 0, scale = 1, byte;
    do { byte = bytes[at++]; value += (byte & 127) * scale; scale *= 128; } while (byte & 128);
    return value;
  };
  while (at < bytes.length) {
    const tag = varint(), field = Math.floor(tag / 8), wire = tag % 8;
    if (wire === 0) { const value = varint(); if (field === 6) return value === 2 ? "rerun" : "finished"; }
    else if (wire === 2) { const length = varint(); if (field === 4) return "started"; at += length; }
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else return null;
  }
  return null;
}
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (message) => {
      if (!(message.data instanceof ArrayBuffer)) return;
      window.__e2e.lastMessage = performance.now();
      const event = scriptRunEvent(new Uint8Array(message.data));
      if (event === "started") { window.__e2e.runs++; window.__e2e.running = true; }
      if (event === "finished") window.__e2e.running = false;
    });
  }
};
"""

# True when at least `minRuns` script runs have started in this document and none is going, the app
# is connected and says no script runs, fonts are in, nothing is stale or still loading its code, every
# plotly chart (Streamlit's, and those the live-chart component draws) has drawn its SVG with no render
# pending, or says plotly.js did not load, and neither the DOM nor the websocket has changed for `quiet` ms.
IDLE_JS = """
([quiet, minRuns]) => {
  const app = document.querySelector("[data-testid='stApp']");
  const state = window.__e2e;
  if (!app || !state || state.runs < minRuns || state.running) return false;
  if (app.dataset.testConnectionState !== "CONNECTED" || app.dataset.testScriptState !== "notRunning") return false;
  // stSkeleton: an element whose code Streamlit still loads (its lazy chunk, e.g. the component's).
  if (document.fonts.status !== "loaded") return false;
  if (document.querySelector("[data-stale='true'], [data-testid='stSkeleton']")) return false;
  const drawn = (holder) => {
    const plot = holder.querySelector(".js-plotly-plot");
    if (!plot) return holder.textContent.includes("plotly.js");
    return plot._fullLayout && plot.querySelector(".main-svg") && !(plot._promises || []).length;
  };
  const holders = document.querySelectorAll("[data-testid='stPlotlyChart'], [data-testid='stBidiComponentRegular']");
  if (![...holders].every(drawn)) return false;
  return performance.now() - Math.max(state.lastMutation, state.lastMessage) >= quiet;
}
"""


expect.set_options(timeout=TIMEOUT_MS)  # Playwright's 5 s is short while a live run shares two loaded cores


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-snapshots", action="store_true",
                     help="rewrite tests/e2e/__snapshots__ from this run (same as UPDATE_SNAPSHOTS=1)")


# ------------------------------------------------------------------ server ---


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_servers: run once against the local server and once against a "
                                       "server with Community Cloud's settings below a path prefix")
    config.addinivalue_line("markers", "slow: a loop that counts rare events; left out unless asked for with -m slow")


BOTH_SERVERS = ("local", "cloud")  # what both_servers runs against; "classroom" and "queue" are for their own tests


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_servers"):
        metafunc.parametrize("server_kind", BOTH_SERVERS, indirect=True)


class Server(StreamlitServer):
    """A `streamlit run app.py` of this session, and the part of its log no test has checked yet."""

    def __init__(self, kind: str, log: Path):
        super().__init__(ROOT, log, **SERVER_KINDS[kind])
        self.checked = 0  # log characters already checked by a test

    def new_log(self) -> str:
        text = self.log_text()
        new, self.checked = text[self.checked:], len(text)
        return new

    def assert_clean_log(self, text: str) -> None:
        bad = [line for line in text.splitlines() if BAD_LOG_LINE.search(line)]
        assert not bad, f"the streamlit log ({self.log}) has errors:\n" + "\n".join(bad)


def server_cpu_until(server: StreamlitServer, reached: Callable[[float], bool], timeout_s: float) -> bool:
    """Samples the server's CPU use (CPU_SAMPLE_S at a time) until `reached(percent)`; False after `timeout_s`."""
    process = psutil.Process(server.process.pid)
    process.cpu_percent(None)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(CPU_SAMPLE_S)  # one sample of the server's CPU, not a wait for the app
        if reached(process.cpu_percent(None)):
            return True
    return False


def server_idle(server: StreamlitServer, timeout_s: float = SERVER_STATE_S) -> bool:
    """Waits until the server's CPU stays under IDLE_CPU_PERCENT of a core for a sample, or `timeout_s` passes."""
    return server_cpu_until(server, lambda percent: percent < IDLE_CPU_PERCENT, timeout_s)


def server_busy(server: StreamlitServer, timeout_s: float = SERVER_STATE_S) -> bool:
    """Waits until the server uses over BUSY_CPU_PERCENT of a core for a sample (it trains), or `timeout_s` passes."""
    return server_cpu_until(server, lambda percent: percent > BUSY_CPU_PERCENT, timeout_s)


@contextmanager
def run_server(kind: str, log: Path) -> Iterator[Server]:
    """Start the app on a free port, wait for its health check, stop it afterwards, then check its log."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    server = Server(kind, log)
    try:
        server.wait_healthy(90)
    except (RuntimeError, TimeoutError) as error:
        server.stop()
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()
    server.assert_clean_log(server.log_text())


@pytest.fixture(scope="session")
def local_server() -> Iterator[Server]:
    with run_server("local", RESULTS / "streamlit.log") as server:
        yield server


@pytest.fixture(scope="session")
def cloud_server() -> Iterator[Server]:
    with run_server("cloud", RESULTS / "streamlit-cloud.log") as server:
        yield server


@pytest.fixture
def server_kind(request: pytest.FixtureRequest) -> str:
    """"local"; a test marked both_servers gets "local" and then "cloud"."""
    return getattr(request, "param", "local")


@pytest.fixture
def server(request: pytest.FixtureRequest, server_kind: str) -> Server:
    """The server this test's tabs open."""
    return request.getfixturevalue(f"{server_kind}_server")


@pytest.fixture
def fresh_server(server_kind: str) -> Callable[[], AbstractContextManager[Server]]:
    """Another server of one's own, like `server`, for what only a server no browser has visited yet shows."""
    return lambda: run_server(server_kind, RESULTS / f"streamlit-fresh-{server_kind}.log")


@pytest.fixture(autouse=True)
def server_log_is_clean(server: Server) -> Iterator[None]:
    """Blame a server-side error on the test that caused it, not only on the session's end."""
    server.new_log()
    yield
    server.assert_clean_log(server.new_log())


# ----------------------------------------------------------------- browser ---


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, **launch_args()}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, **CONTEXT_ARGS}


def wait_idle(page: Page, min_runs: int = 0, quiet_ms: int = QUIET_MS) -> None:
    page.wait_for_function(IDLE_JS, arg=[quiet_ms, min_runs], polling=100, timeout=TIMEOUT_MS)


def settle(page: Page, target: Page | Locator | None = None) -> None:
    """Before a screenshot: no hover or focus styles, `target` inside the viewport, a still, idle app."""
    page.mouse.move(0, 0)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    wait_idle(page)
    if isinstance(target, Locator):
        fit_viewport(page, target)
    # Canvases (the dataframe grid) paint without a DOM change: snapshot.assert_snapshot then waits
    # until two screenshots in a row are equal.


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

    def __init__(self, page: Page, base_url: str):
        self.page, self.base_url = page, base_url
        self.console_errors: list[str] = []
        page.set_default_timeout(TIMEOUT_MS)
        page.context.add_init_script(INIT_SCRIPT)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not HARMLESS_CONSOLE.match(message.location.get("url", "")):
            self.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def goto(self, path: str) -> App:
        """Open `path` below the server's base URL ("/train?seed=7"), or a whole URL (a copied link)."""
        self.page.goto(self.base_url + path if path.startswith("/") else path)
        wait_idle(self.page, min_runs=1)  # at least one script run has started and ended
        return self

    def act(self, action: Callable[[], object]) -> None:
        """Do something that reruns the script, then wait until that rerun (and any st.rerun) is done.

        Fails if no script run starts within RERUN_START_S: the app would have ignored a reader's action.
        """
        before = self.page.evaluate("window.__e2e.runs")
        action()
        try:
            self.page.wait_for_function(f"window.__e2e.runs > {before}", polling=100, timeout=RERUN_START_S * 1000)
        except PlaywrightTimeoutError:
            pytest.fail(f"the action started no script run within {RERUN_START_S} s")
        wait_idle(self.page)

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
def app(page: Page, server: Server) -> Iterator[App]:
    """The test's tab on the test's server; afterwards, no exception box on screen and no console errors."""
    tab = App(page, server.url)
    yield tab
    tab.assert_healthy()


@pytest.fixture
def new_app(new_context: Callable[..., BrowserContext], server: Server) -> Iterator[Callable[[], App]]:
    """A tab in a fresh browser context (no cookies, no session): a shared link opened by someone else."""
    tabs: list[App] = []

    def open_tab() -> App:
        tabs.append(App(new_context().new_page(), server.url))
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
