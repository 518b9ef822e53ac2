"""The class board's logic (no streamlit): room codes, display names, and one row per run of a room.

A room code is short on purpose: an instructor writes it on the board and students type it on
the Train page. It only groups runs for the board, which shows them read-only; it grants no
control, so it need not be secret the way the owner token is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from lab.config import RunConfig
from lab.diagnosis import diagnose_run
from lab.serving.live.layers import layer_version
from lab.serving.run_history import RunHistory
from lab.serving.store import RunStore

ROOM_LEN = (3, 12)
NAME_MAX = 30
ROOM_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector without doubt
LEVEL_RANK = {"bad": 0, "warn": 1, "info": 2, "ok": 3}  # the top hint is the most severe one, first in time on ties
SORT_KEYS = ("started", "who", "status", "step", "val_acc")
DEFAULTS = RunConfig().to_dict()


def parse_room(text: str) -> str:
    """A room code, upper-cased; '' for none. Raises ValueError naming the field, the value and what is allowed."""
    code = (text or "").strip().upper()
    if not code:
        return ""
    lo, hi = ROOM_LEN
    if not (lo <= len(code) <= hi and all(c.isascii() and (c.isalnum() or c == "-") for c in code)):
        raise ValueError(f"room code {text[:40]!r} is invalid: use {lo} to {hi} letters, digits or '-' (e.g. BIO-7)")
    return code


def parse_name(text: str) -> str:
    """A display name, stripped; '' for none. Raises ValueError naming the field, the value and what is allowed."""
    name = " ".join((text or "").split())
    if len(name) > NAME_MAX or not name.isprintable():
        raise ValueError(f"display name {text[:40]!r} is invalid: at most {NAME_MAX} printable characters")
    return name


def new_room_code(n: int = 5) -> str:
    """A fresh room code of n unambiguous characters."""
    return "".join(secrets.choice(ROOM_ALPHABET) for _ in range(n))


def changed_settings(config: dict) -> dict:
    """The settings of a stored config that differ from the defaults (the seed left out: it has its own column)."""
    return {k: v for k, v in config.items() if k != "seed" and k in DEFAULTS and DEFAULTS[k] != v}


def settings_text(config: dict) -> str:
    """'lr=0.1, depth=3', or 'defaults'."""
    return ", ".join(f"{k}={v}" for k, v in changed_settings(config).items()) or "defaults"


def top_hint(hints) -> str:
    """The most severe hint's text ('' without hints)."""
    ranked = sorted(enumerate(hints), key=lambda ih: (LEVEL_RANK.get(ih[1].level, 9), ih[0]))
    return ranked[0][1].text if ranked else ""


@dataclass
class BoardRow:
    """One run on the board."""

    run_id: str
    who: str
    settings: str
    seed: int
    status: str
    step: int
    val_acc: float | None
    hint: str
    started: float
    config: dict = field(default_factory=dict)


@dataclass
class Board:
    """A room's runs followed incrementally: histories and hints are kept between polls, by run id."""

    room: str
    histories: dict = field(default_factory=dict)
    hints: dict = field(default_factory=dict)  # run id -> (layer version, top hint)

    def rows(self, store: RunStore) -> list[BoardRow]:
        """Every run of the room, newest first, read incrementally (hints rebuilt only when a run's data moved)."""
        out = []
        for row in store.room_runs(self.room):
            h = self.histories.setdefault(row["id"], RunHistory(row["id"]))
            h.fetch_new(store)
            version = layer_version([h])
            if self.hints.get(h.run_id, ("",))[0] != version:
                self.hints[h.run_id] = (version, top_hint(diagnose_run(h.row, h.train, h.val, h.snapshots)))
            last_val = h.val[-1].get("val_acc") if h.val else None
            out.append(
                BoardRow(
                    run_id=h.run_id,
                    who=row.get("student") or "(no name)",
                    settings=settings_text(row["config"]),
                    seed=int(row["config"].get("seed", 0)),
                    status=h.status,
                    step=h.train[-1]["step"] if h.train else 0,
                    val_acc=last_val,
                    hint=self.hints[h.run_id][1],
                    started=row["created"],
                    config=row["config"],
                )
            )
        return out


def sort_rows(rows: list[BoardRow], key: str = "started", descending: bool = True) -> list[BoardRow]:
    """Rows sorted by one of SORT_KEYS (runs without a validation accuracy go last either way)."""
    if key not in SORT_KEYS:
        raise ValueError(f"sort key {key!r} is invalid: expected one of {', '.join(SORT_KEYS)}")
    present = [r for r in rows if getattr(r, key) is not None]
    missing = [r for r in rows if getattr(r, key) is None]
    return sorted(present, key=lambda r: getattr(r, key), reverse=descending) + missing
