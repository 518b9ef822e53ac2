"""Training Lab entry point: page config and navigation only; each page lives in pages/."""

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Training Lab", page_icon="🧠", layout="wide")

HERE = Path(__file__).parent

PAGES = {
    "Lab": [
        ("pages/home.py", "Home", "🏠"),
        ("pages/train.py", "Train", "🧪"),
    ],
    "Concepts": [
        ("pages/activations.py", "Activations", "📈"),
        ("pages/initialization.py", "Initialization", "🎲"),
        ("pages/optimizers.py", "Optimizers", "⛰️"),
        ("pages/schedules.py", "Schedules", "📉"),
        ("pages/preprocessing.py", "Preprocessing", "🧹"),
        ("pages/regularization.py", "Regularization", "🛡️"),
    ],
    "Workflows": [
        ("pages/babysitting.py", "Babysitting recipe", "🍼"),
        ("pages/search.py", "Hyperparameter search", "🔎"),
        ("pages/compare.py", "Compare runs", "📊"),
        ("pages/ensembles.py", "Ensembles", "🤝"),
        ("pages/transfer.py", "Transfer learning", "🔁"),
        ("pages/large_batch.py", "Large batches", "📦"),
    ],
}


def _pages() -> dict[str, list[st.Page]]:
    """st.Page objects for the pages present in this checkout."""
    out = {}
    for section, entries in PAGES.items():
        pages = [
            st.Page(path, title=title, icon=icon, default=path == "pages/home.py")
            for path, title, icon in entries
            if (HERE / path).exists()
        ]
        if pages:
            out[section] = pages
    return out


st.navigation(_pages(), position="top").run()
