"""Opening a page as a link would, for the AppTest page tests."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parent.parent / "pages"


def open_page(page: str, timeout: float = 120, **params: str) -> AppTest:
    """pages/<page>.py run once with `params` in its URL; it must not raise."""
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=timeout)
    at.query_params.update(params)
    at.run()
    assert not at.exception
    return at
