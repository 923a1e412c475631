"""The server's limits as a page reads them: a bad override is said on the page."""

from __future__ import annotations

import streamlit as st

from server.limits import ServerLimits, server_limits


def read_limits() -> ServerLimits:
    """The server's limits; a bad override is reported, and the built-in limits stand."""
    found, error = server_limits()
    if error is not None:
        st.error(f"Ignoring a bad limit override, using the built-in limits: {error}")
    return found
