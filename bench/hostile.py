"""Hostile uploads and links against the app's guards: how long a refusal takes and what it costs.

    python -m bench.hostile            # every group
    python -m bench.hostile csv        # one group: csv, checkpoint, session, epoch, replay, closed_tab

Each measurement that reads memory runs in a fresh interpreter, so one does not inherit another's heap.
"""

from __future__ import annotations

import io
import pickle
import resource
import subprocess
import sys
import time
import types
from pathlib import Path

import pandas  # noqa: F401  imported first: its cold import is not the guard's time

from core.tabular import DataError, read_csv

ROOT = Path(__file__).resolve().parent.parent

CSV_CASES = {
    "1,000,000 repeated names (4 MB header)": lambda: b"abc," * 999_999 + b"abc\n1\n",
    "600,000 unique names": lambda: (",".join(f"c{i}" for i in range(600_000)) + "\n1\n").encode(),
    "a first row of 1,000,000 values": lambda: b"a,b\n" + b"1," * 999_999 + b"1\n",
    "a third row of 1,000,000 values": lambda: b"a,b\n1,2\n" + b"1," * 999_999 + b"1\n",
    "2,400,000 rows": lambda: b"a\n" + b"1\n" * 2_400_000,
    "one 4 MB column name": lambda: b"x" * 4_000_000 + b",y\n1,2\n",
    "an unclosed quote over 4 MB": lambda: b'a,"' + b"x," * 2_000_000 + b"\n",
}


def csv_timings() -> None:
    for name, make in CSV_CASES.items():
        data = make()
        started = time.perf_counter()
        try:
            read_csv(data)
            outcome = "accepted"
        except DataError as error:
            outcome = str(error)[:70]
        print(f"| {name} | {len(data) / 1e6:.1f} MB | {time.perf_counter() - started:.3f} s | {outcome} |")


