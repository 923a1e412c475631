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


def test_streamlits_collection_after_each_run_is_off_and_the_app_collects_instead(monkeypatch):
    """app.py collects after a script run (server/process.py collect_garbage) only where Streamlit does not."""
    from streamlit.testing.v1 import AppTest

    import server.process

    assert "runner.postScriptGC" in streamlit_config._config_options_template
    assert CONFIG["runner"]["postScriptGC"] is False
    before = streamlit_config.get_option("runner.postScriptGC")
    try:
        for streamlit_collects in (True, False):
            monkeypatch.setattr(server.process, "_last_full_collection", 0.0)
            streamlit_config.set_option("runner.postScriptGC", streamlit_collects)
            AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60).run()
            assert (server.process._last_full_collection > 0.0) is not streamlit_collects  # the server was idle
    finally:
        streamlit_config.set_option("runner.postScriptGC", before)
