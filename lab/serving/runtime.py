"""Process settings for the processes that train: keep freed memory, and keep the garbage collector off the imports.

Two process-wide costs of a PyTorch training loop that the loop itself cannot see:

- **The allocator.** glibc serves blocks above a sliding threshold (128 KB at first) with a fresh
  `mmap` and gives them back with `munmap`, and trims the top of its heap back to the OS. An
  evaluation pass allocates and frees blocks of a few MB (all validation images at once), so each
  one faults the same pages in again: about 1,900 page faults per evaluation of the default CNN,
  where the evaluations are a fifth of its training time. Fixed thresholds (blocks up to 32 MB
  from the heap, at most 256 MB of free heap kept) stop the churn; the peak memory of a run does
  not change, it is only not handed back.
- **The cyclic garbage collector.** After `import torch` a process tracks about 400,000 objects.
  The lab's own history (a dict per train row, lists for histograms) adds container objects every
  step, and every so often Python answers with a full collection that walks all of them: 0.2 s
  on this machine, 2% of a 3,000-step run. `gc.freeze()` after the imports moves what exists to a
  permanent generation that collections skip; objects made later are collected as usual.

`prepare_training_process()` applies both, once per process. The lab's worker processes, the CLI
and the page-helper pool call it; a notebook that imports `lab.engine.trainer` keeps its own settings.
Measured by `bench/process.py`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys

# mallopt parameter numbers from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's own upper limit for the sliding threshold: blocks below it reuse the heap
TRIM_THRESHOLD = 256 << 20  # free memory kept at the heap's top before any is returned
TOP_PAD = 16 << 20  # extra asked from the OS when the heap grows, so it grows rarely

_prepared = False


def tune_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds (see the module docstring); False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt, nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = [mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD), mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)]
    ok.append(mallopt(M_TOP_PAD, TOP_PAD))
    return all(v == 1 for v in ok)  # mallopt returns 1 on success


def freeze_imports() -> None:
    """Collect what is garbage now, then move every tracked object out of the collector's way."""
    gc.collect()
    gc.freeze()


def set_threads(threads: int) -> None:
    """Give torch `threads` threads (before its first use where possible, so OpenMP agrees)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)


def error_reason(e: BaseException, plain: tuple[type[BaseException], ...] = ()) -> str:
    """A one-line, bounded description of an error: 'Type: first line', or the text alone for `plain` types
    (a ValueError from validation already names the field and the value)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return (text if isinstance(e, plain) else f"{type(e).__name__}: {text}")[:300]


def prepare_training_process() -> None:
    """Tune the allocator and freeze the objects imported so far; idempotent, call after the heavy imports."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    tune_allocator()
    freeze_imports()
