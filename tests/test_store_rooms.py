"""RunStore rooms: the migration that adds the room columns to an old file, and room queries."""

import sqlite3

from lab.config import RunConfig
from lab.serving.store import SCHEMA, RunStore


def _old_file(path) -> str:
    """A store file as written before the room columns existed, with one run in it; returns the run id."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO runs (id, owner, label, status, config, created, updated) VALUES (?,?,?,?,?,?,?)",
        ("old1", "alice", "", "completed", '{"lr": 0.1}', 1.0, 1.0),
    )
    conn.commit()
    conn.close()
    return "old1"


def test_old_file_gains_room_columns_and_keeps_its_runs(tmp_path):
    path = tmp_path / "old.db"
    rid = _old_file(path)
    store = RunStore(path)
    row = store.get_run(rid)
    assert row["owner"] == "alice" and row["config"] == {"lr": 0.1}
    assert row["room"] == "" and row["student"] == ""
    store.set_room(rid, "BIO7", "Ana")
    assert [r["id"] for r in store.room_runs("BIO7")] == [rid]
    store.close()
    again = RunStore(path)  # opening a migrated file again adds nothing and loses nothing
    assert again.get_run(rid)["student"] == "Ana"
    assert [r["id"] for r in again.list_runs(owner="alice")] == [rid]


def test_room_runs_lists_only_that_room_and_never_the_empty_one(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    cfg = RunConfig().to_dict()
    a, b, c, loner = (store.create_run(cfg, owner=o) for o in ("a", "b", "c", "d"))
    store.set_room(a, "BIO7", "Ana")
    store.set_room(b, "BIO7")
    store.set_room(c, "CHEM2", "Cy")
    assert {r["id"] for r in store.room_runs("BIO7")} == {a, b}
    assert [r["id"] for r in store.room_runs("CHEM2")] == [c]
    assert store.room_runs("") == []  # runs outside a class are nobody's board
    assert store.get_run(loner)["room"] == ""
