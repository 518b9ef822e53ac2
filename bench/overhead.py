"""Recording overhead: a plain PyTorch loop against the lab's Trainer with full recording.

Both train the default CNN on the default (embedded) data for the same number of steps,
with the same batches, optimizer and evaluation schedule. Rounds alternate between the
two so that machine load hits both alike. Prints images/s of each and their ratio.

    python bench/overhead.py [--steps 300] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lab.config import RunConfig  # noqa: E402
from lab.data import load_data  # noqa: E402
from lab.models import build_model  # noqa: E402
from lab.optim import LRSchedule, make_optimizer  # noqa: E402
from lab.trainer import Trainer, auto_eval_every  # noqa: E402


def plain_loop(cfg: RunConfig, data, steps: int) -> float:
    """Images/s of a hand-written loop doing the same work as the Trainer minus the lab's machinery."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data.input_shape, data.n_classes)
    opt = make_optimizer(model.parameters(), cfg)
    sched = LRSchedule(opt, cfg, steps)
    x, y = data.x_train, data.y_train
    bs = cfg.batch_size
    per_epoch = len(x) // bs
    eval_every = auto_eval_every(per_epoch, steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    step = 0
    while step < steps:
        perm = torch.randperm(len(x), generator=gen)
        for i in range(per_epoch):
            idx = perm[i * bs : (i + 1) * bs]
            model.train()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            float(loss.detach())  # the lab reads the loss every step too
            step += 1
            if step % eval_every == 0 or step == steps:
                model.eval()
                with torch.no_grad():
                    F.cross_entropy(model(data.x_val), data.y_val)
                    k = min(len(x), max(len(data.x_val), 256))
                    F.cross_entropy(model(x[:k]), y[:k])
            if step >= steps:
                break
    return steps * bs / (time.perf_counter() - t0)


def lab_trainer(cfg: RunConfig, data, steps: int) -> tuple[float, int]:
    """Images/s of the lab's Trainer with the recorder at its default cadence, and snapshots taken."""
    tr = Trainer(cfg.replace(max_steps=steps, epochs=10_000), data=data)
    t0 = time.perf_counter()
    tr.fit()
    return steps * cfg.batch_size / (time.perf_counter() - t0), len(tr.history.snapshots)


def main() -> None:
    """Interleave rounds of both loops and print the medians and their ratio."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = RunConfig(model="cnn")
    data = load_data(cfg)
    plain_loop(cfg, data, 20)  # warm up both paths (allocator, kernels)
    lab_trainer(cfg, data, 20)
    plain, lab, snaps = [], [], 0
    for r in range(args.rounds):
        order = (plain_loop, lab_trainer) if r % 2 == 0 else (lab_trainer, plain_loop)
        for fn in order:
            if fn is plain_loop:
                plain.append(plain_loop(cfg, data, args.steps))
            else:
                ips, snaps = lab_trainer(cfg, data, args.steps)
                lab.append(ips)
    mp, ml = statistics.median(plain), statistics.median(lab)
    print(f"default CNN on {cfg.dataset}, {args.steps} steps x {args.rounds} rounds, {args.threads} thread(s)")
    print(f"plain loop : {mp:9.0f} images/s  (rounds: {', '.join(f'{v:.0f}' for v in plain)})")
    print(f"lab Trainer: {ml:9.0f} images/s  (rounds: {', '.join(f'{v:.0f}' for v in lab)}), {snaps} snapshots/run")
    print(f"ratio plain/lab = {mp / ml:.3f}x  (target <= 1.05x)")


if __name__ == "__main__":
    main()
