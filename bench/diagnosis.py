"""The diagnosis measured: is each pathology named, and does its suggested fix help?

Trains every scenario of `lab.diagnosis.scenarios` as a user would (through the StoreWriter,
diagnosed from the stored rows), then, for each pathology that got a fix, the same config and
seed with that fix applied. A fix "helped" when validation accuracy rose (by more than half a
point) or, for a run that diverged, when the fixed run completed. Healthy runs count a false alarm
for any warning or error hint.

    python bench/diagnosis.py [--threads 1]

The last line reads `diagnosed N of M, false alarms K of H healthy runs, fixes that helped F of W`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lab.diagnosis.scenarios import HEALTHY, PATHOLOGIES  # noqa: E402
from lab.diagnosis.verdict import fix_verdict  # noqa: E402
from lab.workflows.diagnosis_suite import check_fix, run  # noqa: E402


def main() -> None:
    """Run the suite and print one line per scenario, then the totals."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads (the runs are small)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.process_time()
    named = helped = tried = 0
    for s in PATHOLOGIES:
        o = run(s)
        first = o.problems[0] if o.problems else None
        ok = first is not None and first.cause == s.cause
        named += ok
        got = first.cause if first else "no warning"
        line = f"{s.pathology:<58} {'named' if ok else 'MISSED'} ({got})"
        fix, after, good = check_fix(o)
        if fix and after is not None:
            tried += 1
            helped += good
            line += f"; try {fix}: {fix_verdict(o.summary, after.summary, {'fix': fix})}"
        print(line, flush=True)
    alarms = 0
    for s in HEALTHY:
        o = run(s)
        alarms += bool(o.problems)
        what = ", ".join(h.cause for h in o.problems) or "no warning"
        print(f"{s.pathology:<58} {what} (validation accuracy {o.summary.get('val_acc', 0):.0%})", flush=True)
    print(f"cpu time {time.process_time() - t0:.0f} s")
    print(
        f"diagnosed {named} of {len(PATHOLOGIES)}, false alarms {alarms} of {len(HEALTHY)} healthy runs, "
        f"fixes that helped {helped} of {tried}"
    )


if __name__ == "__main__":
    main()
