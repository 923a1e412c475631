"""Module Lab's benchmark: `python -m bench` prints one Markdown table of figures against targets."""
