"""Data parallelism for real: two processes in a gloo group, each on half of every batch, gradients all-reduced.

`data_parallel_check` spawns `WORLD` processes (torch.multiprocessing, spawn) that join a
`torch.distributed` group over the gloo backend, rendezvous through a file in a temporary
folder (no port to collide with). Every process builds the same model from the same seed
and reads the same batches; process r takes the r-th half of each batch. Then:

1. gradient check: each computes the mean-loss gradient on its half, `all_reduce` sums the
   flattened gradients and dividing by the world size gives the mean over the whole batch,
   which the parent compares with the gradient it computes itself on the full batch;
2. cost: the median time of the forward and backward pass on a half batch against the
   median time of one all-reduce of the gradient, and the bytes that all-reduce moves;
3. a few training steps with `DistributedDataParallel` (which all-reduces gradient buckets
   during backward) against the same steps in one process on full batches.

Only the data loss (cross-entropy) is used and dropout is switched off: a random mask
differs per process, so the two sides could not agree. With batch norm each process
normalizes with its own half's statistics, so the check reports a (real) difference.
"""

from __future__ import annotations

import datetime
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as tmp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from lab.config import ConfigError, RunConfig
from lab.engine.data import load_data
from lab.engine.models import build_model
from lab.engine.optim import make_optimizer

WORLD = 2  # processes; the page and the tests use two (the machine has two cores)
TIMEOUT_S = 120  # a peer that never arrives fails the group after this long instead of hanging
MAX_STEPS = 50
MAX_REPEATS = 200


def demo_config(config: dict) -> RunConfig:
    """The user's config with what cannot agree across processes switched off (dropout, dropconnect, depth drop)."""
    return RunConfig.from_dict(config).replace(dropout=0.0, dropconnect=0.0, stochastic_depth=0.0)


def _check(batch_size: int, steps: int, repeats: int) -> None:
    if batch_size < WORLD or batch_size % WORLD:
        raise ConfigError("batch_size", batch_size, f"an even number of at least {WORLD}, so each process gets half")
    if not 1 <= steps <= MAX_STEPS:
        raise ConfigError("steps", steps, f"a whole number from 1 to {MAX_STEPS}")
    if not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError("repeats", repeats, f"a whole number from 1 to {MAX_REPEATS}")


def _model(cfg: RunConfig, input_shape: tuple[int, ...], n_classes: int) -> torch.nn.Module:
    """A model that is identical in every process (same seed, same CPU arithmetic)."""
    torch.manual_seed(cfg.seed)
    return build_model(cfg, input_shape, n_classes)


def batch_indices(n_train: int, batch_size: int, steps: int, seed: int) -> list[torch.Tensor]:
    """The training-set rows of each step's batch, the same in every process (seeded generator)."""
    if batch_size > n_train:
        raise ConfigError("batch_size", batch_size, f"at most the {n_train} training examples")
    gen = torch.Generator().manual_seed(seed)
    return [torch.randperm(n_train, generator=gen)[:batch_size] for _ in range(steps)]


def flat_grad(model: torch.nn.Module) -> torch.Tensor:
    """All parameter gradients as one vector (zeros for parameters without a gradient)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in model.parameters()])


def _grad(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Zero the gradients and backpropagate the mean cross-entropy of (x, y); returns the loss."""
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return float(loss.detach())


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _join_group(rank: int, world: int, init_file: str) -> None:
    """Join the gloo process group through a file rendezvous (no ports to pick or leak)."""
    dist.init_process_group(
        "gloo",
        init_method=f"file://{init_file}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=TIMEOUT_S),
    )


