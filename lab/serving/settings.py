"""Server settings: one TOML file plus environment variables (environment wins).

The file is `TRAINING_LAB_SETTINGS` if set, else `settings.toml` in the working
directory when present. Each field can be overridden by `TRAINING_LAB_<NAME>` in
upper case, e.g. `TRAINING_LAB_WORKERS=4`. Unknown keys and bad values raise a
one-line `SettingsError`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from lab.config import Limits
from lab.serving.store import default_store_path


class SettingsError(ValueError):
    """A bad settings value: names the key, the value and what is allowed."""


CHOICES = {"executor": ("local", "ray")}  # text settings that take one of a few names


@dataclass(frozen=True)
class Settings:
    """Everything an operator may tune; defaults suit one laptop."""

    store: str = ""  # SQLite file for runs ('' = TRAINING_LAB_STORE or ~/.local/share/training_lab/runs.db)
    data_dir: str = ""  # torchvision download cache, passed to each Trainer ('' = ~/.cache/training_lab/data)
    workers: int = 0  # training worker processes (0 = one per CPU core)
    threads_per_worker: int = 0  # torch threads in each worker (0 = cores // workers, at least 1)
    slice_seconds: float = 0.05  # a worker steps each of its runs this long before moving to the next
    max_active_runs: int = 64  # runs training at once on the server; more wait in a visible queue
    max_runs_per_session: int = 2  # one run plus its A/B partner per browser session
    max_params: int = Limits.max_params
    max_steps: int = Limits.max_steps
    max_samples: int = Limits.max_samples
    max_batch: int = Limits.max_batch
    executor: str = "local"  # where workers run: 'local' processes, or 'ray' actors (needs `pip install ray`)
    ray_address: str = ""  # with executor='ray': '' = start a private local Ray, 'auto' = the one `ray start`
    # ran on this machine (or $RAY_ADDRESS), else 'host:port' of a cluster's head or 'ray://host:10001'

    def __post_init__(self) -> None:
        for key, allowed in CHOICES.items():
            value = getattr(self, key)
            if value not in allowed:
                raise SettingsError(f"setting {key}={value!r} is invalid: one of {', '.join(allowed)}")

    @property
    def limits(self) -> Limits:
        """The run limits part of the settings."""
        return Limits(self.max_params, self.max_steps, self.max_samples, self.max_batch)

    @property
    def store_path(self) -> Path:
        """Where the run store lives."""
        return Path(self.store) if self.store else default_store_path()

    @property
    def n_workers(self) -> int:
        """Worker processes to start."""
        return self.workers or max(1, os.cpu_count() or 1)

    @property
    def n_threads(self) -> int:
        """Torch threads per worker so that workers x threads fits the cores."""
        return self.threads_per_worker or max(1, (os.cpu_count() or 1) // self.n_workers)


def _parse(name: str, raw: object, kind: type) -> object:
    try:
        if kind is int:
            value = int(raw)  # type: ignore[arg-type]
            if value < 0:
                raise ValueError
            return value
        if kind is float:
            value = float(raw)  # type: ignore[arg-type]
            if not value > 0:
                raise ValueError
            return value
        return str(raw)
    except (TypeError, ValueError):
        allowed = {int: "a whole number >= 0", float: "a number > 0", str: "text"}[kind]
        raise SettingsError(f"setting {name}={raw!r} is invalid: {allowed}") from None


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Settings from the TOML file (if any) overridden by TRAINING_LAB_* environment variables."""
    env = dict(os.environ) if env is None else env
    path = path or env.get("TRAINING_LAB_SETTINGS") or ("settings.toml" if Path("settings.toml").exists() else None)
    raw: dict[str, object] = {}
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"settings file {path}: {e}") from None
    kinds = {f.name: type(f.default) for f in fields(Settings)}
    for key in raw:
        if key not in kinds:
            raise SettingsError(f"setting {key!r} is unknown; known: {', '.join(kinds)}")
    for key in kinds:
        env_key = f"TRAINING_LAB_{key.upper()}"
        if env_key in env:
            raw[key] = env[env_key]
    return Settings(**{k: _parse(k, v, kinds[k]) for k, v in raw.items()})
