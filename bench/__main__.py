"""Module Lab's benchmark: every figure next to the baseline it is compared with, measured in the
same run as medians of several repetitions, printed as one Markdown table (progress goes to stderr).

    python -m bench                      # everything: ~15 minutes on 2 cores, longer when the app is slow
    python -m bench --quick              # a smoke run: one repetition, short runs
    python -m bench --only loops,cold    # some groups, of: loops live large long size boundary cold replay
                                         #   classroom server_class rerun
    python -m bench --only server_class --sessions 1,3   # the real server's class, with these class sizes
    python -m bench --only server_class --sessions 30 --class-epochs 10000   # longer runs: less of the machine's noise
    python -m bench --reps 5             # repetitions for every group
    python -m bench --app /tmp/patched   # serve and import a (patched) copy of the app instead

Raw samples go to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from bench import browser
from bench.loops import Run, time_in_process

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
GROUPS = ("loops", "live", "large", "long", "size", "boundary", "cold", "replay", "classroom", "server_class", "rerun")
BROWSER_GROUPS = {"live", "large", "long", "cold"}  # the others leave Chromium unlaunched
CLASS_SIZES = "1,5,10,30"
NO_TURNS_MS = 10**9  # MODULE_LAB_MAX_TURN_MS for a queue whose runs each keep the slot to their end
DEFAULT_REPS = {"loops": 5, "live": 3, "large": 2, "long": 1, "cold": 3, "replay": 5, "boundary": 5, "rerun": 3}


@dataclass
class Row:
    check: str
    config: str
    measured: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    result: str = "info"


def median(values: list[float]) -> float:
    return statistics.median(values)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "**MISS**"


def ratio_row(check: str, config: str, value: list[float], base: list[float], base_name: str, limit: float | None,
              detail: str = "") -> Row:
    """A timing against its baseline: medians, their ratio, and PASS/MISS against `limit` (None: info only)."""
    ratio = median(value) / median(base)
    return Row(check, config, f"{median(value):.3f} s{detail}", f"{median(base):.3f} s ({base_name})", f"{ratio:.2f}x",
               "—" if limit is None else f"<= {limit}x", "info" if limit is None else verdict(ratio <= limit))


def medians(trainings: list, *fields: str) -> list[float]:
    return [median([getattr(t, field) for t in trainings]) for field in fields]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Bench:
    """Runs the groups, keeping raw samples (for the JSON) and the table's rows."""

    def __init__(self, args: argparse.Namespace):
        self.app = Path(args.app).resolve()
        # Empty: torch's own default. Else pinned for every process the bench starts (loops and servers).
        self.env = {} if args.torch_threads is None else {name: str(args.torch_threads) for name in
                                                          ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        self.quick = args.quick
        self.class_epochs = args.class_epochs or (500 if args.quick else 5_000)
        sizes = args.sessions or class_sizes("1,5" if args.quick else CLASS_SIZES)
        self.class_sizes = [1] + [n for n in sizes if n != 1]  # one session alone first: the reference row
        self.reps = {group: args.reps or (1 if args.quick else n) for group, n in DEFAULT_REPS.items()}
        self.lesson = [Run("lesson 3-32-1, 100 samples", (32,), 100, epochs) for epochs in (200, 5000)]
        # The lesson's lr (1e-4) with the summed loss diverges on this network by epoch 5; 1e-6 trains all 200.
        self.large_run = Run("4x512 hidden, 10,000 samples, lr 1e-6", (512,) * 4, 10_000, 3 if args.quick else 200,
                             1e-6)
        self.long_run = Run("lesson 3-32-1, 100 samples", (32,), 100, 5_000 if args.quick else 100_000)
        self.samples: dict[str, object] = {}
        self.rows: list[Row] = []
        self.drawn: list[bool] = []  # per browser run: every live chart at the final epoch once idle
        self.browser = None

    # ---------------------------------------------------------------- loops ---

    def loop_times(self, kind: str, run: Run) -> list[float]:
        """Timings of a loop in fresh processes, measured once per bench run."""
        key = f"{kind} loop, {run.label}, {run.epochs} epochs"
        if key not in self.samples:
            log(f"{key}, {self.reps['loops']} reps")
            self.samples[key] = [time_in_process(kind, run, self.app, self.env) for _ in range(self.reps["loops"])]
        return self.samples[key]

    def loops(self) -> None:
        for run in self.lesson:
            for _ in range(self.reps["loops"]):  # interleaved, so drifting load hits both alike
                for kind in ("bare", "trainer"):
                    self.samples.setdefault(f"{kind} loop, {run.label}, {run.epochs} epochs", []).append(
                        time_in_process(kind, run, self.app, self.env))
            log(f"loops done for {run.epochs} epochs")
            self.rows.append(ratio_row("Trainer API (per-epoch recording, replay snapshots) vs bare loop",
                                       f"{run.label}, {run.epochs:,} epochs", self.loop_times("trainer", run),
                                       self.loop_times("bare", run), "bare loop", 1.1))

    # -------------------------------------------------------------- browser ---

    def browser_runs(self, server: browser.Server, runs: list[Run], reps: int) -> dict[tuple[str, bool], list]:
        """Each run live and with live drawing off, `reps` times, alternating which goes first."""
        found: dict[tuple[str, bool], list] = {}
        for rep in range(reps):
            for run in runs:
                for live in (True, False) if rep % 2 == 0 else (False, True):
                    training = browser.time_run(self.browser, server, run.query(live), run.epochs)
                    log(f"browser {run.label} {run.epochs} epochs live={live}: {training.seconds:.2f} s, "
                        f"{training.chart_updates} chart updates, last drawn {training.last_drawn}")
                    found.setdefault((f"{run.label} {run.epochs}", live), []).append(training)
        self.samples.setdefault("browser", []).extend(
            {"run": key, "live": live, **asdict(t)} for (key, live), ts in found.items() for t in ts)
        return found

    def live_vs_off(self, found: dict, run: Run, limit: float | None) -> Row:
        key = f"{run.label} {run.epochs}"
        live, off = found[key, True], found[key, False]
        cpu = [medians(ts, "server_cpu", "browser_cpu") for ts in (live, off)]
        detail = (f" (CPU s, live vs off: server {cpu[0][0]:.1f} vs {cpu[1][0]:.1f}, "
                  f"browser {cpu[0][1]:.1f} vs {cpu[1][1]:.1f})")
        return ratio_row("Browser: live charts vs live drawing off", f"{run.label}, {run.epochs:,} epochs",
                         [t.seconds for t in live], [t.seconds for t in off], "live=false", limit, detail)

    def warm_up(self, server: browser.Server) -> None:
        """One untimed run, so that the server's lazy imports and first-run costs don't count."""
        server.wait_healthy()
        browser.time_run(self.browser, server, self.lesson[0].query(True), self.lesson[0].epochs)

    def live(self) -> None:
        with browser.Server(self.app, env=self.env) as server:
            self.warm_up(server)
            found = self.browser_runs(server, self.lesson, self.reps["live"])
        for run, limit in zip(self.lesson, (None, 1.2)):
            self.rows.append(self.live_vs_off(found, run, limit))
        for run, limit in zip(self.lesson, (None, 1.5)):
            live = found[f"{run.label} {run.epochs}", True]
            start, final = medians(live, "start", "final_render")
            self.rows.append(ratio_row("End to end: click to last frame (live) vs bare loop",
                                       f"{run.label}, {run.epochs:,} epochs", [t.seconds for t in live],
                                       self.loop_times("bare", run), "bare loop, plain Python", limit,
                                       f" (click to first epoch shown {start:.2f} s; "
                                       f"last counter to last chart {final:.2f} s)"))
        self.last_drawn(found)

    def large(self) -> None:
        with browser.Server(self.app, env=self.env) as server:
            self.warm_up(server)
            found = self.browser_runs(server, [self.large_run], self.reps["large"])
        self.rows.append(self.live_vs_off(found, self.large_run, 1.2))
        self.last_drawn(found)

    def last_drawn(self, found: dict) -> None:
        self.drawn.extend(t.last_drawn for ts in found.values() for t in ts)

    def long(self) -> None:
        """Memory before and after a very long live run, and how often the browser saw a new frame."""
        run = self.long_run
        with browser.Server(self.app, env=self.env) as server:
            server.wait_healthy()
            page, wire = browser.open_train(self.browser, server, run.query(True))
            fresh = server.rss_mb()
            self.warm_up(server)
            before = server.rss_mb()
            log(f"long run: {run.epochs:,} epochs live, server at {before:.0f} MB")
            training = browser.train(page, wire, server, run.epochs)
            after = server.rss_mb()
            page.close()
        self.samples["long"] = {"fresh_mb": fresh, "before_mb": before, "after_mb": after, **asdict(training)}
        config = f"{run.label}, {run.epochs:,} epochs, live ({training.seconds:.1f} s)"
        rate = training.chart_updates / training.seconds
        self.rows.append(Row("Frames: distinct chart updates seen per second", config,
                             f"{rate:.1f}/s ({training.chart_updates} shown in {training.seconds:.1f} s; "
                             f"{training.frames_sent} sent; CPU s: server {training.server_cpu:.1f}, "
                             f"browser {training.browser_cpu:.1f})", target=">= 15/s", result=verdict(rate >= 15)))
        self.rows.append(Row("Frames: websocket bytes received per frame sent (cross-check)", config,
                             f"{training.websocket_bytes / max(1, training.frames_sent) / 1000:.1f} KB"))
        self.last_drawn({"long": [training]})
        growth = after - before
        self.rows.append(Row("Memory: server RSS growth over the run", config,
                             f"{growth:+.1f} MB ({before:.0f} -> {after:.0f} MB)",
                             f"{before:.0f} MB after a 200-epoch warm-up ({fresh:.0f} MB before it)",
                             target="<= 50 MB", result=verdict(growth <= 50)))

    def cold(self) -> None:
        minimal = browser.minimal_app_dir()
        app, bare = [], []  # (interactive, healthy) seconds after launch
        for _ in range(self.reps["cold"]):
            app.append(browser.cold_start(self.browser, self.app, "app.py", "/train?" + self.lesson[1].query(True)))
            bare.append(browser.cold_start(self.browser, minimal, "app.py", "/"))
            log(f"cold start: app {app[-1][0]:.2f} s, minimal {bare[-1][0]:.2f} s")
        self.samples["cold"] = {"app": app, "minimal": bare}
        shutil.rmtree(minimal)
        healthy = [median([h for _, h in runs]) for runs in (app, bare)]
        self.rows.append(ratio_row("Cold start: server launch to Train button enabled", "the Train page, lesson config",
                                   [t for t, _ in app], [t for t, _ in bare], "minimal app: streamlit + import torch",
                                   1.5, f" (server answering after {healthy[0]:.2f} s vs {healthy[1]:.2f} s)"))

    # ------------------------------------------------------------ classroom ---

    def server_caps(self):
        """The limits (core.config.Limits) a server started by this bench reads: MODULE_LAB_* from its environment."""
        from core.config import Limits

        return Limits.from_mapping({**os.environ, **self.env})

    def classroom(self) -> None:
        """N sessions training the lesson's config at once through the server's queue (bench/classroom.py):
        in turns, as the app does, and, for comparison, each run to its end before the next starts."""
        sys.path.insert(0, str(self.app))
        from core.config import Config
        from core.trainer import Trainer

        limits, epochs = self.server_caps(), self.class_epochs
        expected = Trainer(Config().replace(epochs=epochs))
        while not expected.done:
            expected.step()

        def alone(runs: int) -> list[dict]:
            return class_run(self.app, 1, epochs, limits.max_concurrent_runs, self.env, limits.max_turn_ms, runs)

        for n in self.class_sizes:
            if n == 1:
                results = {limits.max_turn_ms: median_run(alone(3))}
                around = [results[limits.max_turn_ms]]
            else:  # both ways, between the same runs alone just before and after (around_class)
                results, around = around_class(n, alone, lambda: {
                    turn_ms: class_run(self.app, n, epochs, limits.max_concurrent_runs, self.env, turn_ms)[0]
                    for turn_ms in (limits.max_turn_ms, NO_TURNS_MS)})
            baseline = epochs / one_after_another(around)["seconds"]
            for turn_ms, result in results.items():
                self.samples[f"classroom {n}" + ("" if turn_ms == limits.max_turn_ms else " no turns")] = {
                    **result, "alone": around}
                self.rows.append(classroom_row(result, expected.history.losses[-1], baseline,
                                               turns=turn_ms != NO_TURNS_MS))

    def server_class(self) -> None:
        """N websocket clients on the real server, training the lesson's config at once (bench/server_class.py)."""
        sys.path.insert(0, str(self.app))
        from bench import server_class

        # Runs of ~30 turns each by default: a run's epochs/s is then the machine's speed averaged over its
        # turns, and a run that needs one turn more than another finishes only a round later. Shorter runs
        # measure the machine's noise.
        epochs = self.class_epochs
        expected = server_class.expected_loss(epochs)
        with browser.Server(self.app, env=self.env) as server:
            server.wait_healthy()
            server_class.run_sync(server_class.one_run(server.url, 10))  # warm-up: torch imported, first-run costs paid
            limits = self.server_caps()

            def alone(runs: int) -> list[dict]:
                return [server_class.class_run(server.url, server.process.pid, 1, epochs) for _ in range(runs)]

            for n in self.class_sizes:
                if n == 1:
                    result = median_run(alone(3))
                else:
                    result, around = around_class(
                        n, alone, lambda: server_class.class_run(server.url, server.process.pid, n, epochs))
                    result["alone"] = around
                log(server_class.describe(result, expected))
                # The machine's own noise: the same runs through the same queue in a plain process, just after.
                plain = (class_run(self.app, n, epochs, limits.max_concurrent_runs, self.env, limits.max_turn_ms)[0]
                         if n > 1 else None)
                self.samples[f"server class {n}"] = {**result, "plain": plain}
                self.rows += server_class_rows(result, expected, one_after_another(result.get("alone", [result])),
                                               limits.max_concurrent_runs, plain)

    # ----------------------------------------------------------------- size ---

    def size(self) -> None:
        sys.path.insert(0, str(self.app))
        from bench.frame_size import frame_bytes
        from core.config import LIMITS, Config

        lesson = Config().replace(epochs=self.lesson[1].epochs)
        largest = Config().replace(hidden_sizes=[LIMITS.max_units] * LIMITS.max_hidden_layers,
                                   coefficients=[0.1] * LIMITS.max_features, epochs=LIMITS.max_epochs)
        for name, config, trained in (("lesson 3-32-1", lesson, None), ("largest allowed", largest, 3)):
            size = frame_bytes(config, trained)
            self.samples[f"frame bytes {name}"] = size
            sizes = "-".join(map(str, config.layer_sizes()))
            self.rows.append(Row("Frame size: chart JSON per frame (plotly.io.to_json of the 4 live figures)",
                                 f"{name} ({sizes}), {config.training.epochs:,} epochs",
                                 f"{size / 1000:.1f} KB", target="<= 100 KB", result=verdict(size <= 100_000)))

    # ------------------------------------------------------------- boundary ---

    def boundary(self) -> None:
        """A two-input classifier's decision boundary and hidden units (bench/boundary.py): bytes and
        time per frame, alone and beside the four charts every live frame already has."""
        sys.path.insert(0, str(self.app))
        from bench.boundary import LARGEST, LESSON, frame_cost
        from bench.frame_size import frame_bytes
        from core.config import LIMITS, Config

        largest_rest = Config().replace(hidden_sizes=[LIMITS.max_units] * LIMITS.max_hidden_layers,
                                        coefficients=[0.1, -0.1], epochs=LIMITS.max_epochs)
        for network, rest in ((LESSON, Config().replace(coefficients=[0.1, -0.1], epochs=5000)),
                              (LARGEST, largest_rest)):
            cost = frame_cost(network, reps=self.reps["boundary"])
            others = frame_bytes(rest, 2)
            self.samples[f"boundary {network.label}"] = {**asdict(cost), "other_charts_bytes": others}
            config = f"{network.label}, grid {cost.grid_size}x{cost.grid_size}"
            self.rows.append(Row("Boundary: chart JSON per frame (decision boundary + hidden units)", config,
                                 f"{cost.bytes / 1000:.1f} KB "
                                 f"({cost.boundary_bytes / 1000:.1f} + {cost.units_bytes / 1000:.1f})",
                                 target="<= 100 KB", result=verdict(cost.bytes <= 100_000)))
            self.rows.append(Row("Boundary: server time per frame (grid forward pass, figures, JSON)", config,
                                 f"{cost.ms:.0f} ms (forward pass {cost.forward_ms:.0f} ms): at most "
                                 f"{150 / cost.ms:.1f} frames/s in 15% of the wall time"))
            # Drawn with the other live charts: the boundary alone (the units left to a paused or finished
            # run), or both figures.
            for what, size in (("decision boundary", cost.boundary_bytes), ("boundary and hidden units", cost.bytes)):
                total = size + others
                self.rows.append(Row(f"Boundary: the {what} in one frame with the 4 live charts",
                                     f"{config}, {rest.training.epochs:,} epochs",
                                     f"{total / 1000:.1f} KB ({others / 1000:.1f} KB without them)",
                                     target="<= 100 KB", result=verdict(total <= 100_000)))

    # ---------------------------------------------------------------- rerun ---

    def rerun(self) -> None:
        """A Train page rerun's script CPU with the start view shared across sessions, against each
        session building its own (bench/rerun.py): what every click and page open of a class costs."""
        sys.path.insert(0, str(self.app))
        from bench.rerun import QUERIES, compare

        reruns = 5 if self.quick else 20
        for name, query in QUERIES.items():
            samples = compare(query, reruns, self.reps["rerun"])
            self.samples[f"rerun script ms {name}"] = samples
            shared, alone = (median(samples[key]) for key in ("shared", "per session"))
            log(f"rerun {name}: {shared:.1f} ms shared, {alone:.1f} ms per session")
            self.rows.append(Row("Train page rerun: script CPU (thread time), the start view shared across sessions",
                                 f"{name}, median of {reruns} reruns x {self.reps['rerun']} rounds",
                                 f"{shared:.1f} ms", f"{alone:.1f} ms (each session builds its own)",
                                 f"{shared / alone:.2f}x", "< 1x", verdict(shared < alone)))

    # --------------------------------------------------------------- replay ---

    def replay(self) -> None:
        """What replay's snapshots cost: time against the Trainer without them, and memory per run."""
        sys.path.insert(0, str(self.app))
        from bench.replay import budget_mb, snapshot_memory
        from core.config import LIMITS, Config

        for run in self.lesson:
            key = f"trainer_no_snapshots loop, {run.label}, {run.epochs} epochs"
            for _ in range(self.reps["replay"]):  # interleaved, so drifting load hits both alike
                for kind in ("trainer", "trainer_no_snapshots"):
                    self.samples.setdefault(f"{kind} loop, {run.label}, {run.epochs} epochs", []).append(
                        time_in_process(kind, run, self.app, self.env))
            # Info: the target is the loops group's Trainer (snapshots included) against the bare loop.
            self.rows.append(ratio_row("Replay snapshots: Trainer with vs without them",
                                       f"{run.label}, {run.epochs:,} epochs",
                                       self.samples[f"trainer loop, {run.label}, {run.epochs} epochs"],
                                       self.samples[key], "Trainer without snapshots", None))
        largest = Config().replace(hidden_sizes=[LIMITS.max_units] * LIMITS.max_hidden_layers,
                                   coefficients=[0.1] * LIMITS.max_features, epochs=LIMITS.max_epochs)
        for name, config, epochs in (("lesson 3-32-1, 200 epochs", Config(), None),
                                     ("lesson 3-32-1, 5,000 epochs", Config().replace(epochs=5000), None),
                                     ("largest allowed (20-512x4-1), 12 epochs", largest.replace(epochs=12), None)):
            count, size = snapshot_memory(config, epochs)
            self.samples[f"replay memory {name}"] = {"snapshots": count, "bytes": size}
            self.rows.append(Row("Memory: replay snapshots kept per run (measured nbytes)", name,
                                 f"{size / 2**20:.2f} MB in {count} snapshots", target=f"<= {budget_mb():.0f} MB",
                                 result=verdict(size <= budget_mb() * 2**20)))

    # ------------------------------------------------------------------ run ---

    def run(self, groups: list[str]) -> int:
        from playwright.sync_api import sync_playwright

        from core.device import torch_threads

        errors = 0
        environ = {**os.environ, **self.env}  # what the servers and loops the bench starts get
        threads = (f"{torch_threads(environ)} per training run (MODULE_LAB_TORCH_THREADS), "
                   f"OMP_NUM_THREADS {environ.get('OMP_NUM_THREADS', 'unset')}")
        load = os.getloadavg()[0]
        with sync_playwright() as playwright:
            if BROWSER_GROUPS & set(groups):
                self.browser = browser.launch(playwright)
            for group in groups:
                log(f"group {group}")
                try:
                    getattr(self, group)()
                except Exception as error:  # one broken group still leaves the others' figures
                    errors += 1
                    self.rows.append(Row(f"{group}: ERROR", "",
                                         f"{type(error).__name__}: {error}".splitlines()[0][:200], result="ERROR"))
            if self.browser is not None:
                self.browser.close()
        self.rows.insert(0, Row("Setup", f"{os.cpu_count()} CPUs, torch threads: {threads}",
                                f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end"))
        if self.drawn:
            self.rows.append(Row("Frames: last epoch drawn in every chart once idle", "every browser run above",
                                 f"{sum(self.drawn)} of {len(self.drawn)} runs", target="always",
                                 result=verdict(all(self.drawn))))
        return errors


def class_run(app: Path, n: int, epochs: int, slots: int, env: dict[str, str], turn_ms: int,
              times: int = 1) -> list[dict]:
    """bench/classroom.py in a fresh process, so its RSS is one server's: the class `times` times over."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", "bench.classroom", str(n), str(epochs), str(slots), str(turn_ms),
                           str(times)], cwd=app, env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.strip().splitlines()[-times:]]


def classroom_row(result: dict, expected_loss: float, alone: float, turns: bool) -> Row:
    """The in-process class's row: with `turns` (the app's way) against the targets, without for comparison."""
    n, sessions = result["n"], result["sessions"]
    epochs = sessions[0]["epochs"]
    rates = sorted(s["epochs"] / s["training"] for s in sessions)
    waits = sorted(s["wait"] for s in sessions)
    throughput = n * epochs / result["seconds"]
    correct = sum(s["loss"] == expected_loss for s in sessions)
    spread, kept = rates[-1] / rates[0], throughput / alone
    log(f"classroom {n} sessions{'' if turns else ', no turns'}: {result['seconds']:.1f} s, "
        f"{result['rss_mb']:.0f} MB, spread {spread:.2f}")
    how = f"in turns of {result['turn_ms']} ms" if turns else "each run to its end (no turns), for comparison"
    return Row(
        f"Classroom (in-process threads, no browser): {n} sessions at once, K={result['slots']}, {how}",
        f"lesson 3-32-1, {epochs:,} epochs each",
        f"done in {result['seconds']:.1f} s; RSS {result['rss_mb']:.0f} MB; epochs/s per session, first epoch to "
        f"last, {min_median_max(rates)} (min/median/max, spread {spread:.2f}); queue wait (to the first epoch) "
        f"{min_median_max(waits, ' s', 1)}; total {throughput:.0f} epochs/s; final loss as expected {correct}/{n}",
        f"{alone:.0f} epochs/s ({alone_text(n)})",
        f"{kept:.2f}x",
        *(("spread <= 1.25, total >= 0.9x, RSS < 1 GB, all losses",
           verdict(spread <= 1.25 and kept >= 0.9 and result["rss_mb"] < 1000 and correct == n)) if turns else ()))


Result = TypeVar("Result")


def around_class(n: int, alone: Callable[[int], list[dict]],
                 run_class: Callable[[], Result]) -> tuple[Result, list[dict]]:
    """A class of `n` and its baseline, the same `n` runs alone one after another: half just before it
    and half just after. This VM's speed drifts 10-20% within a minute and swings run to run, so a
    few short runs, or runs minutes away, misread a class by as much; the same work alone, on both
    sides of it, spans as long as the class and cancels a steady drift."""
    before = alone((n + 1) // 2)
    result = run_class()
    return result, before + alone(n // 2)


def one_after_another(runs: list[dict]) -> dict:
    """Sessions run alone one after another, as one run of their mean time."""
    return {"seconds": sum(run["seconds"] for run in runs) / len(runs)}


def median_run(runs: list[dict]) -> dict:
    """Of sessions run alone, the one whose time is the median (the faster middle one of an even count)."""
    return sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]


def alone_text(n: int) -> str:
    return (f"the same {n} runs alone one after another, {(n + 1) // 2} just before and {n // 2} just after"
            if n > 1 else "1 session alone")


def min_median_max(values: list[float], unit: str = "", digits: int = 0) -> str:
    if not values:
        return "—"
    values = sorted(values)
    return "/".join(f"{v:.{digits}f}" for v in (values[0], median(values), values[-1])) + unit


def server_class_rows(result: dict, expected: str, alone: dict, slots: int, plain: dict | None) -> list[Row]:
    """A class size's rows: the class as a whole, fairness between its sessions, and a new visitor.

    `alone`: the same runs alone one after another, around it (around_class). `plain`: bench/classroom.py's
    result for the same class (the same runs through the same queue in a plain process, no server): the
    spread the machine itself gives identical runs, beside the server's (other processes on a shared
    machine swing a run's rate). Per second of server CPU takes most of that load out, not all of it."""
    n, epochs, sessions = result["n"], result["epochs"], result["sessions"]
    values = {key: [s[key] for s in sessions]
              for key in ("ready", "rate", "cpu_rate", "wall_rate", "wait", "frames", "deltas")}
    correct = sum(s["loss"] == expected and s["epochs"] == str(epochs) for s in sessions)
    throughput, alone_throughput = n * epochs / result["seconds"], epochs / alone["seconds"]
    kept = throughput / alone_throughput
    config = f"lesson 3-32-1, {epochs:,} epochs each, live=false, K={slots}"
    others = result["machine_cores"] - result["server_cores"]
    rows = [Row(
        f"Class on the real server (websocket clients, no browser): {n} session{'s' if n > 1 else ''} at once",
        config,
        f"done in {result['seconds']:.1f} s, total {throughput:.0f} epochs/s; "
        f"peak server RSS {result['rss_mb']:.0f} MB; "
        f"final loss as expected {correct}/{n}; pages ready, all opened at once, "
        f"{min_median_max(values['ready'], ' s', 2)} "
        f"(min/median/max); queue wait (click to first epoch) "
        f"{min_median_max(values['wait'], ' s', 1)}; deltas delivered per session while training "
        f"{min_median_max(values['frames'])}, click to outcome {min_median_max(values['deltas'])}; cores busy: server "
        f"{result['server_cores']:.2f}, other processes {others:.2f} of {os.cpu_count()}; clients' CPU "
        f"{result['client_cpu']:.1f} s",
        f"{alone_throughput:.0f} epochs/s ({alone_text(n)})",
        f"{kept:.2f}x", "total >= 0.9x, RSS < 1 GB, every loss",
        verdict(kept >= 0.9 and result["rss_mb"] < 1024 and correct == n))]
    if plain is not None:
        plain_rates = [s["epochs"] / s["training"] for s in plain["sessions"]]
        spread, plain_spread = (max(v) / min(v) for v in (values["rate"], plain_rates))
        rows.append(Row(
            f"Fairness: epochs per second of each of {n} sessions, its first epoch to its last (in turns of "
            f"{plain['turn_ms']} ms: the others' turns in between count)", config,
            f"{min_median_max(values['rate'])} (min/median/max, spread {spread:.2f}); per second of server CPU "
            f"{min_median_max(values['cpu_rate'])} (spread {max(values['cpu_rate']) / min(values['cpu_rate']):.2f}); "
            f"from the click, queue included, {min_median_max(values['wall_rate'])}",
            f"the same {n} runs through the queue in a plain process, just after: {min_median_max(plain_rates)} "
            f"(spread {plain_spread:.2f})", f"{spread / plain_spread:.2f}x the plain spread",
            "spread (max/min) <= 1.25", verdict(spread <= 1.25)))
    visitor = result["visitor_ready"]
    rows.append(Row(f"A new visitor's Train page ready (script run finished) while {n} train", config,
                    f"{visitor:.2f} s" + ("" if result["visitor_during_training"] else " (the class had finished)"),
                    "22 s (before the queue: 30 sessions, browsers)", target="<= 5 s",
                    result=verdict(visitor <= 5)))
    return rows


def table(rows: list[Row]) -> str:
    header = ["check", "config", "measured", "baseline (same run)", "ratio", "target", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v).replace("|", "/") for v in asdict(row).values()) + " |" for row in rows]
    return "\n".join(lines)


