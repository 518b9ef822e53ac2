"""RunStore: runs, their metrics and their layer snapshots in SQLite (standard library, WAL mode).

One file holds everything, so finished runs survive restarts and any process (a
job worker writing, the web server reading, the CLI) can open it at once. Each
write is one short transaction; a crash mid-write leaves the previous state.

Threads: a `sqlite3.Connection` must not be used by two threads at once (its cursors
and transaction state are per connection: sharing one between the web server's
script threads failed under load with "database is locked" and "no more rows
available"). Each thread therefore gets its own connection to the same file, opened
on first use and closed when the thread ends; WAL mode lets them all read while one
writes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.lifecycle import ACTIVE, RunStatus, check_transition, status_of
from lab.serving.owners import Owner

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '{}',
    meta TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,          -- 'train' (bucketed steps) or 'val' (evaluations)
    step INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, kind, step)
);
CREATE TABLE IF NOT EXISTS snapshots (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);
CREATE INDEX IF NOT EXISTS runs_owner ON runs(owner, created);
-- The process that trains (or queues) a run, so a starting server interrupts only runs whose owner died.
-- A table of its own: exports and pages never see host names and pids, and old files just gain it.
CREATE TABLE IF NOT EXISTS owners (
    run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL
);
"""
# Columns added after the first release: ALTER TABLE adds them to an existing file on open, so old
# databases keep working (their runs get the default). A class room code and the display name a
# student typed (both '' outside a class), read by the class board.
ADDED_COLUMNS = {"room": "TEXT NOT NULL DEFAULT ''", "student": "TEXT NOT NULL DEFAULT ''"}


def default_store_path() -> Path:
    """TRAINING_LAB_STORE if set, else ~/.local/share/training_lab/runs.db."""
    env = os.environ.get("TRAINING_LAB_STORE")
    if env:
        return Path(env)
    return Path.home() / ".local" / "share" / "training_lab" / "runs.db"


def new_run_id() -> str:
    """An unguessable run id (96 random bits, URL-safe) that starts with a letter or digit.

    About one id in 32 drawn by `token_urlsafe` starts with '-', which a command line then
    takes for an option (`python -m lab export -HPK...` failed in CI); such draws are redrawn.
    """
    while True:
        run_id = secrets.token_urlsafe(12)
        if run_id[0].isalnum():
            return run_id


class _Held:
    """A thread's connection, weakly referenceable (sqlite3.Connection is not): it is freed,
    and so closed, when its thread ends, so short-lived threads do not leak connections."""

    __slots__ = ("conn", "__weakref__")

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn


