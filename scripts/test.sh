#!/usr/bin/env bash
# Run the whole test suite (unit + real-browser e2e) after setting up this checkout if needed.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/e2e -x` or `bash scripts/test.sh -m "not e2e"`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup.sh

# -q by default, unless the caller chose a verbosity: a second -q would hide pytest's "N passed" line.
verbosity=(-q)
for arg in "$@"; do
    case "$arg" in -q | -qq | --quiet | -v | -vv | --verbose) verbosity=() ;; esac
done

# The import contract (pyproject.toml [tool.importlinter]) first: a broken layer fails in a second, before the suite.
"${VENV:-$root/.venv}/bin/lint-imports" --no-cache

exec "${VENV:-$root/.venv}/bin/python" -m pytest "${verbosity[@]}" "$@"
