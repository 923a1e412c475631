"""Streamlit pages and their helpers: the only code that imports streamlit (with app.py)."""
