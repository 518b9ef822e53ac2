"""Streamlit helpers shared by the pages: the only package besides app.py and pages/ that imports streamlit.

It is a package rather than one module because the Train page alone needs controls,
run handling and a dashboard; each module keeps one concept:
- common: shared resources (job manager, store, settings), session identity, page chrome
- controls: config widgets generated from RunConfig metadata, URL sync, lessons
- runs: starting, stepping, pausing, stopping runs, reattaching from the URL
- dashboard: the Train page's parts (lesson picker, run buttons, live dashboard, timeline)
- pace: the Train page's Speed control and Run until paused toggle (page state applied to its runs)
- live_chart: the mounted Plotly/status/hints component fed by the live routes (live_routes.py,
  which is plain Starlette and imports no streamlit)
- workflows: state, polling and run views shared by the workflow pages
- identity: the owner token and class room kept in cookies (never the URL), the Train page's Class box
- share: Share / Share settings links, and the read-only viewer's Fork
- board: the class board (a room's runs live, sortable, overlaid)
- owner_routes: `owner_only` for any HTTP route that could change a run (plain Starlette)
- serve: `python -m lab.ui.serve`, which warms the job manager and then runs `streamlit run app.py`

The modules that import streamlit all live under this package: splitting by concept keeps each one
small, and the boundary the design cares about (the engine, lab/charts and the workers never
import streamlit) holds.
"""
