"""A Train page rerun's script CPU, with the start view shared across sessions (server/figure_cache.py)
or built by each session: every click and every page open of a class pays it, while a run trains.

    python -m bench.rerun    # the lesson and xor, 20 reruns each way, interleaved
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "pages" / "train.py"
QUERIES = {"lesson 3-32-1": {}, "xor, one hidden layer of 4": {"dataset": "xor", "hidden_sizes": "4"}}


@contextmanager
def timed_script_runs() -> Iterator[list[float]]:
    """The CPU seconds of each script run started inside the block, timed in its own thread."""
    from streamlit.runtime.scriptrunner import script_runner

    seconds: list[float] = []
    run_script = script_runner.exec_func_with_error_handling

    def timed(*args, **kwargs):
        started = time.thread_time()
        try:
            return run_script(*args, **kwargs)
        finally:
            seconds.append(time.thread_time() - started)

    script_runner.exec_func_with_error_handling = timed
    try:
        yield seconds
    finally:
        script_runner.exec_func_with_error_handling = run_script


@contextmanager
def start_view_shared(shared: bool) -> Iterator[None]:
    """Keep figures as the app does, or keep none (and drop what is kept): each session then builds
    its own."""
    from server import figure_cache

    bound, kept = figure_cache.KEPT, figure_cache._kept
    if not shared:
        figure_cache.KEPT, figure_cache._kept = 0, type(kept)()
    try:
        yield
    finally:
        figure_cache.KEPT, figure_cache._kept = bound, kept


def script_ms(query: dict[str, str], reruns: int, shared: bool) -> float:
    """Median script CPU (ms) of `reruns` reruns of the Train page, after three to warm up."""
    from streamlit.testing.v1 import AppTest

    page = AppTest.from_file(str(PAGE), default_timeout=60)
    page.query_params.update(query)
    with start_view_shared(shared):
        for _ in range(3):
            page.run()
        with timed_script_runs() as seconds:
            for _ in range(reruns):
                page.run()
    if page.exception:
        raise RuntimeError(f"the Train page raised: {page.exception[0].message}")
    return 1000 * statistics.median(seconds)


def compare(query: dict[str, str], reruns: int = 20, rounds: int = 3) -> dict[str, list[float]]:
    """Per round, the median ms with the start view shared and built per session; interleaved, so
    drifting load hits both alike."""
    samples: dict[str, list[float]] = {"shared": [], "per session": []}
    for _ in range(rounds):
        for shared, key in ((True, "shared"), (False, "per session")):
            samples[key].append(script_ms(query, reruns, shared))
    return samples


def main() -> None:
    sys.path.insert(0, str(PAGE.parents[1]))
    for name, query in QUERIES.items():
        samples = compare(query)
        shared, alone = (statistics.median(samples[key]) for key in ("shared", "per session"))
        print(f"{name}: {shared:.1f} ms shared, {alone:.1f} ms built per session ({shared / alone:.2f}x)")


if __name__ == "__main__":
    main()
