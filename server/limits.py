"""The server's limits: a config's (core.config.Limits) and the server's own, each overridden by Streamlit
secrets, then by environment variables, MODULE_LAB_<NAME>."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import streamlit as st

from core.config import ConfigError, Limits


@dataclass(frozen=True)
class ServerLimits(Limits):
    max_run_seconds: int = 600  # estimated training time of one run on this machine (server/budget.py)
    max_wall_seconds: int = 900  # a run stops after this much training, over all its resumes
    # runs training at once; one core is left for serving pages, so they keep loading while a class
    # trains on the others
    max_concurrent_runs: int = field(default_factory=lambda: max(1, (os.cpu_count() or 1) - 1))
    # a run trains this long at most while another waits for a slot, then goes to the back of the
    # line (server/admission.py); a class's runs all move along, and a long one holds up no one
    max_turn_ms: int = 100


SERVER_LIMITS = ServerLimits()


def server_limits() -> tuple[ServerLimits, ConfigError | None]:
    """The server's limits from its secrets and environment, and the error of a bad override: then the
    built-in limits stand, so a typo cannot lift them."""
    secrets = dict(st.secrets) if st.secrets.load_if_toml_exists() else {}
    try:
        return ServerLimits.from_mapping({**secrets, **os.environ}), None
    except ConfigError as error:
        return ServerLimits(), error