class MemoFloats(pickle._Pickler):
    """Each float written once, its repeats as two-byte references to it, as a hand-made pickle can."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_float(self, obj):
        pickle._Pickler.save_float(self, obj)
        self.memoize(obj)

    dispatch[float] = save_float


def _checkpoint_file(kind: str) -> bytes:
    import numpy as np
    import torch

    from core.checkpoint import save_checkpoint
    from core.config import LIMITS, Config
    from core.trainer import Trainer

    if kind == "largest":  # a real run at every cap: 4 x 512 on 20 features, Adam, 100,000 epochs
        config = Config().replace(hidden_sizes=[LIMITS.max_units] * LIMITS.max_hidden_layers, optimizer="adam",
                                  coefficients=[0.1] * LIMITS.max_features, epochs=LIMITS.max_epochs)
        trainer = Trainer(config)
        trainer.step()
        rng = np.random.default_rng(0)
        while trainer.epoch < config.training.epochs:
            trainer.history.append(float(rng.lognormal()), trainer.learning_rate, rng.lognormal(size=10).tolist())
        return save_checkpoint(trainer)
    payload = torch.load(io.BytesIO(save_checkpoint(Trainer(Config().replace(epochs=100)))), weights_only=True)
    history = payload["history"]
    if kind == "memo bomb":  # one float referenced 7.5 million times
        history["losses"] = [1.5] * 7_500_000
        module = types.SimpleNamespace(Pickler=MemoFloats, __name__="pickle")
    elif kind == "distinct floats":  # as many as version 1 allowed at the limits, each written out, in lists
        for name in ("losses", "learning_rates"):
            history[name] = [float(i) for i in range(200_000)]
        history["grad_norms"] = {name: [float(i) for i in range(200_000)] for name in history["grad_norms"]}
        module = pickle
    else:  # "long history tensors": every column 100,000 epochs long (the cap), on a 100-epoch config
        for name in ("losses", "learning_rates"):
            history[name] = torch.arange(100_000, dtype=torch.float64)
        history["grad_norms"] = {name: torch.arange(100_000, dtype=torch.float64) for name in history["grad_norms"]}
        module = pickle
    buffer = io.BytesIO()
    torch.save(payload, buffer, pickle_module=module)
    return buffer.getvalue()


def _load_in_this_process(kind: str, path: str) -> None:
    import threading

    import psutil

    from core.checkpoint import CheckpointError, load_checkpoint

    with open(path, "rb") as file:
        data = file.read()
    process, done = psutil.Process(), threading.Event()
    before = process.memory_info().rss
    peak = [before]

    def sample():  # the process's earlier peak (imports) hides a load's from ru_maxrss
        while not done.wait(0.001):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        checkpoint = load_checkpoint(data)
        outcome = f"loaded, epoch {checkpoint.epoch:,}"
    except CheckpointError as error:
        outcome = str(error)[:80]
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    grown = (max(peak[0], process.memory_info().rss) - before) / 2**20
    print(f"| {kind} | {len(data) / 1e6:.1f} MB | {seconds:.2f} s | +{grown:.0f} MB peak | {outcome} |")


def checkpoint_memory() -> None:
    """Peak memory (RSS sampled every millisecond) that loading adds, each in a fresh interpreter."""
    import tempfile

    for kind in ("memo bomb", "distinct floats", "long history tensors", "largest"):
        with tempfile.NamedTemporaryFile(suffix=".pt") as file:
            file.write(_checkpoint_file(kind))
            file.flush()
            subprocess.run([sys.executable, "-m", "bench.hostile", "_load", kind, file.name], check=True)


SESSIONS = {  # name -> Config.replace arguments
    "lesson": {},
    "largest": {"hidden_sizes": [512] * 4, "coefficients": [0.1] * 20, "n_samples": 10_000},
}


def _session_in_this_process(name: str, threshold: str) -> None:
    """One session's run as the page makes it, in its own thread: a Trainer, 3 epochs, a frame of figures."""
    import gc
    import threading

    import plotly.io as pio
    import psutil

    from bench.frame_size import live_figures
    from core.config import Config, estimated_memory_mb
    from core.trainer import Trainer
    from server.process import return_freed_tensors_to_the_system

    if threshold == "fixed":
        return_freed_tensors_to_the_system()  # as app.py does
    config = Config().replace(**SESSIONS[name])
    warm = Trainer(Config())  # first-use costs (torch's thread pool, plotly's validators) outside the count
    pio.to_json(live_figures(warm)[2], validate=False)
    del warm
    process = psutil.Process()
    before = process.memory_info().rss / 2**20
    kept: list = []

    def session():
        trainer = Trainer(config)
        for _ in range(3):
            trainer.step()
            frame = [pio.to_json(figure, validate=False) for figure in live_figures(trainer)]
        kept.append((trainer, frame))

    thread = threading.Thread(target=session)
    thread.start()
    thread.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    alive = process.memory_info().rss / 2**20 - before
    kept.clear()
    gc.collect()
    gone = process.memory_info().rss / 2**20 - before
    print(f"| {name} | {threshold} | {estimated_memory_mb(config):.0f} MB | +{peak:.0f} MB | +{alive:.0f} MB | "
          f"+{gone:.0f} MB |")


def session_memory() -> None:
    """Per session: peak while training, held while the run stays on screen, left once it is gone."""
    print("| session | mmap threshold | estimated | peak | run kept | run gone |")
    for name in SESSIONS:
        for threshold in ("fixed", "glibc default"):
            subprocess.run([sys.executable, "-m", "bench.hostile", "_session", name, threshold], check=True)


# The One epoch link of the largest network, and the lesson's network walked to its last epoch.
LARGEST_LINK = ("hidden_sizes=512,512,512,512&n_samples=10000&reduction=mean&epochs=100000&coefficients="
                "0.2,-1.3,-0.5")
EPOCH_LINKS = {"largest network, epoch 99,999": f"{LARGEST_LINK}&epoch=99999",
               "largest network, epoch 5": f"{LARGEST_LINK}&epoch=5",
               "the lesson's network, epoch 20,000": "epochs=100000&epoch=20000"}


