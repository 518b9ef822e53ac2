"""Streamlit helpers shared by the pages: the only package besides app.py and pages/ that imports streamlit.

It is a package rather than one module because the Train page alone needs controls,
run handling and a dashboard; each module keeps one concept:
- common: shared resources (job manager, store, settings), session identity, page chrome
- controls: config widgets generated from RunConfig metadata, URL sync, lessons
- runs: starting, stepping, pausing, stopping runs, reattaching from the URL
- dashboard: the live charts fragment
"""
