"""Module Lab: learn PyTorch modules by building an nn.Sequential and watching it train.

    streamlit run app.py
"""

import sys

import streamlit as st

from pages.parts.site import navigation

page = navigation()  # first: the real pages and title are on screen while torch loads
if "torch" not in sys.modules:  # the first visit after the server started
    loading = st.empty()
    loading.info("Loading PyTorch: the first visit after the app starts takes a few seconds…",
                 icon=":material/hourglass_top:")
    import torch  # noqa: F401

    loading.empty()

from core.device import return_freed_tensors_to_the_system, set_torch_threads  # noqa: E402  (after the navigation)

set_torch_threads()
return_freed_tensors_to_the_system()
page.run()
