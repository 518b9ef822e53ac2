"""Real-browser end-to-end tests (Playwright driving Debian's chromium against `streamlit run app.py`)."""
