"""A class on the real server: N websocket clients speaking Streamlit's own protocol, no browser.

Each client does what a browser's page does on `/_stcore/stream`: it asks for the Train page
(a BackMsg `rerun_script` with the page's name and URL query), reads the ForwardMsgs until the
script run finishes, clicks Train (a rerun whose widget states set the button's `trigger_value`),
and reads on until the run's outcome ("Final loss", "Epochs trained") is on the page. Nothing is
drawn, and every client shares one asyncio loop in this process (its CPU time is reported), so the
figures are the server's: training, admission, script reruns and the messages it sends.

    python -m bench.server_class 3 500    # N sessions, epochs each, on a server of its own
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

PAGE = "train"  # the Train page's url_path (pages/ui/common/site.py)
TRAIN_KEY = "btn_train"  # the Train button's widget key (pages/train.py); its id ends with it
COUNTER = re.compile(r"^\*\*Epoch (\d+) / (\d+)\*\*")  # pages/ui/train/live_view.py counter_frame
QUEUED = re.compile(r"Queued: (\d+) runs? ahead")  # server/gate.py queue_text
FINISHED = ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY
TIMEOUT_S = 900.0  # one session's page load or run; far beyond 30 lesson runs queued on 2 cores


def query(epochs: int) -> str:
    """The lesson's config for `epochs`, live drawing off: only the counter moves (4 frames a second)."""
    return f"epochs={epochs}&live=false"


@dataclass
class Session:
    """What one client saw of its page; times are perf_counter() readings."""

    query: str
    train_id: str | None = None  # the Train button's widget id, once drawn
    opened: float = 0.0  # connect
    ready: float = 0.0  # the page's first finished script run, Train on it
    clicked: float = 0.0
    done: float = 0.0  # the run's outcome on the page
    counters: list[tuple[float, int]] = field(default_factory=list)  # (time, epoch) of each epoch counter drawn
    most_ahead: int = 0  # the largest "N runs ahead of yours" shown
    metrics: dict[str, str] = field(default_factory=dict)  # st.metric label -> value ("Final loss" -> "2.03")
    deltas: list[tuple[float, int]] = field(default_factory=list)  # (time, bytes) of each delta after the click

    def read(self, msg: ForwardMsg, size: int, now: float) -> None:
        kind = msg.WhichOneof("type")
        if kind == "page_info_changed":  # the page rewrote its URL; a browser sends it back on reruns
            self.query = msg.page_info_changed.query_string
        if kind != "delta":
            return
        if self.clicked:
            self.deltas.append((now, size))
        if msg.delta.WhichOneof("type") == "new_element":
            self.read_element(msg.delta.new_element, now)

    def read_element(self, element, now: float) -> None:
        kind = element.WhichOneof("type")
        if kind == "button" and element.button.id.endswith(TRAIN_KEY):
            self.train_id = element.button.id
        elif kind == "markdown" and (counter := COUNTER.match(element.markdown.body)):
            self.counters.append((now, int(counter.group(1))))
        elif kind == "alert" and (queued := QUEUED.search(element.alert.body)):
            self.most_ahead = max(self.most_ahead, int(queued.group(1)))
        elif kind == "metric":
            self.metrics[element.metric.label] = element.metric.body

    @property
    def trained(self) -> list[tuple[float, int]]:
        """The epoch counters drawn while training, up to the first with the final epoch (the
        finished page draws that one again)."""
        drawn = [(t, epoch) for t, epoch in self.counters if t >= self.clicked and epoch > 0]
        final = max((epoch for _, epoch in drawn), default=0)
        return drawn[:next((i + 1 for i, (_, epoch) in enumerate(drawn) if epoch == final), 0)]

    def summary(self) -> dict:
        """Seconds from the click; epochs/s over its own training (first to last epoch drawn) and
        over the wall (click to last epoch drawn)."""
        (first, first_epoch), (last, last_epoch) = self.trained[0], self.trained[-1]
        return {"ready": self.ready - self.opened, "wait": first - self.clicked, "training": last - first,
                "first": first, "last": last,
                "seconds": self.done - self.clicked, "rate": (last_epoch - first_epoch) / max(last - first, 1e-9),
                "wall_rate": last_epoch / (last - self.clicked), "done": self.done,
                "epochs": self.metrics.get("Epochs trained"),
                "loss": self.metrics.get("Final loss"), "deltas": len(self.deltas),
                "frames": sum(first <= t <= last for t, _ in self.deltas),  # while training
                "delta_bytes": sum(size for _, size in self.deltas),
                "most_ahead": self.most_ahead, "trained": self.trained}


