"""Helpers every page uses: the site's pages, text shown literally, code panels, the device radio.
May import core, viz, server and streamlit; no page-specific package."""
