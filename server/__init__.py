"""The server's one-process-many-sessions machinery: caps, the queue and its turns, the compute budget, the
gate every training step passes, process tuning, the shared figure cache and every use of Streamlit's
internals. May import core, viz's output (JSON) and streamlit; pages/ and app.py import it, never the reverse.
"""
