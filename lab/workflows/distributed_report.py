"""Reading a data-parallel check (`lab.workflows.distributed.data_parallel_check`) without loading torch.

The check returns plain numbers: how far the all-reduced gradient is from the full
batch's, how far DDP's parameters drift from one process's, and what one all-reduce
costs against the compute it saves. These functions turn them into the page's text.
"""

from __future__ import annotations

PAYS = 0.25  # all-reduce time up to a quarter of a half batch's compute: splitting the batch still pays


def allreduce_ratio(r: dict) -> float:
    """One all-reduce's time as a share of a process's forward and backward on its half batch."""
    return r["allreduce_ms"] / max(r["compute_half_ms"], 1e-9)


def verdict(r: dict) -> str:
    """One sentence on whether splitting the batch paid off at this model size."""
    ratio = allreduce_ratio(r)
    if ratio > PAYS:
        return (
            f"The all-reduce costs {ratio:.0%} of the compute it saves a step: at this size the split does not "
            "pay; it does once the compute per step dwarfs the communication (bigger models, bigger batches)."
        )
    return f"The all-reduce adds only {ratio:.0%} to each process's compute: here the split pays."


def report(r: dict) -> str:
    """The gradient check, the DDP comparison and the communication cost, then the verdict (Markdown)."""
    return (
        f"**Gradient check:** the all-reduced mean of the two half-batch gradients differs from the "
        f"full-batch gradient by at most **{r['max_abs_diff']:.1e}** (largest gradient entry "
        f"{r['max_abs_grad']:.2e}); one half alone is off by {r['half_only_diff']:.1e}.  \n"
        f"**{r['ddp_steps']} DDP steps** ({r['optimizer']}) end with parameters at most "
        f"**{r['ddp_max_param_diff']:.1e}** from one process trained on the full batches.  \n"
        f"**Communication:** {r['n_params']:,} gradient numbers = {r['grad_bytes'] / 1024:.1f} kB per "
        f"all-reduce (a ring sends about {r['ring_bytes_per_process'] / 1024:.1f} kB per process); one "
        f"all-reduce takes {r['allreduce_ms']:.2f} ms against {r['compute_half_ms']:.2f} ms of forward "
        f"and backward on a half batch ({r['compute_full_ms']:.2f} ms for the full batch in one process). " + verdict(r)
    )
