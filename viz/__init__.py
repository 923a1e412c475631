"""Plotly-only figure builders (no torch, no streamlit)."""
