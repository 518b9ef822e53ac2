"""What `lab.serving.runtime.prepare_training_process` buys: the lab's Trainer in a raw process against a prepared one.

Each measurement is a fresh process (the settings are process-wide) training the default CNN
with full recording for `--steps` steps; raw and prepared processes alternate, in pairs whose
order alternates too, and the script prints images/s, page faults and the median paired ratio.

    python bench/process.py [--pairs 4] [--steps 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(mode: str, steps: int) -> None:
    """Train in this process and print one JSON line: images/s and page faults over the timed steps."""
    import resource
    import time

    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(1)
    from lab.config import RunConfig
    from lab.engine.data import load_data
    from lab.engine.trainer import Trainer
    from lab.serving.runtime import prepare_training_process

    cfg = RunConfig(model="cnn")
    data = load_data(cfg)
    if mode == "prepared":
        prepare_training_process()
    tr = Trainer(cfg.replace(max_steps=steps + 20, epochs=10_000), data=data)
    tr.advance(20)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    tr.advance(steps)
    dt = time.perf_counter() - t0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    print(json.dumps({"ips": steps * tr.batch_size / dt, "faults": faults}))


def measure(mode: str, steps: int) -> dict:
    """Run one child process and return its JSON line."""
    cmd = [sys.executable, __file__, "--child", mode, "--steps", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Alternate raw and prepared processes and print the paired speed ratio."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=4)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--child", choices=("raw", "prepared"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.steps)
        return
    got: dict[str, list[dict]] = {"raw": [], "prepared": []}
    for i in range(args.pairs):
        for mode in ("raw", "prepared") if i % 2 == 0 else ("prepared", "raw"):
            got[mode].append(measure(mode, args.steps))
    print(f"default CNN on digits, lab Trainer with recording, {args.steps} steps per process, 1 thread")
    for mode, rows in got.items():
        ips = [r["ips"] for r in rows]
        faults = statistics.median(r["faults"] for r in rows)
        print(
            f"{mode:9s}: median {statistics.median(ips):8.0f} images/s ({', '.join(f'{x:.0f}' for x in ips)}), "
            f"median {faults:.0f} page faults"
        )
    ratios = [p["ips"] / r["ips"] for p, r in zip(got["prepared"], got["raw"], strict=True)]
    print(
        f"speed prepared/raw: median of pairs {statistics.median(ratios):.3f}x "
        f"(pairs {', '.join(f'{x:.2f}' for x in ratios)})"
    )


if __name__ == "__main__":
    main()
