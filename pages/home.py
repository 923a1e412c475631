"""Home: what Module Lab teaches, the way through its pages, and the network the Train page builds."""

from __future__ import annotations

import streamlit as st

import pages.parts  # noqa: F401  (first-run fix, see pages/parts/__init__.py)
from core.config import Config, ConfigError, parse_config
from viz.lesson import network_figure

PAGES = (
    ("pages/layers.py", "1 · Layers", ":material/linear_scale:",
     "One `nn.Linear`: its weight and bias, a forward pass and its `grad_fn` graph, and `backward()` with an "
     "upstream gradient, checked by hand."),
    ("pages/models.py", "2 · Models", ":material/stacks:",
     "An `nn.Sequential` of your layers: `print(model)`, `named_parameters()`, `model[0]`, every layer's "
     "gradients, and moving it to a device."),
    ("pages/epoch.py", "3 · One epoch", ":material/zoom_in:",
     "One pass of the training loop, phase by phase: forward, loss, the autograd graph, `zero_grad`, `backward` "
     "and the update, with the real tensors."),
    ("pages/train.py", "4 · Train", ":material/model_training:",
     "The lesson's training loop on its data, live: the loss, every weight and gradient, epoch by epoch."),
)


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
    for column, (path, label, icon, summary) in zip(st.columns(len(PAGES)), PAGES):
        with column.container(border=True):
            st.page_link(path, label=label, icon=icon)
            st.markdown(summary)


def network_picture() -> None:
    config, source = train_config()
    sizes = config.layer_sizes()
    hidden = len(config.model.hidden_sizes)
    title = f"The network of {source}: " + " → ".join(map(str, sizes))
    st.plotly_chart(network_figure(sizes, activations=[config.model.activation] * hidden, title=title),
                    key="home_network")
    st.caption(f"`{config.data.n_features}` inputs (one per target coefficient), hidden `nn.Linear` layers of "
               f"{', '.join(map(str, config.model.hidden_sizes))} units each followed by `nn."
               f"{config.model.activation}()`, and one output.")


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
