"""bench/: its command line, the frame-size bound it reports, and the websocket client its
server_class group drives the real server with. No timings here: `python -m bench` takes them."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import GROUPS, around_class, median_run, one_after_another, parse_args
from bench.boundary import LARGEST, LESSON, frame_cost
from bench.frame_size import frame_bytes
from bench.server_class import expected_loss, one_run, run_sync
from browser_support import LOCAL_OPTIONS, StreamlitServer
from core.config import LIMITS, Config

ROOT = Path(__file__).resolve().parents[1]


def test_help_prints_usage():
    done = subprocess.run([sys.executable, "-m", "bench", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--quick" in done.stdout


def test_unknown_group_is_refused():
    with pytest.raises(SystemExit):
        parse_args(["--only", "loops,nope"])


@pytest.mark.parametrize("sizes", ["1,x", "0,5", "5,"])
def test_class_sizes_must_be_whole_numbers_from_one(sizes):
    with pytest.raises(SystemExit):
        parse_args(["--sessions", sizes])


def test_a_class_is_read_against_the_same_runs_alone_half_just_before_and_half_just_after():
    calls = []

    def alone(runs):  # 3 s each before the class, 4 s after
        calls.append(runs)
        return [{"seconds": 4.0 if "class" in calls else 3.0} for _ in range(runs)]

    result, around = around_class(5, alone, lambda: calls.append("class") or {"seconds": 20.0})
    assert calls == [3, "class", 2] and result == {"seconds": 20.0}
    assert one_after_another(around) == {"seconds": (3 * 3.0 + 2 * 4.0) / 5}  # their mean, as one run


def test_a_single_sessions_row_is_the_median_of_its_runs_the_faster_of_two_middles():
    runs = [{"seconds": s} for s in (3.8, 3.26, 3.62, 3.37)]
    assert median_run(runs)["seconds"] == 3.37
    assert median_run(runs[:3])["seconds"] == 3.62


def test_the_real_server_class_is_a_group_and_always_runs_one_session_alone_first():
    from bench.__main__ import Bench

    assert "server_class" in GROUPS
    assert Bench(parse_args(["--only", "server_class", "--sessions", "3,30"])).class_sizes == [1, 3, 30]


@pytest.mark.timeout(120)  # a real server: its start, torch's import on the first page, a 5-epoch run
def test_a_websocket_client_trains_a_session_on_the_real_server(tmp_path):
    """What the server_class group counts on: the Train page over Streamlit's own protocol, a press
    on Train, and the run's outcome read back from the page, equal to a plain Trainer run's."""
    with StreamlitServer(ROOT, tmp_path / "streamlit.log", options=LOCAL_OPTIONS) as server:
        server.wait_healthy()
        run = run_sync(one_run(server.url, 5))
    assert (run["loss"], run["epochs"]) == (expected_loss(5), "5")
    assert run["frames"] >= 1 and run["most_ahead"] == 0


@pytest.mark.parametrize("config,trained", [
    (Config().replace(epochs=5000), None),  # the lesson, trained for real
    (Config().replace(hidden_sizes=[LIMITS.max_units] * LIMITS.max_hidden_layers,
                      coefficients=[0.1] * LIMITS.max_features, epochs=LIMITS.max_epochs), 2),  # the largest allowed
])
def test_a_live_frame_stays_under_100_kb(config, trained):
    assert frame_bytes(config, trained) <= 100_000


def test_the_boundary_group_is_known():
    assert "boundary" in GROUPS and parse_args(["--only", "boundary"]).only == "boundary"


@pytest.mark.parametrize("network", [LESSON, LARGEST], ids=["lesson", "largest"])
def test_a_boundary_frame_stays_well_under_100_kb(network):
    """The boundary and hidden units of the largest network and 10,000 points: about a fifth of a frame's budget."""
    cost = frame_cost(network, reps=1)
    assert cost.grid_size == (80 if network is LESSON else 25)
    assert cost.bytes <= 30_000, cost


def test_the_rerun_group_times_both_ways_and_leaves_the_shared_figures_as_they_were():
    from bench.rerun import compare
    from server import figure_cache

    kept, bound = figure_cache._kept, figure_cache.KEPT
    samples = compare({}, reruns=1, rounds=1)
    assert set(samples) == {"shared", "per session"} and all(len(ms) == 1 and ms[0] > 0 for ms in samples.values())
    assert figure_cache._kept is kept and figure_cache.KEPT == bound and "rerun" in GROUPS


def test_the_in_process_class_takes_turns_as_the_page_does_and_every_loss_is_a_lone_runs():
    """bench/classroom.py: three runs on one slot, in turns of 5 ms and each to its end. Each run's
    final loss equals a lone run's either way; without turns no two trained at once, in turns
    every run had started before any ended."""
    from bench.__main__ import NO_TURNS_MS
    from bench.classroom import run_class
    from core.trainer import Trainer

    config = Config().replace(epochs=300)
    alone = Trainer(config)
    while not alone.done:
        alone.step()
    turns, whole = (run_class(3, config, slots=1, turn_ms=turn_ms) for turn_ms in (5, NO_TURNS_MS))
    for result in (turns, whole):
        assert [(s["loss"], s["epochs"]) for s in result["sessions"]] == [(alone.history.losses[-1], 300)] * 3

    def spans(result: dict) -> list[tuple[float, float]]:
        return sorted((s["ended"] - s["training"], s["ended"]) for s in result["sessions"])

    assert all(end <= start for (_, end), (start, _) in zip(spans(whole), spans(whole)[1:]))
    assert max(start for start, _ in spans(turns)) < min(end for _, end in spans(turns))
