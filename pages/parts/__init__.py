"""Helpers of the page scripts, one folder down so that they are never listed as pages.

Importing this package also repairs a Streamlit quirk: on a server's first run, when a
`pages/` folder sits beside app.py, Streamlit runs a deep link (/train) straight from
pages/ in its legacy multipage mode, skipping app.py's st.navigation (no page config,
a sidebar listing every file). Every page imports this package first, so that run turns
the legacy mode off and reruns through app.py.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False  # what st.navigation itself sets
    st.rerun()