def class_sizes(text: str) -> list[int]:
    """--sessions: "1,5,10" -> [1, 5, 10]."""
    sizes = [int(n) for n in text.split(",") if n.strip().isdigit()]
    if len(sizes) != len(text.split(",")) or 0 in sizes:
        raise argparse.ArgumentTypeError(f"expected whole numbers from 1 up, comma-separated, got {text!r}")
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 repetition, short large and long runs")
    parser.add_argument("--only", default=",".join(GROUPS),
                        help=f"comma-separated groups to run, of: {', '.join(GROUPS)} (default: all)")
    parser.add_argument("--reps", type=int, default=None,
                        help="repetitions for every group (default: " +
                             ", ".join(f"{g} {n}" for g, n in DEFAULT_REPS.items()) + ")")
    parser.add_argument("--app", default=str(ROOT), help="app directory to serve and import (default: this repo)")
    parser.add_argument("--sessions", type=class_sizes, default=None,
                        help=f"class sizes for classroom and server_class, comma-separated; 1 is always run first, as "
                             f"a reference row (default: {CLASS_SIZES}; --quick: 1,5)")
    parser.add_argument("--class-epochs", type=int, default=None,
                        help="epochs of each classroom and server_class run (default: 5,000; --quick: 500)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="pin OMP/MKL threads in every process the bench starts (default: torch's own choice)")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s) {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    started = time.perf_counter()
    log(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, app {bench.app}")
    errors = bench.run([g for g in GROUPS if g in args.only.split(",")])
    bench.samples["meta"] = {"seconds": time.perf_counter() - started, "load_average": os.getloadavg(),
                             "argv": sys.argv[1:]}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(bench.samples, indent=1, default=str))
    print(table(bench.rows))
    log(f"done in {time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.1f}; "
        f"raw samples in {RESULTS}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