def _worker(
    rank: int,
    world: int,
    init_file: str,
    out_dir: str,
    config: dict,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    n_classes: int,
    batch_size: int,
    steps: int,
    repeats: int,
) -> None:
    """One process of the group: gradient on its half, timed compute and all-reduce, then DDP steps.

    The parent passes the training tensors (shared memory), so a worker never loads the dataset itself.
    """
    torch.set_num_threads(1)  # two processes on two cores; more threads would only fight each other
    _join_group(rank, world, init_file)
    try:
        cfg = demo_config(config)
        shape = tuple(x_train.shape[1:])
        model = _model(cfg, shape, n_classes)
        batches = batch_indices(len(x_train), batch_size, steps, cfg.seed)
        half = batch_size // world
        mine = [idx[rank * half : (rank + 1) * half] for idx in batches]
        x, y = x_train[mine[0]], y_train[mine[0]]

        # 1. the gradient on this half, then the mean over the group
        _grad(model, x, y)
        local = flat_grad(model)
        averaged = local.clone()
        dist.all_reduce(averaged, op=dist.ReduceOp.SUM)
        averaged /= world

        # 2. what a step costs: compute on the half batch against one all-reduce of the gradient
        compute_s = _median_seconds(lambda: _grad(model, x, y), repeats)
        buf = local.clone()
        dist.barrier()  # start the timed all-reduces together, or the first one also measures the wait for the peer
        allreduce_s = _median_seconds(lambda: dist.all_reduce(buf), repeats)

        # 3. a few steps of DistributedDataParallel from the same starting weights
        model = _model(cfg, shape, n_classes)
        ddp = DistributedDataParallel(model)
        opt = make_optimizer(ddp.parameters(), cfg)
        losses, step_times = [], []
        for idx in mine:
            t0 = time.perf_counter()
            loss = torch.tensor([_grad(ddp, x_train[idx], y_train[idx])])
            opt.step()
            step_times.append(time.perf_counter() - t0)
            # The mean of the halves' mean losses is the full batch's mean loss (reported, not timed).
            dist.all_reduce(loss)
            losses.append(float(loss) / world)
        if rank == 0:
            torch.save(
                {
                    "local": local,
                    "averaged": averaged,
                    "compute_s": compute_s,
                    "allreduce_s": allreduce_s,
                    "ddp_params": [p.detach().clone() for p in model.parameters()],
                    "ddp_losses": losses,
                    "ddp_step_s": statistics.median(step_times),
                },
                Path(out_dir) / "rank0.pt",
            )
    finally:
        dist.destroy_process_group()


def single_process(
    cfg: RunConfig,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    n_classes: int,
    batch_size: int,
    steps: int,
    repeats: int,
) -> dict:
    """The reference in one process: the full-batch gradient, its compute time, and `steps` full-batch steps."""
    shape = tuple(x_train.shape[1:])
    model = _model(cfg, shape, n_classes)
    batches = batch_indices(len(x_train), batch_size, steps, cfg.seed)
    x, y = x_train[batches[0]], y_train[batches[0]]
    _grad(model, x, y)
    grad = flat_grad(model)
    compute_s = _median_seconds(lambda: _grad(model, x, y), repeats)
    model = _model(cfg, shape, n_classes)
    opt = make_optimizer(model.parameters(), cfg)
    losses, step_times = [], []
    for idx in batches:
        t0 = time.perf_counter()
        losses.append(_grad(model, x_train[idx], y_train[idx]))
        opt.step()
        step_times.append(time.perf_counter() - t0)
    return {
        "grad": grad,
        "compute_s": compute_s,
        "params": [p.detach().clone() for p in model.parameters()],
        "losses": losses,
        "step_s": statistics.median(step_times),
    }


def _spawn_group(worker, *args) -> dict:
    """Run worker(rank, WORLD, init_file, out_dir, *args) in WORLD spawned processes; returns rank 0's saved dict."""
    with tempfile.TemporaryDirectory(prefix="lab-ddp-") as folder:
        init_file = str(Path(folder) / "rendezvous")
        try:
            tmp.start_processes(
                worker, args=(WORLD, init_file, folder, *args), nprocs=WORLD, join=True, start_method="spawn"
            )
        except tmp.ProcessException as e:  # a child's traceback: keep its last line, the actual error
            last = [line for line in str(e).strip().splitlines() if line.strip()][-1:]
            raise RuntimeError(f"a data-parallel worker failed: {last[0] if last else e}") from None
        return torch.load(Path(folder) / "rank0.pt", weights_only=True)


def run_group(
    config: dict,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    n_classes: int,
    batch_size: int,
    steps: int,
    repeats: int,
) -> dict:
    """Spawn the WORLD-process gloo group for the gradient check and the DDP steps; returns rank 0's results."""
    return _spawn_group(_worker, config, x_train, y_train, n_classes, batch_size, steps, repeats)


