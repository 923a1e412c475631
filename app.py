"""Module Lab: learn PyTorch modules by building an nn.Sequential and watching it train.

    streamlit run app.py
"""

import sys

import streamlit as st

from pages.ui.common.site import navigation

page = navigation()  # first: the real pages and title are on screen while torch loads
# In every run, so that the page's elements keep their places in the main block: one that moved
# between two runs was remounted, and a live chart drawn in place vanished for a frame.
loading = st.empty()
if "torch" not in sys.modules:  # the first visit after the server started
    loading.info("Loading PyTorch: the first visit after the app starts takes a few seconds…",
                 icon=":material/hourglass_top:")
    import torch  # noqa: F401

    loading.empty()

from server.admission import server_idle  # noqa: E402
from server.process import (  # noqa: E402  (after the navigation)
    collect_garbage,
    freeze_imported_objects,
    return_freed_tensors_to_the_system,
    set_torch_threads,
)

set_torch_threads()
return_freed_tensors_to_the_system()
page.run()
freeze_imported_objects()  # before the collection after this run, which then skips the imports
if not st.get_option("runner.postScriptGC"):  # off in .streamlit/config.toml: Streamlit collects otherwise
    collect_garbage(server_idle())
