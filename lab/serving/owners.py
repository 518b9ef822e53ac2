"""Which process owns an active run, and whether that process still lives.

A starting server must mark `interrupted` only the runs whose owner died (a server killed
mid-run), never a `python -m lab train` that trains into the same store right now. A pid
alone is not enough: pids are reused, so the owner also carries its start time (clock ticks
since boot, from /proc) and the boot id, which together name one process for all time, and
the host name, because a pid means nothing on another machine.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


def _start_token(pid: int) -> str:
    """'<boot id>:<start ticks>' of a live process on this machine, '' when it is gone (or not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""
    # Field 22 (starttime); the command name (field 2) may hold spaces, so count from its closing ')'.
    return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"


@dataclass(frozen=True)
class Owner:
    """One process, named so that a later process with the same pid is not mistaken for it."""

    host: str
    pid: int
    started: str  # _start_token at registration; '' where /proc is missing (then the pid alone decides)

    @classmethod
    def current(cls) -> Owner:
        """This process."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _start_token(pid))

    def alive(self) -> bool:
        """False only when this process has certainly ended; runs owned on another host count as alive."""
        if self.host != socket.gethostname():
            return True  # cannot be checked from here: leave that host's runs to that host
        if self.started:
            return _start_token(self.pid) == self.started
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, owned by another user
            return True
        return True