def _sweep_worker(rank: int, world: int, init_file: str, out_dir: str, sizes: list[int], repeats: int) -> None:
    """Time all-reduces of float32 buffers of each size; rank 0 saves the medians."""
    torch.set_num_threads(1)
    _join_group(rank, world, init_file)
    try:
        medians = []
        for n in sizes:
            buf = torch.ones(n)
            dist.all_reduce(buf)  # untimed first call: connection set-up and buffer allocation
            dist.barrier()
            medians.append(_median_seconds(lambda b=buf: dist.all_reduce(b), repeats))
        if rank == 0:
            torch.save({"seconds": medians}, Path(out_dir) / "rank0.pt")
    finally:
        dist.destroy_process_group()


def allreduce_sweep(sizes: list[int], repeats: int = 20) -> list[dict]:
    """Median time of one all-reduce across WORLD processes for float32 buffers of each size, with bandwidths."""
    seconds = _spawn_group(_sweep_worker, list(sizes), repeats)["seconds"]
    out = []
    for n, t in zip(sizes, seconds, strict=True):
        nbytes = 4 * n
        # algorithm bandwidth: buffer bytes per second; bus bandwidth: what each link carries in a ring (2(W-1)/W).
        out.append(
            {
                "numel": n,
                "bytes": nbytes,
                "ms": t * 1e3,
                "algbw_mb_s": nbytes / t / 1e6,
                "busbw_mb_s": 2 * (WORLD - 1) / WORLD * nbytes / t / 1e6,
            }
        )
    return out


def data_parallel_check(config: dict, batch_size: int = 64, steps: int = 5, repeats: int = 20) -> dict:
    """Run the two-process group and the one-process reference; returns the differences and the costs."""
    _check(batch_size, steps, repeats)
    cfg = demo_config(config)
    t0 = time.perf_counter()
    data = load_data(cfg)
    xy = (data.x_train, data.y_train, data.n_classes)
    group = run_group(cfg.to_dict(), *xy, batch_size, steps, repeats)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same single thread each group process has, so the times compare
    try:
        ref = single_process(cfg, *xy, batch_size, steps, repeats)
    finally:
        torch.set_num_threads(threads)
    n = ref["grad"].numel()
    grad_bytes = n * ref["grad"].element_size()
    param_diff = max(float((a - b).abs().max()) for a, b in zip(group["ddp_params"], ref["params"], strict=True))
    notes = []
    if cfg.batch_norm:
        notes.append(
            "batch norm is on: each process normalizes with its own half's statistics, so the gradients "
            "really differ from the full batch's (SyncBatchNorm exists for this)"
        )
    return {
        "world": WORLD,
        "batch_size": batch_size,
        "per_process": batch_size // WORLD,
        "n_params": n,
        "grad_bytes": grad_bytes,
        # A ring all-reduce sends (and receives) 2 (W-1)/W of the buffer per process: reduce-scatter, then all-gather.
        "ring_bytes_per_process": 2 * (WORLD - 1) / WORLD * grad_bytes,
        "max_abs_diff": float((group["averaged"] - ref["grad"]).abs().max()),
        "max_abs_grad": float(ref["grad"].abs().max()),
        # Control: one process's half-batch gradient alone is NOT the full-batch gradient.
        "half_only_diff": float((group["local"] - ref["grad"]).abs().max()),
        "compute_half_ms": group["compute_s"] * 1e3,
        "compute_full_ms": ref["compute_s"] * 1e3,
        "allreduce_ms": group["allreduce_s"] * 1e3,
        "ddp_steps": steps,
        "ddp_max_param_diff": param_diff,
        "ddp_losses": group["ddp_losses"],
        "single_losses": ref["losses"],
        "ddp_step_ms": group["ddp_step_s"] * 1e3,
        "single_step_ms": ref["step_s"] * 1e3,
        "optimizer": cfg.optimizer,
        "batch_norm": cfg.batch_norm,
        "notes": notes,
        "seconds": time.perf_counter() - t0,
    }
