"""The Train page's parts: its sidebar, data, files, run state and transport, live view, runs and the
teacher's link. May import core, viz, server, streamlit and pages.ui.common."""
