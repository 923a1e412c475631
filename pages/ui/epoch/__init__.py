"""The One epoch page's parts: its link (the URL it reads and writes) and the sentences of each phase.
May import core, viz, server, streamlit and pages.ui.common."""
