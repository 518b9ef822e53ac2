"""Reproduce the shipped transfer-learning backbone: assets/backbone/shapes_cnn.pt and shapes_cnn.json.

The source task is four of the eight generated shapes (circle, square, triangle, cross)
from generator seeds 1000 and 1001: 2,000 images, 1,600 to train and 400 to validate. The
network is a small CNN (two 3x3 conv stages of 16 and 32 channels, max pooling, one hidden
FC layer of 64 units, ReLU, no batch norm or dropout), trained with Adam at 3e-3 for
10 epochs, seed 0; one torch thread so the float sums, and the file, come out the same.

The target task (the Transfer learning page) is the other four shapes (horizontal bar,
vertical bar, ring, diamond) from generator seed 7, with about ten labels per class. It
was picked because the new classes are built from the old ones' parts: bars are the arms
of a cross, a ring is a circle's outline, a diamond is a turned square. Early filters that
find edges and strokes therefore carry over, and with 40 labels a network trained from
random weights cannot learn them on its own (about 75-80% against about 90% and more for
the transferred ones at ten labels per class). Pairing digits 0-4 with digits 5-9 was tried
first and rejected: 8x8 digits are so easy that training from scratch on 50 labels already
beats the transferred features.

    python scripts/pretrain_backbone.py                 # rewrites assets/backbone/
    python scripts/pretrain_backbone.py --epochs 1 --out /tmp/bb   # a quick check of the pipeline
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> Path:
    """Pretrain, save the weights and metadata, print a one-line summary; returns the weights' path."""
    import torch

    from lab.workflows import transfer
    from lab.workflows.transfer_info import SOURCE_GENERATOR_SEEDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=transfer.PRETRAIN_EPOCHS, help="passes over the source images")
    parser.add_argument("--seed", type=int, default=0, help="seeds the split, the init and the shuffling")
    parser.add_argument(
        "--generator-seeds",
        type=int,
        nargs="+",
        default=list(SOURCE_GENERATOR_SEEDS),
        help="shapes generator seeds whose source-class images form the source task",
    )
    parser.add_argument("--out", type=Path, default=transfer.ASSET_DIR, help="folder for the .pt and .json files")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs={args.epochs} is invalid: at least 1")
    torch.set_num_threads(1)  # one thread: the same float sums in the same order on every run
    state, meta = transfer.pretrain(args.epochs, tuple(args.generator_seeds), args.seed)
    path = transfer.save_backbone(state, meta, args.out)
    print(
        f"{path}: {meta['n_params']:,} parameters, {path.stat().st_size / 1024:.0f} kB, "
        f"source val acc {meta['source']['val_acc']:.3f} after {args.epochs} epochs"
    )
    return path


if __name__ == "__main__":
    main()
