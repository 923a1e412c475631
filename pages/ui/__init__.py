"""Helpers of the page scripts, grouped by the page they serve (`train`, `epoch`, `lessons`) with the shared
ones in `common`; one folder down, so that Streamlit never lists them as pages. May import core, viz,
server and streamlit.

Every page, and app.py, imports this package first, before anything imports torch: on a server's first
run Streamlit may run the URL's page in its legacy multipage mode (server/streamlit_internals.py).
"""

from pages.ui.common.site import navigation
from server.streamlit_internals import leave_legacy_pages_mode

leave_legacy_pages_mode(navigation)
