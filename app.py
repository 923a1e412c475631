"""Module Lab: learn PyTorch modules by building an nn.Sequential and watching it train.

    streamlit run app.py
"""

import streamlit as st

st.set_page_config(page_title="Module Lab", page_icon="🧪", layout="wide")

pages = [
    st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train", default=True),
]
st.navigation(pages).run()
