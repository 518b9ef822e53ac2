"""Streamlit helpers shared by the pages: the only package besides app.py and pages/ that imports streamlit.

It is a package rather than one module because the Train page alone needs controls,
run handling and a dashboard; each module keeps one concept:
- common: shared resources (job manager, store, settings), session identity, page chrome
- controls: config widgets generated from RunConfig metadata, URL sync, lessons
- runs: starting, stepping, pausing, stopping runs, reattaching from the URL
- dashboard: the Train page's parts (lesson picker, run buttons, live dashboard, timeline)
- live_chart: the mounted Plotly/status/hints component fed by the live routes (live_routes.py,
  which is plain Starlette and imports no streamlit)
- workflows: state, polling and run views shared by the workflow pages
- serve: `python -m lab.ui.serve`, which warms the job manager and then runs `streamlit run app.py`

Seven modules import streamlit, all under this package: splitting by concept keeps each one
small, and the boundary the design cares about (the engine, lab/charts and the workers never
import streamlit) holds.
"""
