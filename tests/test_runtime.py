"""Process preparation: measured by its effects in fresh processes (page faults, the collector's view)."""

import json
import subprocess
import sys
import textwrap

import pytest

# Trains the default CNN, evaluating every 10 steps: an evaluation allocates and frees blocks of a
# few MB (720 images at once). With glibc's default thresholds they come from fresh mmaps or a heap
# top that is trimmed after each, so every evaluation faults its pages in again.
CHURN = textwrap.dedent(
    """
    import json, resource, sys
    import torch
    torch.set_num_threads(1)
    from lab.serving import runtime
    from lab.config import RunConfig
    from lab.engine.trainer import Trainer
    tuned = runtime.tune_allocator() if sys.argv[1] == "tuned" else None
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
    default, tuned = _churn("default"), _churn("tuned")
    assert tuned["tuned"] is True
    # Measured: about 19,000 faults for 100 steps (10 evaluations) with the defaults, under 200 tuned.
    assert default["faults"] > 10 * max(tuned["faults"], 100), (default, tuned)


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
