"""bench/: its command line, and the frame-size bound it reports. No timings here: `python -m bench` takes them."""

import subprocess
import sys

import pytest

from bench.__main__ import parse_args
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
