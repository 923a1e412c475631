"""Module Lab: learn PyTorch modules by building an nn.Sequential and watching it train.

    streamlit run app.py
"""

import streamlit as st

from core.device import return_freed_tensors_to_the_system, set_torch_threads

set_torch_threads()
return_freed_tensors_to_the_system()
st.set_page_config(page_title="Module Lab", page_icon="🧪", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/layers.py", title="Layers", icon=":material/linear_scale:", url_path="layers"),
    st.Page("pages/models.py", title="Models", icon=":material/stacks:", url_path="models"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
]
st.navigation(pages).run()
