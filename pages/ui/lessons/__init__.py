"""Widgets the Layers and Models pages share: how a tensor is shown as the lesson prints it.
May import core, viz, streamlit and pages.ui.common."""
