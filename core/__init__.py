"""Torch-only core of Module Lab: configs, data, models, the trainer, devices.

Nothing here imports streamlit or plotly; results come back as plain Python and numpy.
"""
