"""What data parallelism costs on this machine: all-reduce time against the compute it lets two processes share.

Part 1 times one all-reduce of float32 buffers from 1 thousand to 4 million numbers in a
two-process gloo group (CPU, median of --repeats calls) and prints the algorithm bandwidth
(buffer bytes / time) and the bus bandwidth (what a ring moves per process: 2(W-1)/W of it).
Part 2 runs the Large batches page's data-parallel check on the lab's default MLP (digits)
and default CNN (shapes): gradient size, forward+backward time on half a batch, one
all-reduce of that gradient, and their ratio. A ratio well below 1 means splitting pays.

    python bench/allreduce.py [--repeats 20] [--batch 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.config import RunConfig  # noqa: E402

SIZES = [1_000, 10_000, 100_000, 1_000_000, 4_000_000]
MODELS = {
    "MLP on digits (default)": RunConfig(),
    "CNN on shapes (default)": RunConfig(model="cnn", dataset="shapes"),
    "wide CNN on shapes (64 channels, 3 stages)": RunConfig(
        model="cnn", dataset="shapes", base_channels=64, cnn_stages=3
    ),
}


def main(argv: list[str] | None = None) -> None:
    """Print both tables."""
    import torch

    from lab.workflows import distributed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per measurement (the median is printed)")
    parser.add_argument("--batch", type=int, default=64, help="batch size of part 2, split in two")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(
        f"all-reduce, {distributed.WORLD} processes, gloo on CPU, torch {torch.__version__}, median of {args.repeats}"
    )
    print(f"{'numbers':>10} {'kB':>10} {'ms':>9} {'algbw MB/s':>11} {'busbw MB/s':>11}")
    for row in distributed.allreduce_sweep(SIZES, args.repeats):
        print(
            f"{row['numel']:>10,} {row['bytes'] / 1024:>10.1f} {row['ms']:>9.3f} {row['algbw_mb_s']:>11.1f} "
            f"{row['busbw_mb_s']:>11.1f}"
        )
    print(f"\nper step, batch {args.batch} split in two (median of {args.repeats})")
    print(
        f"{'model':<44} {'params':>9} {'grad kB':>8} {'fwd+bwd half ms':>16} {'all-reduce ms':>14} "
        f"{'ratio':>6} {'1-process full ms':>18} {'max |grad diff|':>16}"
    )
    for name, cfg in MODELS.items():
        r = distributed.data_parallel_check(cfg.to_dict(), args.batch, 3, args.repeats)
        ratio = r["allreduce_ms"] / r["compute_half_ms"]
        print(
            f"{name:<44} {r['n_params']:>9,} {r['grad_bytes'] / 1024:>8.1f} {r['compute_half_ms']:>16.2f} "
            f"{r['allreduce_ms']:>14.3f} {ratio:>6.2f} {r['compute_full_ms']:>18.2f} {r['max_abs_diff']:>16.1e}"
        )


if __name__ == "__main__":
    main()
