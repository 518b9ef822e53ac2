"""Schedules: the learning rate of a whole run before training it, and the large-batch rule with its warmup."""

import dataclasses
import json

import streamlit as st

from lab import registry
from lab.charts import concepts as charts
from lab.concepts import schedules as sc
from lab.config import RunConfig
from lab.ui.common import chart

SCHEDS = {k: o.label for k, o in registry.SCHEDULES.items()}


@st.cache_data(show_spinner=False, max_entries=128)
def curve(cfg_json: str, steps: int) -> list[float]:
    """The trainer's own learning rate at every step for one config (JSON, so the cache can hash it)."""
    # Not from_json: that validates against this server's caps, and the calculator may look past the batch cap.
    return sc.schedule_curve(RunConfig(**json.loads(cfg_json)), steps)


# Figures are memoized as resources (handed out again, never pickled): building them costs more than the maths.
@st.cache_resource(show_spinner=False, max_entries=64)
def curves_fig(items: tuple, steps: int, log_y: bool):
    """The overlay of (label, config JSON) schedules."""
    return charts.schedules_figure({label: curve(js, steps) for label, js in items}, log_y)


@st.cache_resource(show_spinner=False, max_entries=32)
def large_batch_fig(
    plain: str, warm: str, total: int, warmup: int, per_epoch: int, new_batch: int, ref_batch: int, lr: float
):
    """The scaled run's rate with and without the suggested warmup, per epoch."""
    big = {"scaled, no warmup": curve(plain, total), f"scaled, {warmup} warmup steps": curve(warm, total)}
    return charts.schedules_figure(
        big,
        title=f"Batch {new_batch}: the rate per epoch",
        x_scale=1 / per_epoch,
        x_title="epoch",
        ref_lines={f"base rate at batch {ref_batch}": lr},
    )


def render() -> None:
    """The schedule preview, then the large-batch calculator."""
    st.title("Learning-rate schedules")
    st.markdown(
        "These curves come from the same scheduler code the trainer steps, so a run will follow them exactly. "
        "Warmup starts near zero and climbs linearly before the schedule takes over, which calms the first "
        "steps while the weights are still random. Reduce-on-plateau reacts to validation loss; here it is fed "
        "a made-up loss that stops improving at 40% of the run."
    )
    c1, c2, c3, c4 = st.columns(4)
    names = c1.multiselect(
        "Schedules",
        list(SCHEDS),
        default=["step", "cosine", "linear", "one_cycle"],
        format_func=SCHEDS.get,
        key="sched_pick",
        help="Overlay several.",
    )
    steps = c2.slider("Steps", 50, 5000, 1000, 50, key="sched_steps", help="Length of the run.")
    lr = c3.number_input("Base learning rate", 1e-5, 10.0, 0.1, format="%.4g", key="sched_lr")
    warmup = c4.slider("Warmup steps", 0, 1000, 0, 10, key="sched_warmup", help="0 = no warmup.")
    k1, k2, k3, k4, k5 = st.columns(5)
    knobs = {
        "step_size": k1.slider(
            "Step size / half-cycle",
            10,
            2000,
            200,
            10,
            key="sched_stepsize",
            help="Step: steps between cuts. Cyclic: steps from low to high.",
        ),
        "gamma": k2.slider(
            "gamma", 0.05, 0.95, 0.5, 0.05, key="sched_gamma", help="Step and plateau: the factor applied at each cut."
        ),
        "min_lr_ratio": k3.select_slider(
            "Lowest rate (fraction)",
            [0.0, 0.001, 0.01, 0.1, 0.5],
            value=0.01,
            key="sched_min",
            help="Cosine, linear, cyclic: where they bottom out.",
        ),
        "plateau_patience": k4.slider(
            "Plateau patience", 0, 10, 2, key="sched_patience", help="Evaluations without improvement before a cut."
        ),
    }
    log_y = k5.toggle("Log scale", key="sched_log")
    items = tuple((SCHEDS[n], sc.schedule_config(n, lr, warmup, **knobs).to_json()) for n in names)
    chart(curves_fig(items, steps, log_y), key="sched_curves")

    st.subheader("Bigger batches: scale the rate, then warm it up")
    st.markdown(
        "A batch k times larger averages away more noise, so each step can be about k times longer: the linear "
        "scaling rule multiplies the rate by k. Such a large rate is risky while the weights are still random, "
        "so it is approached gradually. The calculator applies the trainer's rule and suggests a warmup length."
    )
    b1, b2, b3, b4, b5 = st.columns(5)
    ref_batch = b1.select_slider(
        "Reference batch",
        [32, 64, 128, 256, 512],
        value=256,
        key="lb_ref",
        help="The batch size at which the base rate is known to work.",
    )
    new_batch = b2.select_slider("New batch", [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192], value=4096, key="lb_new")
    n_train = b3.number_input("Training examples", 1000, 2_000_000, 50_000, 1000, key="lb_n")
    epochs = b4.slider("Epochs", 1, 100, 10, key="lb_epochs")
    after = b5.selectbox(
        "Schedule after warmup",
        ["constant", "cosine", "linear", "step"],
        index=1,
        format_func=SCHEDS.get,
        key="lb_sched",
    )
    cfg = dataclasses.replace(sc.schedule_config(after, lr, **knobs), lr_reference_batch=ref_batch)
    plan = sc.large_batch_plan(cfg, new_batch, int(n_train), epochs)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("k = new / reference", f"{plan.k:g}x")
    m2.metric("Scaled rate (linear rule)", f"{plan.lr_linear:.4g}", help=f"square-root rule: {plan.lr_sqrt:.4g}")
    m3.metric("Steps per epoch", f"{plan.steps_per_epoch:,}")
    m4.metric("Suggested warmup", f"{plan.warmup_steps:,} steps", help=f"{plan.warmup_epochs:.1f} epochs")
    st.info(plan.advice)
    if plan.total_steps > 20_000:
        st.caption(f"{plan.total_steps:,} steps are too many to preview quickly; lower the epochs or the data size.")
        return
    scaled = dataclasses.replace(cfg, batch_size=new_batch, scale_lr_with_batch=True)
    warm = dataclasses.replace(scaled, warmup_steps=plan.warmup_steps)
    chart(
        large_batch_fig(
            scaled.to_json(),
            warm.to_json(),
            plan.total_steps,
            plan.warmup_steps,
            plan.steps_per_epoch,
            new_batch,
            ref_batch,
            lr,
        ),
        key="sched_large_batch",
    )


render()
