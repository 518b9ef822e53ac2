#!/usr/bin/env bash
# Make this checkout runnable: .venv with requirements.txt, and Debian's chromium for the e2e tests.
#
# Idempotent and cheap to repeat: scripts/app.sh and scripts/test.sh call it every time, so when
# nothing changed it must finish in about a second. pip runs only when the hash of requirements.txt
# differs from the stamp left by the last successful install.
#
# Usage: bash scripts/setup.sh [--no-browser]
#   --no-browser   skip the chromium check (serving the app needs no browser on this machine)
# Environment: PYTHON (interpreter for a new venv, default python3.11), VENV (default <repo>/.venv).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

want_browser=1
for arg in "$@"; do
    case "$arg" in
        --no-browser) want_browser=0 ;;
        *) echo "setup: unknown argument '$arg' (usage: bash scripts/setup.sh [--no-browser])" >&2; exit 2 ;;
    esac
done

python="${PYTHON:-python3.11}"
venv="${VENV:-$root/.venv}"
stamp="$venv/.requirements.sha256"
chromium=/usr/bin/chromium

say() { echo "setup: $*" >&2; }

# Run a command as root: directly when we are root, through sudo when it works without a password
# prompt (CI has no stdin), otherwise explain what to run by hand.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        say "need root to run: $*"
        say "run it yourself (e.g. with sudo), then re-run this script"
        return 1
    fi
}

# 1. Virtual environment. The pinned torch/torchvision wheels are for CPython 3.11.
if [ ! -x "$venv/bin/python" ]; then
    if ! command -v "$python" >/dev/null 2>&1; then
        say "'$python' not found; install Python 3.11 or set PYTHON=/path/to/python3.11"
        exit 1
    fi
    say "creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
    rm -f "$stamp"
fi

# 2. Python packages, only when requirements.txt changed since the last successful install.
want_hash="$(sha256sum requirements.txt | cut -d' ' -f1)"
have_hash="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want_hash" != "$have_hash" ]; then
    say "installing requirements.txt into $venv (the first time takes several minutes: torch is large)"
    # The machine-wide pip config lists local package folders that hold only some packages; pip warns
    # once per package it does not find there. Those lines are noise, every other line is kept.
    set +e
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 \
        | grep --line-buffered -v "^WARNING: Location 'file:"
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        say "pip install failed (exit $rc)"
        exit "$rc"
    fi
    echo "$want_hash" >"$stamp"
fi

# 3. Browser for the e2e tests and the screenshot script. Playwright cannot download its own browsers
#    here, so they drive Debian's chromium package instead. The colour emoji font is checked on its own
#    (a machine may have chromium without it): the hints and verdicts start with an emoji, which a
#    browser without one draws as an empty box in every screenshot.
emoji_font=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
if [ "$want_browser" -eq 1 ] && { [ ! -x "$chromium" ] || [ ! -f "$emoji_font" ]; }; then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "$chromium or $emoji_font is missing and apt-get is not available: install Chromium and a colour emoji font"
        exit 1
    fi
    say "installing Debian's chromium and fonts-noto-color-emoji for the browser tests"
    # Lock::Timeout: wait for another apt run (e.g. unattended upgrades) instead of failing at once.
    # Recommends stay on: they bring fonts-liberation and Mesa, which screenshots and WebGL charts use.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        chromium fonts-noto-color-emoji >/dev/null
    if [ ! -x "$chromium" ]; then
        say "apt-get finished but $chromium is still missing"
        exit 1
    fi
    if [ ! -f "$emoji_font" ]; then
        say "apt-get finished but $emoji_font is still missing"
        exit 1
    fi
fi
