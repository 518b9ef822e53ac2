"""Recording overhead: a plain PyTorch loop against the lab's Trainer with full recording.

Both train the default CNN on the default (embedded) data with the same batches,
optimizer and evaluation cadence. They advance side by side in chunks of `--chunk`
steps, alternating which goes first, so slow drifts of this shared machine hit both
alike; each pair of chunks gives one ratio and the script prints the median.

Two copies of the same loop in one process differ by up to 2-3% (where their tensors land in
memory), so each side is `--instances` copies taken in turn, and a pair always compares copy i
with copy i. Every Trainer is built for the whole run's length, so its recording cadence is the
one a single run of that length would have.

The process is first prepared as the lab's training processes are (`lab.serving.runtime`: allocator
thresholds, imports frozen for the garbage collector); the plain loop shares the process and so
benefits alike. `--raw-process` skips that preparation.

    python bench/overhead.py [--chunks 90] [--chunk 50] [--instances 3] [--threads 1]
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
from lab.engine.data import load_data  # noqa: E402
from lab.engine.models import build_model  # noqa: E402
from lab.engine.optim import LRSchedule, make_optimizer  # noqa: E402
from lab.engine.trainer import Trainer, auto_eval_every  # noqa: E402
from lab.serving.runtime import prepare_training_process  # noqa: E402


class PlainLoop:
    """A hand-written loop doing the Trainer's work without the lab's machinery (callbacks, recording)."""

    def __init__(self, cfg: RunConfig, data, total_steps: int):
        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg, data.input_shape, data.n_classes)
        self.opt = make_optimizer(self.model.parameters(), cfg)
        self.sched = LRSchedule(self.opt, cfg, total_steps)
        self.data, self.bs = data, cfg.batch_size
        self.per_epoch = len(data.x_train) // self.bs
        self.eval_every = auto_eval_every(self.per_epoch, total_steps)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.step = 0
        self.perm = None
        self.model.train()

    def advance(self, n: int) -> None:
        """Train n steps (evaluating on the same cadence as the Trainer)."""
        x, y, d = self.data.x_train, self.data.y_train, self.data
        for _ in range(n):
            i = self.step % self.per_epoch
            if i == 0:
                self.perm = torch.randperm(len(x), generator=self.gen)
            idx = self.perm[i * self.bs : (i + 1) * self.bs]
            loss = F.cross_entropy(self.model(x[idx]), y[idx])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.sched.step()
            float(loss.detach())  # the lab reads the loss every step too
            self.step += 1
            if self.step % self.eval_every == 0:
                self.model.eval()
                with torch.no_grad():
                    F.cross_entropy(self.model(d.x_val), d.y_val)
                    k = min(len(x), max(len(d.x_val), 256))
                    F.cross_entropy(self.model(x[:k]), y[:k])
                self.model.train()  # back to training mode once per evaluation, as the Trainer does


def main() -> None:
    """Alternate chunks of both loops and print images/s and the median paired ratio."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chunks", type=int, default=90)
    p.add_argument("--chunk", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--instances", type=int, default=3, help="copies of each loop, taken in turn")
    p.add_argument("--raw-process", action="store_true", help="skip lab.serving.runtime's process preparation")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = RunConfig(model="cnn")
    data = load_data(cfg)
    if not args.raw_process:
        prepare_training_process()
    total = args.chunks * args.chunk + 20
    k = max(1, args.instances)
    plains = [PlainLoop(cfg, data, total) for _ in range(k)]
    labs = [Trainer(cfg.replace(max_steps=total, epochs=10_000), data=data) for _ in range(k)]
    for loop in plains + labs:
        loop.advance(20)  # warm both paths (allocator, kernels, first-record costs)
    t_plain, t_lab, ratios = [], [], []
    for c in range(args.chunks):
        pair = {}
        loops = {"plain": plains[c % k], "lab": labs[c % k]}
        for name in ("plain", "lab") if (c // k) % 2 == 0 else ("lab", "plain"):
            t0 = time.perf_counter()
            loops[name].advance(args.chunk)
            pair[name] = time.perf_counter() - t0
        t_plain.append(pair["plain"])
        t_lab.append(pair["lab"])
        ratios.append(pair["lab"] / pair["plain"])
    for lab in labs:
        lab.stop_now("completed", "benchmark over")
    snaps = [len(lab.recorder.history.snapshots) for lab in labs]
    per_copy = args.chunks * args.chunk // k + 20
    ips = lambda ts: args.chunk * cfg.batch_size * len(ts) / sum(ts)  # noqa: E731
    print(
        f"default CNN on {cfg.dataset}: {args.chunks} alternating chunks of {args.chunk} steps over {k} copies "
        f"of each loop, {args.threads} thread(s), "
        f"{'raw process' if args.raw_process else 'process prepared by lab.serving.runtime'}"
    )
    print(f"plain loop : {ips(t_plain):8.0f} images/s")
    print(
        f"lab Trainer: {ips(t_lab):8.0f} images/s  (snapshots per copy {snaps} in {per_copy} of {total} steps: "
        f"the default cadence of a {total}-step run)"
    )
    q = statistics.quantiles(ratios, n=4)
    print(
        f"time ratio lab/plain: median {statistics.median(ratios):.3f}x (quartiles {q[0]:.3f}-{q[2]:.3f})"
        f", overall {sum(t_lab) / sum(t_plain):.3f}x   (target <= 1.05x)"
    )


if __name__ == "__main__":
    main()
