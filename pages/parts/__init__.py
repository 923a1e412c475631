"""Helpers of the page scripts, one folder down so that they are never listed as pages.

Importing this package also repairs a Streamlit quirk: on a server's first run, when a
`pages/` folder sits beside app.py, Streamlit runs the URL's page in its legacy multipage
mode (every file of pages/ listed in the sidebar, the tab titled by the file name), skipping
app.py's st.navigation. Every page, and app.py, imports this package first, before anything
imports torch (2-3 s on a fresh server): that run sends the real navigation and page config
at once, turns the legacy mode off and reruns through app.py.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    from pages.parts.site import navigation

    navigation()  # also turns the legacy mode off, as st.navigation does
    st.rerun()
