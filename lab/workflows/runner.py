"""Call a workflow function by its dotted name inside the offload worker, so pages never import torch.

`lab.workflows.offload.submit(fn, ...)` pickles `fn` by reference, which means the page
must import the function's module first. The ensemble, transfer and data-parallel
functions live in modules that import torch at the top; importing them in the web
process would load torch there (seconds and hundreds of MB per server). Submitting
`call` with the target's name instead keeps the import on the worker's side.
"""

from __future__ import annotations

import importlib
from typing import Any

ALLOWED_PREFIX = "lab.workflows."  # only our own workflow modules can be called this way


def resolve(target: str):
    """The function named 'package.module:function'; raises ValueError naming the target otherwise."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name.startswith(ALLOWED_PREFIX) or not attr.isidentifier():
        raise ValueError(f"target={target!r} is invalid: 'lab.workflows.<module>:<function>'")
    fn = getattr(importlib.import_module(module_name), attr, None)
    if not callable(fn):
        raise ValueError(f"target={target!r} is invalid: {module_name} has no function {attr}")
    return fn


def call(target: str, *args: Any, **kwargs: Any) -> Any:
    """Import the target in this (worker) process and return target(*args, **kwargs)."""
    return resolve(target)(*args, **kwargs)
