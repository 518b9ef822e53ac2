"""Pluggable executors for the JobManager: `local` worker processes (default) or `ray` actors."""

from __future__ import annotations

from lab.serving.executors.base import Event, Executor
from lab.serving.settings import Settings, SettingsError


def make_executor(settings: Settings, store_path: str) -> Executor:
    """The executor named by `settings.executor`; Ray is imported only when asked for."""
    if settings.executor == "ray":
        try:
            import ray  # noqa: F401  (optional dependency: fail here with a useful line)
        except ModuleNotFoundError:
            raise SettingsError(
                "setting executor='ray' needs the optional package ray: pip install ray==2.60.0"
            ) from None
        from lab.serving.executors.ray import RayExecutor

        return RayExecutor(settings, store_path)
    from lab.serving.executors.local import LocalExecutor

    return LocalExecutor(settings, store_path)


__all__ = ["Event", "Executor", "make_executor"]