def _epoch_link_in_this_process(name: str, query: str) -> None:
    from urllib.parse import parse_qsl

    from streamlit.testing.v1 import AppTest

    from server.gate import calibration
    from server.limits import SERVER_LIMITS

    calibration(SERVER_LIMITS)  # once per server, not the link's cost
    at = AppTest.from_file(str(ROOT / "pages" / "epoch.py"), default_timeout=3_600)
    at.query_params.update(dict(parse_qsl(query)))
    cpu, wall = time.process_time(), time.perf_counter()
    at.run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    outcome = at.error[0].value[:60] + "…" if at.error else f"drew {at.subheader[0].value}"
    print(f"| {name} | {cpu:.2f} s | {wall:.2f} s | {outcome} |")


def epoch_links() -> None:
    """CPU seconds a One epoch link costs the server, each in a fresh interpreter (AppTest of the page)."""
    print("| link | CPU | wall | outcome |")
    for name, query in EPOCH_LINKS.items():
        subprocess.run([sys.executable, "-m", "bench.hostile", "_epoch", name, query], check=True,
                       stderr=subprocess.DEVNULL)


def replay_training_again() -> None:
    """The replay slider's first look at a fast short run: it trains the run again (in a slot, in turns)."""
    from core.config import Config
    from core.trainer import Trainer

    print("| run | epochs trained again | CPU | wall |")
    for name, config in {"lesson, 200 epochs": Config(), "xor, 200 epochs": Config().replace(dataset="xor")}.items():
        run = Trainer(config)
        while not run.done:
            run.step()
        deferred = run.snapshots_deferred
        cpu, wall = time.process_time(), time.perf_counter()
        steps = sum(1 for _ in run.training_again())
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"| {name} | {steps} (deferred: {deferred}) | {cpu:.3f} s | {wall:.3f} s |")


def closed_tab() -> None:
    """A real server and Chromium: a walk (and a Train page run) going, its tab closed; seconds until the
    server's CPU falls under 10% of a core, and CPU seconds it used from the close until then."""
    import psutil
    from playwright.sync_api import sync_playwright

    from bench.browser import Server, launch

    cases = {"One epoch, largest network to epoch 20": (f"epoch?{LARGEST_LINK}&epoch=20", "Training from the seed"),
             "Train, lesson's network, 100,000 epochs": ("train?epochs=100000&live=false", None)}
    print("| tab | closed to idle | CPU after the close |")
    with Server(ROOT) as server, sync_playwright() as playwright:
        server.wait_healthy()
        browser = launch(playwright)
        process = psutil.Process(server.process.pid)
        for name, (path, busy_text) in cases.items():
            page = browser.new_page()
            page.goto(f"{server.url}/{path}")
            if busy_text is None:
                page.click(".st-key-btn_train button:not([disabled])", timeout=120_000)
                busy_text = "Epoch 1"
            page.wait_for_function(f"() => document.body.innerText.includes({busy_text!r})", timeout=120_000)
            time.sleep(1.0)  # well into the training
            used = sum(process.cpu_times()[:2])
            closed = time.perf_counter()
            page.close()
            process.cpu_percent(None)
            while time.perf_counter() - closed < 60:
                time.sleep(0.1)
                if process.cpu_percent(None) < 10:
                    break
            print(f"| {name} | {time.perf_counter() - closed:.2f} s | {sum(process.cpu_times()[:2]) - used:.2f} s |")
        browser.close()


GROUPS = {"csv": csv_timings, "checkpoint": checkpoint_memory, "session": session_memory, "epoch": epoch_links,
          "replay": replay_training_again, "closed_tab": closed_tab}

if __name__ == "__main__":
    if sys.argv[1:2] == ["_session"]:
        _session_in_this_process(sys.argv[2], sys.argv[3])
        sys.exit()
    if sys.argv[1:2] == ["_epoch"]:
        _epoch_link_in_this_process(sys.argv[2], sys.argv[3])
        sys.exit()
    if sys.argv[1:2] == ["_load"]:
        _load_in_this_process(sys.argv[2], sys.argv[3])
        sys.exit()
    for group in sys.argv[1:] or GROUPS:
        GROUPS[group]()