class Client:
    """One browser tab's websocket, without the browser."""

    def __init__(self, url: str, session: Session):
        self.url = url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.session = session
        self.socket = None

    async def __aenter__(self) -> Client:
        self.session.opened = time.perf_counter()
        # The frontend's subprotocol list: "streamlit", then an XSRF token and a session id, both
        # only for an authenticated user or a reconnect; the stream needs neither.
        self.socket = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None, open_timeout=60)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.socket.close()

    async def rerun(self, trigger: str | None = None) -> None:
        back = BackMsg()
        back.rerun_script.page_name = PAGE
        back.rerun_script.query_string = self.session.query
        if trigger is not None:
            state = back.rerun_script.widget_states.widgets.add()
            state.id, state.trigger_value = trigger, True
        await self.socket.send(back.SerializeToString())

    async def until_finished(self, done: Callable[[Session], bool]) -> None:
        """Read ForwardMsgs until a script run finishes with `done(session)` true."""
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                data = await self.socket.recv()
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self.session.read(msg, len(data), time.perf_counter())
                if (msg.WhichOneof("type") == "script_finished" and msg.script_finished == FINISHED
                        and done(self.session)):
                    return

    async def open_page(self) -> None:
        await self.rerun()
        await self.until_finished(lambda s: s.train_id is not None)
        self.session.ready = time.perf_counter()

    async def train(self) -> None:
        self.session.clicked = time.perf_counter()
        await self.rerun(self.session.train_id)
        await self.until_finished(lambda s: "Final loss" in s.metrics)
        self.session.done = time.perf_counter()


async def visit(url: str, epochs: int) -> Session:
    """A new visitor: connects and waits for the Train page (its script run finished, Train drawn)."""
    session = Session(query(epochs))
    async with Client(url, session) as client:
        await client.open_page()
    return session


async def one_run(url: str, epochs: int) -> dict:
    """One session: open the Train page, train, and what it saw."""
    session = Session(query(epochs))
    async with Client(url, session) as client:
        await client.open_page()
        await client.train()
    return session.summary()


async def class_sessions(url: str, n: int, epochs: int) -> dict:
    """N sessions open the Train page at once, then all press Train; once each one has pressed
    and the first is training, a new visitor opens the page."""
    sessions = [Session(query(epochs)) for _ in range(n)]
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(Client(url, session)) for session in sessions]
        await asyncio.gather(*(client.open_page() for client in clients))
        started = time.perf_counter()
        runs = asyncio.gather(*(client.train() for client in clients))
        while not any(s.trained for s in sessions):  # the class is training
            await asyncio.sleep(0.02)
        visitor = await visit(url, epochs)
        await runs
    ended = max(s.done for s in sessions)
    return {"n": n, "epochs": epochs, "seconds": ended - started, "started": started, "ended": ended,
            "visitor_ready": visitor.ready - visitor.opened,
            "visitor_during_training": visitor.ready < max(s.trained[-1][0] for s in sessions),
            "sessions": [s.summary() for s in sessions]}


