"""The app's pages, listed once: the navigation and Home's cards both read this list."""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st
from streamlit.navigation.page import StreamlitPage


class PageEntry(NamedTuple):
    path: str  # the page's script, relative to app.py
    title: str  # in the navigation
    icon: str
    url_path: str  # "" for the default page
    card: str  # Home's sentence on it; "" for Home itself

    @property
    def default(self) -> bool:
        return not self.url_path


PAGES = (
    PageEntry("pages/home.py", "Home", ":material/home:", "", ""),
    PageEntry("pages/layers.py", "Layers", ":material/linear_scale:", "layers",
              "One `nn.Linear`: its weight and bias, a forward pass and its `grad_fn` graph, and `backward()` "
              "with an upstream gradient, checked by hand."),
    PageEntry("pages/models.py", "Models", ":material/stacks:", "models",
              "An `nn.Sequential` of your layers: `print(model)`, `named_parameters()`, `model[0]`, every "
              "layer's gradients, and moving it to a device."),
    PageEntry("pages/epoch.py", "One epoch", ":material/zoom_in:", "epoch",
              "One pass of the training loop, phase by phase: forward, loss, the autograd graph, `zero_grad`, "
              "`backward` and the update, with the real tensors."),
    PageEntry("pages/train.py", "Train", ":material/model_training:", "train",
              "The lesson's training loop on its data, live: the loss, every weight and gradient, epoch by epoch."),
)
LESSON_PAGES = tuple(p for p in PAGES if p.card)  # Home's cards, numbered in this order



def navigation() -> StreamlitPage:
    """Page config and navigation: the first messages of every script run, so the browser shows the
    real app before anything slow (torch) is imported; returns the page the URL asks for."""
    st.set_page_config(page_title="Module Lab", page_icon="🧪", layout="wide")
    return st.navigation([st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p.default)
                          for p in PAGES])
