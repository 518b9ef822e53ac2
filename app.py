"""Training Lab entry point: the server (Streamlit plus the live-feed route) and the page navigation.

This file plays two parts. `streamlit run app.py` first imports it as a module (its
`__name__` is then "app"), finds the `st.App` below and serves it: Streamlit's own
routes plus lab/ui/live_routes.py, on one port. Each browser session then runs this
same file as the Streamlit script (`__name__` is "__main__"), which only declares the
pages; each page lives in pages/.
"""

from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent

PAGES = {
    "Lab": [
        ("pages/home.py", "Home", "🏠"),
        ("pages/train.py", "Train", "🧪"),
        ("pages/board.py", "Class board", "🧑‍🏫"),
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


if __name__ == "__main__":
    st.set_page_config(page_title="Training Lab", page_icon="🧠", layout="wide")
    st.navigation(_pages(), position="top").run()
else:
    from lab.ui.live_routes import ROUTES

    app = st.App(__file__, routes=ROUTES)