class RunStore:
    """SQLite-backed store of runs; cheap to open, safe to use from several processes."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._open: weakref.WeakSet = weakref.WeakSet()  # every live thread's connection, for close()
        self._closed = False
        self._conn.execute("PRAGMA journal_mode=WAL")  # a property of the file: set once
        self._conn.executescript(SCHEMA)
        self._add_columns()

    @property
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use; see the module docstring)."""
        held = getattr(self._local, "held", None)
        if held is None:
            if self._closed:
                raise sqlite3.ProgrammingError(f"the run store {self.path} is closed")
            # check_same_thread=False only so that close() may close it from another thread.
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes, fast
            conn.execute("PRAGMA foreign_keys=ON")
            held = self._local.held = _Held(conn)
            self._open.add(held)
        return held.conn

    def close(self) -> None:
        """Close every thread's connection; later use raises."""
        self._closed = True
        for held in list(self._open):
            held.conn.close()
        self._local = threading.local()

    def _add_columns(self) -> None:
        """Migration: add ADDED_COLUMNS missing from an older file (checked inside the write lock, so two
        processes opening the same old file at once do not both add a column)."""
        with self._tx() as c:
            have = {r[1] for r in c.execute("PRAGMA table_info(runs)")}
            for name, decl in ADDED_COLUMNS.items():
                if name not in have:
                    c.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
            c.execute("CREATE INDEX IF NOT EXISTS runs_room ON runs(room, created)")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ---- runs --------------------------------------------------------------------

    def create_run(
        self,
        config: dict,
        owner: str = "",
        label: str = "",
        status: str = RunStatus.QUEUED,
        run_id: str | None = None,
        process: Owner | None = None,
    ) -> str:
        """Insert a new run and return its id; `process` is the process that will train it (see lab.serving.owners)."""
        run_id = run_id or new_run_id()
        status = status_of(status)
        now = time.time()
        with self._tx() as c:
            c.execute(
                "INSERT INTO runs (id, owner, label, status, config, created, updated) VALUES (?,?,?,?,?,?,?)",
                (run_id, owner, label, status, json.dumps(config, sort_keys=True), now, now),
            )
            if process is not None:
                c.execute("INSERT INTO owners VALUES (?,?,?,?)", (run_id, process.host, process.pid, process.started))
        return run_id

    @staticmethod
    def _check(c: sqlite3.Connection, run_id: str, status: str) -> RunStatus:
        """`status` checked against the run's current one (inside the caller's write transaction)."""
        row = c.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
        return check_transition(run_id, row[0], status) if row else status_of(status)

    def set_status(self, run_id: str, status: str, reason: str = "", summary: dict | None = None) -> None:
        """Update a run's status (and reason/summary when given); raises IllegalTransition for a move
        the lifecycle forbids (lab/lifecycle.py), such as any change to a run that has ended."""
        with self._tx() as c:
            status = self._check(c, run_id, status)
            if summary is None:
                c.execute(
                    "UPDATE runs SET status=?, reason=?, updated=? WHERE id=?", (status, reason, time.time(), run_id)
                )
            else:
                c.execute(
                    "UPDATE runs SET status=?, reason=?, summary=?, updated=? WHERE id=?",
                    (status, reason, json.dumps(summary), time.time(), run_id),
                )

    def update_config(self, run_id: str, **changes) -> None:
        """Change fields of a run's stored config (a Speed change while it trains), in one transaction."""
        with self._tx() as c:
            row = c.execute("SELECT config FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                return
            config = dict(json.loads(row[0]), **changes)
            c.execute(
                "UPDATE runs SET config=?, updated=? WHERE id=?",
                (json.dumps(config, sort_keys=True), time.time(), run_id),
            )

    def get_run(self, run_id: str) -> dict | None:
        """One run's row (config, summary and meta parsed), or None."""
        rows = self._rows(self._conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)))
        return rows[0] if rows else None

    def versions(self, run_ids: Sequence[str]) -> dict[str, tuple[str, float]]:
        """(status, updated time) of each existing run among `run_ids`: a cheap "has it changed?" check."""
        ids = list(run_ids)
        if not ids:
            return {}
        rows = self._conn.execute(
            f"SELECT id, status, updated FROM runs WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def list_runs(self, owner: str | None = None, limit: int = 1000) -> list[dict]:
        """Runs, newest first (optionally only one owner's)."""
        if owner is None:
            cur = self._conn.execute("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,))
        else:
            cur = self._conn.execute("SELECT * FROM runs WHERE owner=? ORDER BY created DESC LIMIT ?", (owner, limit))
        return self._rows(cur)

    def set_room(self, run_id: str, room: str, student: str = "") -> None:
        """Put a run in a class room (an already validated code) under a display name, for the class board."""
        with self._tx() as c:
            c.execute("UPDATE runs SET room=?, student=? WHERE id=?", (room, student, run_id))

    def room_runs(self, room: str, limit: int = 200) -> list[dict]:
        """The runs of one class room, newest first; none for the empty room (runs outside any class)."""
        if not room:
            return []
        return self._rows(
            self._conn.execute("SELECT * FROM runs WHERE room=? ORDER BY created DESC LIMIT ?", (room, limit))
        )

    def delete_run(self, run_id: str) -> bool:
        """Delete a run and everything recorded for it; True if it existed."""
        with self._tx() as c:
            c.execute("DELETE FROM metrics WHERE run_id=?", (run_id,))
            c.execute("DELETE FROM snapshots WHERE run_id=?", (run_id,))
            c.execute("DELETE FROM owners WHERE run_id=?", (run_id,))
            cur = c.execute("DELETE FROM runs WHERE id=?", (run_id,))
        return cur.rowcount > 0

    def mark_unfinished(
        self,
        status: str = RunStatus.INTERRUPTED,
        reason: str = "the server stopped while this run was active",
        run_ids: Iterable[str] | None = None,
    ) -> int:
        """Mark queued/running/paused runs (all, or the given ones) with a final status; returns how many."""
        if not status_of(status).final:
            raise ValueError(f"status={status!r} is invalid: unfinished runs end with a final status")
        with self._tx() as c:
            q = f"UPDATE runs SET status=?, reason=?, updated=? WHERE status IN ({','.join('?' * len(ACTIVE))})"
            args: list[Any] = [status, reason, time.time(), *ACTIVE]
            if run_ids is not None:
                ids = list(run_ids)
                if not ids:
                    return 0
                q += f" AND id IN ({','.join('?' * len(ids))})"
                args += ids
            return c.execute(q, args).rowcount

    def mark_orphaned(self, reason: str) -> int:
        """Mark `interrupted` the active runs whose owning process has ended, or that name no owner (runs of
        files older than the owners table); a run another live process trains keeps its status."""
        with self._tx() as c:
            rows = c.execute(
                f"SELECT r.id, o.host, o.pid, o.started FROM runs r LEFT JOIN owners o ON o.run_id = r.id"
                f" WHERE r.status IN ({','.join('?' * len(ACTIVE))})",
                tuple(ACTIVE),
            ).fetchall()
            dead = [rid for rid, host, pid, started in rows if host is None or not Owner(host, pid, started).alive()]
            c.executemany(
                "UPDATE runs SET status=?, reason=?, updated=? WHERE id=?",
                [(RunStatus.INTERRUPTED, reason, time.time(), rid) for rid in dead],
            )
        return len(dead)

    @staticmethod
    def _rows(cur: sqlite3.Cursor) -> list[dict]:
        """Rows as dicts keyed by the cursor's column names (a migrated file orders added columns by when
        they were added, so no fixed tuple of names fits every file), config, summary and meta parsed."""
        keys = [d[0] for d in cur.description]
        out = []
        for row in cur.fetchall():
            d = dict(zip(keys, row, strict=True))
            for k in ("config", "summary", "meta"):
                d[k] = json.loads(d[k])
            out.append(d)
        return out

    # ---- recorded data -------------------------------------------------------------

    def append(
        self,
        run_id: str,
        train: list[dict] = (),
        val: list[dict] = (),
        snapshots: list[dict] = (),
        dropped: list[int] = (),
        meta: dict | None = None,
        status: str | None = None,
    ) -> None:
        """Write new rows (and optionally meta/status) for a run in one transaction."""
        with self._tx() as c:
            c.executemany(
                "INSERT OR REPLACE INTO metrics VALUES (?,?,?,?)",
                [(run_id, "train", r["step"], json.dumps(r)) for r in train]
                + [(run_id, "val", r["step"], json.dumps(r)) for r in val],
            )
            c.executemany(
                "INSERT OR REPLACE INTO snapshots VALUES (?,?,?)",
                [(run_id, s["step"], json.dumps(s)) for s in snapshots],
            )
            if dropped:
                c.executemany("DELETE FROM snapshots WHERE run_id=? AND step=?", [(run_id, s) for s in dropped])
            sets, args = ["updated=?"], [time.time()]
            if meta is not None:
                sets.append("meta=?")
                args.append(json.dumps(meta))
            if status is not None:
                sets.append("status=?")
                args.append(self._check(c, run_id, status))
            c.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id=?", (*args, run_id))

    def metrics(self, run_id: str, kind: str = "train", after_step: int = -1) -> list[dict]:
        """Metric rows of one kind, in step order, optionally only those after a step."""
        rows = self._conn.execute(
            "SELECT data FROM metrics WHERE run_id=? AND kind=? AND step>? ORDER BY step", (run_id, kind, after_step)
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def snapshot_steps(self, run_id: str) -> list[int]:
        """The steps at which snapshots were recorded."""
        return [r[0] for r in self._conn.execute("SELECT step FROM snapshots WHERE run_id=? ORDER BY step", (run_id,))]

    def snapshots(self, run_id: str, after_step: int = -1) -> list[dict]:
        """Snapshots in step order, optionally only those after a step."""
        rows = self._conn.execute(
            "SELECT data FROM snapshots WHERE run_id=? AND step>? ORDER BY step", (run_id, after_step)
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def snapshot(self, run_id: str, step: int) -> dict | None:
        """The snapshot recorded closest to `step`."""
        row = self._conn.execute(
            "SELECT data FROM snapshots WHERE run_id=? ORDER BY ABS(step-?) LIMIT 1", (run_id, step)
        ).fetchone()
        return json.loads(row[0]) if row else None

    # ---- export --------------------------------------------------------------------

    def export_json(self, run_id: str) -> dict:
        """The whole run as one JSON-ready dict (config, status, summary, metrics, snapshots)."""
        run = self.get_run(run_id)
        if run is None:
            raise KeyError(run_id)
        return {
            **run,
            "train": self.metrics(run_id, "train"),
            "val": self.metrics(run_id, "val"),
            "snapshots": self.snapshots(run_id),
        }

    def export_csv(self, run_id: str) -> str:
        """Train and validation metrics merged by step as CSV text."""
        by_step: dict[int, dict] = {}
        for kind in ("train", "val"):
            for r in self.metrics(run_id, kind):
                row = by_step.setdefault(r["step"], {"step": r["step"]})
                for k, v in r.items():
                    if kind == "val" and k in ("train_loss", "train_acc"):
                        k = f"eval_{k}"  # eval-mode train metrics, distinct from the running batch average
                    row[k] = v
        cols = [
            "step",
            "epoch",
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "eval_train_loss",
            "eval_train_acc",
            "lr",
            "images_per_s",
        ]
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for step in sorted(by_step):
            w.writerow(by_step[step])
        return out.getvalue()
