"""`python -m lab.ui.serve [streamlit run options]`: start the app the way it must be started.

Streamlit treats a folder named `pages/` next to the entry script as an old-style
multipage app until some session has run `st.navigation`. On a fresh server the
first visitor who opens a deep link (say `/train?...`, a shared scenario) would get
that page run on its own, without app.py's navigation and layout. Declaring up
front that the app uses `st.navigation` removes the race for everyone.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

from lab.serving.jobs import shared_manager
from lab.serving.settings import load_settings

APP = Path(__file__).resolve().parents[2] / "app.py"


def main(argv: list[str] | None = None) -> None:
    """Run `streamlit run app.py` with the given extra options."""
    PagesManager.uses_pages_directory = False  # app.py declares its pages with st.navigation
    # Start (and warm) the training workers now, in the background, so the first Start is fast. The
    # workflow pages' pool (lab.workflows.offload) starts on its first job instead: warming it here too
    # slowed the first Start after launch (1.9 s against 1.5 s to the first points, measured once in a
    # real browser), because its torch import competed with the training worker for the two cores.
    threading.Thread(target=lambda: shared_manager(load_settings()), name="warm-workers", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
