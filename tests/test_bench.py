"""bench/: its command line, and the frame-size bound it reports. No timings here: `python -m bench` takes them."""

import subprocess
import sys

import pytest

from bench.__main__ import GROUPS, parse_args
from bench.boundary import LARGEST, LESSON, frame_cost
from bench.frame_size import frame_bytes
from core.config import LIMITS, Config


def test_help_prints_usage():
    done = subprocess.run([sys.executable, "-m", "bench", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--quick" in done.stdout


def test_unknown_group_is_refused():
    with pytest.raises(SystemExit):
        parse_args(["--only", "loops,nope"])


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
