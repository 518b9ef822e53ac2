"""Process preparation: measured by its effects in fresh processes (page faults, the collector's view)."""

import json
import subprocess
import sys
import textwrap

import pytest

# Trains the default CNN, evaluating every 10 steps: an evaluation allocates and frees blocks of a
# few MB (720 images at once). At glibc's initial thresholds (128 KiB for both mmap and trim) they
# come from fresh mmaps or a heap top that is trimmed after each, so every evaluation faults its
# pages in again. glibc slides those thresholds up after the first free, but whether the sliding
# saves a given run depends on the heap's layout (19,000 faults on one machine, 181 on CI's), so
# the reference arm fixes the initial values: the churn the tuning must remove is then always there.
CHURN = textwrap.dedent(
    """
    import ctypes, json, resource, sys
    import torch
    torch.set_num_threads(1)
    from lab.serving import runtime
    from lab.config import RunConfig
    from lab.engine.trainer import Trainer
    if sys.argv[1] == "tuned":
        tuned = runtime.tune_allocator()
    else:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
        initial = 128 << 10
        tuned = mallopt(runtime.M_MMAP_THRESHOLD, initial) == 1 and mallopt(runtime.M_TRIM_THRESHOLD, initial) == 1
        tuned = None if tuned else "mallopt failed"
    tr = Trainer(RunConfig(model="cnn", max_steps=200, eval_every=10), record=False)
    tr.advance(20)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    tr.advance(100)
    print(json.dumps({"tuned": tuned, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0}))
    """
)


def _churn(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_tuned_allocator_stops_faulting_pages_in_again():
    initial, tuned = _churn("initial"), _churn("tuned")
    assert initial["tuned"] is None and tuned["tuned"] is True
    assert initial["faults"] > 10 * max(tuned["faults"], 100), (initial, tuned)


def test_prepare_freezes_the_imports_once():
    code = textwrap.dedent(
        """
        import gc, json
        import torch
        from lab.serving.runtime import prepare_training_process
        before = gc.get_freeze_count()
        prepare_training_process()
        frozen = gc.get_freeze_count()
        prepare_training_process()  # idempotent: a second call freezes nothing new
        garbage = []
        garbage.append(garbage)  # a cycle made after the freeze is still collected
        del garbage
        again, collected = gc.get_freeze_count(), gc.collect()
        print(json.dumps({"before": before, "frozen": frozen, "again": again, "collected": collected}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["before"] == 0 and got["frozen"] > 100_000  # torch's import alone tracks hundreds of thousands
    assert got["again"] == got["frozen"]
    assert got["collected"] >= 1
