"""Training Lab entry point: page config and navigation only; each page lives in pages/."""

import streamlit as st

st.set_page_config(page_title="Training Lab", page_icon="🧠", layout="wide")

st.navigation([st.Page("pages/home.py", title="Home", icon="🏠", default=True)]).run()
