"""Starting the app for a benchmark: a free port, `python -m lab.ui.serve` with its own store, health wait."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """An unused local TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, tmp: Path) -> subprocess.Popen:
    """`python -m lab.ui.serve` on `port` with its store in `tmp`; output goes to tmp/server.log."""
    env = dict(os.environ, TRAINING_LAB_STORE=str(tmp / "runs.db"))
    log = (tmp / "server.log").open("w")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab.ui.serve",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: Ctrl-C reaches the bench, which then shuts it down
    )


def wait_health(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    """Block until Streamlit answers its health check (or fail fast if the server died)."""
    t_end = time.time() + timeout
    while time.time() < t_end:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with code {server.returncode} before it was healthy")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become healthy")
