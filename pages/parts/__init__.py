"""Helpers of the page scripts. They live one folder down because Streamlit lists every
`pages/*.py` as a page on a server's first run when a `pages/` folder sits beside app.py."""
