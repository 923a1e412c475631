"""The server settings in .streamlit/config.toml that the README's "Limits and safety" relies on."""

import tomllib
from pathlib import Path

from streamlit import config as streamlit_config

CONFIG = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())


def test_a_closed_tabs_session_is_dropped_after_30_seconds_not_120():
    assert "server.disconnectedSessionTTL" in streamlit_config._config_options_template  # an option Streamlit reads
    assert CONFIG["server"]["disconnectedSessionTTL"] == 30


def test_magic_is_off_so_a_new_session_does_not_pay_for_rewriting_each_page():
    assert "runner.magicEnabled" in streamlit_config._config_options_template
    assert CONFIG["runner"]["magicEnabled"] is False