def run_sync(coroutine):
    """asyncio.run on a thread of its own: the caller's thread may already run a loop (Playwright's sync API)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, every process)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


class ServerSampler:
    """The server's RSS and CPU seconds, and the machine's busy CPU seconds, sampled every `every` s
    on a thread while the block runs: the peak RSS, and where the CPU went during any interval."""

    def __init__(self, pid: int, every: float = 0.1):
        self.process, self.every = psutil.Process(pid), every
        self.samples: list[tuple[float, float, float, float]] = []  # (perf_counter, RSS MB, server CPU s, busy CPU s)
        self._stop = threading.Event()

    def _sample(self) -> None:
        while True:
            self.samples.append((time.perf_counter(), self.process.memory_info().rss / 2**20,
                                 sum(self.process.cpu_times()[:2]), busy_cpu_seconds()))
            if self._stop.wait(self.every):
                return

    @property
    def peak_mb(self) -> float:
        return max(rss for _, rss, _, _ in self.samples)

    def cores(self, start: float, end: float) -> tuple[float, float]:
        """Cores used on average from `start` to `end` (perf_counter readings): by the server, by the whole machine."""
        times = [t for t, *_ in self.samples]
        server, busy = ([sample[i] for sample in self.samples] for i in (2, 3))
        span = max(end - start, 1e-9)
        return tuple((float(np.interp(end, times, v)) - float(np.interp(start, times, v))) / span
                     for v in (server, busy))

    def __enter__(self) -> ServerSampler:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def class_run(url: str, server_pid: int, n: int, epochs: int) -> dict:
    """`class_sessions` with the server's peak RSS, the cores it and the whole machine used while
    each session trained and over the class, and this process's (the clients') CPU seconds."""
    clients = psutil.Process()
    before = sum(clients.cpu_times()[:2])
    with ServerSampler(server_pid) as sampler:
        result = run_sync(class_sessions(url, n, epochs))
    for session in result["sessions"]:
        server, machine = sampler.cores(session["first"], session["last"])
        # Per second of server CPU: the machine's other load (other processes) taken out.
        session.update(server_cores=server, machine_cores=machine,
                       cpu_rate=session["rate"] / server if server > 0 else float("nan"))
    server, machine = sampler.cores(result["started"], result["ended"])
    result.update(rss_mb=sampler.peak_mb, server_cores=server, machine_cores=machine,
                  server_cpu=server * (result["ended"] - result["started"]),
                  client_cpu=sum(clients.cpu_times()[:2]) - before)
    return result


def expected_loss(epochs: int) -> str:
    """A plain Trainer run of the lesson's config, its final loss as the page shows it ("Final loss")."""
    import pages.ui  # noqa: F401  (torch threads set as in the app)
    from core.config import Config
    from core.trainer import Trainer

    trainer = Trainer(Config().replace(epochs=epochs))
    while not trainer.done:
        trainer.step()
    return f"{trainer.history.losses[-1]:.6g}"


def spread(values: list[float]) -> float:
    return max(values) / min(values)


def describe(result: dict, expected: str) -> str:
    s = result["sessions"]
    rates, walls, per_cpu = (sorted(x[key] for x in s) for key in ("rate", "wall_rate", "cpu_rate"))
    waits = sorted(x["wait"] for x in s)
    correct = sum(x["loss"] == expected and x["epochs"] == str(result["epochs"]) for x in s)

    def mmm(values: list[float], fmt: str) -> str:
        return "/".join(format(v, fmt) for v in (values[0], statistics.median(values), values[-1]))

    return (f"{result['n']} sessions x {result['epochs']} epochs: {result['seconds']:.1f} s, peak RSS "
            f"{result['rss_mb']:.0f} MB, epochs/s training {mmm(rates, '.0f')} (spread {spread(rates):.2f}), per "
            f"server CPU s {mmm(per_cpu, '.0f')} (spread {spread(per_cpu):.2f}), "
            f"over the wall {mmm(walls, '.0f')}, queue wait {mmm(waits, '.1f')} s, correct {correct}/{result['n']}, "
            f"visitor ready {result['visitor_ready']:.2f} s, cores busy: server {result['server_cores']:.2f}, "
            f"machine {result['machine_cores']:.2f}; clients' CPU {result['client_cpu']:.1f} s")


def main(argv: list[str]) -> None:
    from browser_support import LOCAL_OPTIONS, StreamlitServer

    n, epochs = (int(a) for a in argv)
    app = Path(__file__).resolve().parents[1]
    expected = expected_loss(epochs)
    with StreamlitServer(app, Path("/tmp") / f"server-class-{n}.log", options=LOCAL_OPTIONS) as server:
        server.wait_healthy()
        run_sync(one_run(server.url, 10))  # warm-up: torch imported, first-run costs paid
        print(describe(class_run(server.url, server.process.pid, n, epochs), expected))


if __name__ == "__main__":
    main(sys.argv[1:])
