"""Large batches: the linear scaling rule with and without warmup, and real data parallelism on two processes."""

import streamlit as st

from lab.charts import large_batch as charts
from lab.config import ConfigError
from lab.ui import workflows as wf
from lab.ui.common import chart, get_jobs, get_settings
from lab.workflows import distributed_report as dr
from lab.workflows import large_batch as lb
from lab.workflows.distributed import data_parallel_check  # runs in the offload pool

POLL_SECONDS = 0.5
DP_REPEATS = 20  # timed repetitions of the compute and the all-reduce (medians are reported)
SETUPS = {"demo": "Demo setup (digits, MLP, SGD + momentum)", "mine": "My settings (Train page, in the sidebar)"}


def _busy(comp: lb.Comparison | None) -> bool:
    return comp is not None and (comp.waiting or wf.runs_active("lb_views", comp.runs.values()))


def scaling(cfg) -> None:
    """Four runs: small batch, large batch at the same rate, scaled rate, scaled rate with warmup."""
    st.markdown(
        "A batch k times larger averages k times more examples per gradient, so the gradient is less noisy, "
        "but an epoch has k times fewer steps. Keep the rate and the large batch falls behind; scale the "
        "rate by k (the **linear scaling rule**) and it catches up, except that the first steps, taken from "
        "random weights with a huge rate, can throw the network somewhere it never recovers from. "
        "**Warmup** ramps the rate up over the first steps. All four runs see the same examples "
        "(same epochs), so the curves are drawn against epochs."
    )
    wf.config_caption(cfg)
    c1, c2, c3, c4 = st.columns(4)
    small = int(c1.number_input("small batch", 1, 512, min(32, cfg.batch_size), key="lb_small"))
    factor = int(c2.number_input("large = small x", 2, 16, 8, key="lb_factor"))
    warm = float(c3.number_input("warmup epochs", 0.1, 50.0, 2.0, format="%g", key="lb_warmup"))
    epochs = int(c4.number_input("epochs", 1, 200, cfg.epochs, key="lb_epochs"))
    arms = None
    try:
        arms = lb.plan(cfg.replace(epochs=epochs), small, factor, warm, get_settings().limits)
    except ConfigError as e:
        st.error(str(e), icon="⚠️")
    active = _busy(st.session_state.get("lb"))
    if st.button("Start the four runs", key="lb_start", disabled=active or arms is None):
        st.session_state["lb"] = lb.Comparison(arms)
        st.session_state["lb_views"] = {}
        st.session_state["lb"].submit_waiting(get_jobs(), wf.owner_for("large-batch"))
        st.rerun()

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def results() -> None:
        comp = st.session_state.get("lb")
        if not comp:
            chart(charts.epoch_curves_figure([], "Validation loss", "loss", "lb_val_loss"), "lb_val_loss")
            return
        comp.submit_waiting(get_jobs(), wf.owner_for("large-batch"))
        views = wf.run_views("lb_views", comp.runs)
        for e in comp.errors:
            st.error(e, icon="⚠️")
        table = lb.results_table(comp.arms, {k: v.row for k, v in views.items()})
        n_ended = lb.ended(table)
        st.caption(f"{n_ended} of {len(table)} runs finished; two train at a time.")
        if n_ended == len(table):
            st.markdown(lb.results_text(table))
        val = {k: v.val for k, v in views.items()}
        c1, c2 = st.columns(2)
        with c1:
            loss = lb.arm_series(comp.arms, val, "val_loss")
            fig = charts.epoch_curves_figure(loss, "Validation loss", "loss (cross-entropy)", "lb_val_loss")
            chart(wf.fig(fig), "lb_val_loss")
        with c2:
            acc = lb.arm_series(comp.arms, val, "val_acc")
            fig = charts.epoch_curves_figure(acc, "Validation accuracy", "accuracy", "lb_val_acc", percent=True)
            chart(wf.fig(fig), "lb_val_acc")
        # A linear axis: the warmup ramp is a straight line and the 8x gap reads as 8x.
        lrs = lb.arm_series(comp.arms, {k: v.train for k, v in views.items()}, "lr")
        chart(wf.fig(charts.epoch_curves_figure(lrs, "Learning rate", "learning rate", "lb_lr")), "lb_lr")
        st.dataframe(table, key="lb_table", hide_index=True)
        if active and not _busy(comp):
            st.rerun()

    results()


def data_parallel(cfg) -> None:
    """One batch split over two processes; all-reduce gives back the full batch's gradient, at a price."""
    st.markdown(
        "With several machines or GPUs, each one computes the gradient on its share of the batch; an "
        "**all-reduce** then sums the gradients across processes so that every one holds the mean and "
        "takes the same step. Here it runs for real: two processes in a `torch.distributed` group "
        "(gloo backend, CPU), each on half of every batch. The check compares the averaged gradient "
        "with the one a single process computes on the whole batch, then trains a few steps with "
        "`DistributedDataParallel` against one process. Dropout is turned off for this (the two "
        "processes would draw different masks)."
    )
    c1, c2, c3 = st.columns([1, 1, 2])
    batch = int(c1.number_input("batch (split in two)", 2, 1024, 64, step=2, key="dp_batch"))
    steps = int(c2.number_input("DDP steps", 1, 50, 5, key="dp_steps"))
    state, _, _ = wf.task("dp")
    if c3.button("Run on two processes", key="dp_start", disabled=state == "running"):
        wf.start_task("dp", data_parallel_check, cfg.to_dict(), batch, steps, DP_REPEATS)
        st.rerun()

    @st.fragment(run_every=POLL_SECONDS if state == "running" else None)
    def results() -> None:
        now, r, error = wf.task("dp")
        if error:
            st.error(f"The data-parallel run failed: {error}", icon="⚠️")
        if now == "running":
            st.caption("Starting two fresh processes (each imports torch: several seconds) and a gloo group...")
        if r:
            st.markdown(dr.report(r))
            for note in r["notes"]:
                st.warning(note, icon="ℹ️")
        c1, c2 = st.columns(2)
        with c1:
            chart(wf.fig(charts.step_cost_figure(r)), "dp_cost")
        with c2:
            chart(wf.fig(charts.ddp_loss_figure(r)), "dp_loss")
        if state == "running" and now != "running":
            st.rerun()

    results()


def render() -> None:
    """Settings choice, then the scaling comparison and the data-parallel check."""
    st.title("Large batches and data parallelism")
    ok, mine = wf.setup_choice("lb_setup", SETUPS)
    if not ok:
        return
    cfg = mine or lb.DEMO
    st.header("Batch size and learning rate")
    scaling(cfg)
    st.header("Data parallelism on two processes")
    data_parallel(cfg)


render()
