"""Home: what Module Lab teaches, the way through its pages, and the network the Train page builds."""

from __future__ import annotations

import streamlit as st

import pages.ui  # noqa: F401  (first, before torch: see pages/ui/__init__.py)
from core.config import Config, ConfigError, parse_config
from pages.ui.common.site import LESSON_PAGES
from viz.lesson import network_figure


def train_config() -> tuple[Config, str]:
    """The config the Train page's widgets hold now, or the defaults, with a sentence saying which."""
    values = st.session_state.get("train_values")
    if not values:
        return Config(), "the Train page's defaults"
    try:
        return parse_config(values), "your current Train settings"
    except ConfigError:
        return Config(), "the defaults (your Train settings have an invalid value just now)"


def page_cards() -> None:
    for number, (column, page) in enumerate(zip(st.columns(len(LESSON_PAGES)), LESSON_PAGES), start=1):
        with column.container(border=True):
            st.page_link(page.path, label=f"{number} · {page.title}", icon=page.icon)
            st.markdown(page.card)


def network_picture() -> None:
    config, source = train_config()
    sizes = config.layer_sizes()
    hidden = len(config.model.hidden_sizes)
    title = f"The network of {source}: " + " → ".join(map(str, sizes))
    st.plotly_chart(network_figure(sizes, activations=[config.model.activation] * hidden, title=title),
                    key="home_network")
    inputs = (f"(x1, x2 of the {config.data.dataset} set)" if config.data.classification
              else "(one per target coefficient)")
    output = "one output, a logit" if config.data.classification else "one output"
    st.caption(f"`{config.data.n_features}` inputs {inputs}, hidden `nn.Linear` layers of "
               f"{', '.join(map(str, config.model.hidden_sizes))} units each followed by `nn."
               f"{config.model.activation}()`, and {output}.")


st.title("Module Lab")
st.markdown(
    "Learn PyTorch **modules** by using them. Each page is one step of the lesson, and every step shows the "
    "PyTorch code that produces it, with its R torch equivalent beside it:\n\n"
    "- how an `nn.Linear` holds its parameters and how `backward()` fills their gradients,\n"
    "- how `nn.Sequential` stacks modules, names their parameters and moves them between devices,\n"
    "- how the lesson's training loop uses all of it to fit `y = 0.2·x1 - 1.3·x2 - 0.5·x3 + noise`."
)
page_cards()
network_picture()
