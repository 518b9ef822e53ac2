"""Hint: one finding of the diagnosis, as the pages, the feed and the CLI show it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

LEVELS = ("bad", "warn", "info", "ok")  # most serious first


@dataclass(frozen=True)
class Hint:
    """One finding: severity, a short title, a sentence, the layer (or ""), its cause id, when it began, a fix."""

    level: str  # "bad" | "warn" | "info" | "ok"
    topic: str  # short human title
    text: str
    layer: str = ""
    cause: str = ""  # stable id, listed in lab.diagnosis
    step: int | None = None  # the step at which the evidence first appeared
    fix: dict | None = None  # one or two RunConfig field changes (validated), or None


def hints_as_dicts(hints: list[Hint]) -> list[dict]:
    """JSON-ready hints: every field, plus `try` (the fix again, under the CLI JSON's name)."""
    return [{**asdict(h), "try": h.fix} for h in hints]
