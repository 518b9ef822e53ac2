"""How long each concept page takes to answer a control change (target: under 0.5 s).

For every page: run it once in AppTest (imports, data loading and first-visit caches are not what a student
waits for on a knob), then change one control at a time to a value not seen before, so every change misses
the caches it can miss, and time `at.run()`. The whole sequence is repeated --repeat times with Streamlit's
caches cleared in between, and each change keeps its fastest repetition: this machine is shared, and the
minimum is the measurement least disturbed by other people's work. Wall time is the verdict; the CPU time
the process itself used is printed next to it (it hardly changes with the load from others).
Buttons that deliberately train networks (the preprocessing race, the L1/L2 comparison) are listed
separately: they are explicit "train these" actions, not knobs.

    .venv/bin/python bench/concepts_latency.py [--threads 1] [--repeat 3] [--pages activations,optimizers]

Torch runs with --threads intra-op threads (1 by default: the web process's own setting in DESIGN.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_S = 0.5

# page -> control changes: (widget kind, key, new value). Values differ from the defaults and from each other.
CHANGES: dict[str, list[tuple[str, str, object]]] = {
    "activations": [
        ("slider", "act_slope", 0.2),
        ("slider", "act_alpha", 2.0),
        ("slider", "act_beta", 3.0),
        ("slider", "act_k", 4),
        ("select_slider", "act_thr", 0.05),
        ("selectbox", "act_source", "relu"),
        ("multiselect", "act_pick", ["sigmoid", "tanh", "relu", "elu", "gelu"]),
    ],
    "initialization": [
        ("slider", "init_depth", 12),
        ("select_slider", "init_width", 250),
        ("selectbox", "init_act", "relu"),
        ("selectbox", "init_scheme", "kaiming_normal"),
        ("select_slider", "init_batch", 500),
        ("slider", "init_sym_steps", 60),
        ("selectbox", "init_sym_act", "relu"),
    ],
    "optimizers": [
        ("selectbox", "opt_surface", "rosenbrock"),
        ("slider", "opt_steps", 200),
        ("number_input", "opt_rosenbrock_adam_lr", 0.3),
        ("slider", "opt_rosenbrock_momentum_mom", 0.95),
        ("multiselect", "opt_pick", ["sgd", "momentum", "rmsprop", "adam", "nesterov"]),
        ("selectbox", "opt_surface", "wells"),
    ],
    "schedules": [
        ("slider", "sched_steps", 2000),
        ("slider", "sched_warmup", 100),
        ("slider", "sched_gamma", 0.3),
        ("toggle", "sched_log", True),
        ("select_slider", "lb_new", 2048),
        ("slider", "lb_epochs", 20),
    ],
    "preprocessing": [
        ("slider", "pre_angle", 60),
        ("slider", "pre_stretch", 5.0),
        ("slider", "pre_dx", -2.0),
        ("radio", "pre_dataset", "shapes"),
        ("number_input", "pre_index", 3),
    ],
    "regularization": [
        ("slider", "reg_aug_rotate", 60.0),
        ("slider", "reg_n", 4),
        ("radio", "reg_dataset", "digits"),
        ("slider", "reg_aug_mixup", 2.0),
        ("slider", "reg_dropout_p", 0.3),
        ("slider", "reg_bn_momentum", 0.3),
        ("select_slider", "reg_bn_batch", 8),
    ],
}

# Explicit training actions: (page, [(kind, key, value)...], submit button key).
ACTIONS = {
    "preprocessing race": ("preprocessing", [("select_slider", "pre_race_lr", 0.1)], "pre_race_go"),
    "L1 vs L2 runs": ("regularization", [("select_slider", "reg_l1", 3e-4)], "reg_penalty_go"),
}


def _set(at, kind: str, key: str, value) -> None:
    widget = getattr(at, kind)(key=key)
    widget.set_value(value)


def _time_run(at) -> tuple[float, float]:
    """(wall, CPU) seconds of one rerun; CPU is the whole process's, the script thread included."""
    t, c = time.perf_counter(), time.process_time()
    at.run()
    elapsed = time.perf_counter() - t, time.process_time() - c
    if at.exception:
        raise RuntimeError(f"page raised: {[e.value for e in at.exception]}")
    return elapsed


def _fresh(page: str, timeout: float):
    """A page after its first run, with Streamlit's caches emptied first (so every sequence starts alike)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=timeout).run()
    if at.exception:
        raise RuntimeError(f"{page} raised on its first run: {[e.value for e in at.exception]}")
    return at


def bench_page(
    page: str, changes: list[tuple[str, str, object]], timeout: float, repeat: int
) -> list[tuple[str, float, float]]:
    """(change, wall s, CPU s) per control change on one page, the fastest of `repeat` sequences."""
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeat):
        at = _fresh(page, timeout)
        for kind, key, value in changes:
            _set(at, kind, key, value)
            name = f"{key}={value}"
            wall, cpu = _time_run(at)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
    return [(name, wall, cpu) for name, (wall, cpu) in best.items()]


def bench_action(page: str, changes: list[tuple[str, str, object]], button: str, timeout: float) -> float:
    """Seconds for a form submit that trains networks."""
    at = _fresh(page, timeout)
    for kind, key, value in changes:
        _set(at, kind, key, value)
    at.button(key=button).click()
    return _time_run(at)[0]


def main() -> None:
    """Run the benchmark and print one row per page."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the web process uses 1)")
    ap.add_argument("--pages", default=",".join(CHANGES), help="comma-separated subset of pages")
    ap.add_argument("--verbose", action="store_true", help="print every change's time")
    ap.add_argument("--timeout", type=float, default=300.0, help="AppTest timeout per run, seconds")
    ap.add_argument("--repeat", type=int, default=3, help="sequences per page; each change keeps its fastest")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    print(f"concept pages: seconds from a control change to a finished rerun (AppTest), target < {TARGET_S} s")
    print(
        f"torch threads {args.threads}, {os.cpu_count()} cores, best of {args.repeat} sequences, "
        f"load average {os.getloadavg()[0]:.1f} at start\n"
    )
    print(f"{'page':<16}{'changes':>8}{'median s':>10}{'worst s':>9}{'its CPU s':>11}  {'worst change':<44}verdict")
    failed = False
    for page in args.pages.split(","):
        rows = bench_page(page, CHANGES[page], args.timeout, args.repeat)
        worst = max(rows, key=lambda r: r[1])
        ok = worst[1] < TARGET_S
        failed |= not ok
        print(
            f"{page:<16}{len(rows):>8}{statistics.median(r[1] for r in rows):>10.3f}{worst[1]:>9.3f}"
            f"{worst[2]:>11.3f}  {worst[0][:43]:<44}{'ok' if ok else 'SLOW'}"
        )
        if args.verbose:
            for name, wall, cpu in rows:
                print(f"{'':<24}{wall:>19.3f}{cpu:>11.3f}  {name}")
    print("\nexplicit training actions (a submit button that trains small networks; cached afterwards):")
    for name, (page, changes, button) in ACTIONS.items():
        if page in args.pages.split(","):
            print(f"  {name:<22}{bench_action(page, changes, button, args.timeout):>8.2f} s")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
