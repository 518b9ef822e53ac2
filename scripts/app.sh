#!/usr/bin/env bash
# Start Training Lab: set up this checkout if needed, then serve app.py (http://localhost:${PORT:-8501}).
# Extra arguments go to `streamlit run` as options, e.g. `bash scripts/app.sh --server.address 0.0.0.0`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Serving needs no browser on this machine; chromium is only for the e2e tests.
bash scripts/setup.sh --no-browser

port="${PORT:-8501}"
echo "Training Lab: http://localhost:$port" >&2
# lab.ui.serve is `streamlit run app.py` plus one fix: deep links work on a fresh server (see its docstring).
exec "${VENV:-$root/.venv}/bin/python" -m lab.ui.serve \
    --server.port "$port" --server.headless true "$@"
