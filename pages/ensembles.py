"""Ensembles: average several models' predictions, snapshots of one cyclic run, or the weights themselves."""

import streamlit as st

from lab.charts import ensembles as charts
from lab.ui import workflows as wf
from lab.ui.common import chart
from lab.workflows import ensemble_stats as es

POLL_SECONDS = 0.5
WORKER = "lab.workflows.ensembles"  # run through runner.call so this page never imports torch
SETUPS = {"demo": "Demo setup for each part", "mine": "My settings (Train page, editable in the sidebar)"}


def seeds(cfg) -> None:
    """N runs that differ only in their seed, and the average of their predicted probabilities."""
    st.markdown(
        "Train the same network several times, changing only the seed (initial weights, shuffling, "
        "dropout). Each run makes different mistakes; averaging their **predicted probabilities** cancels "
        "part of them. The validation split stays the same for every member."
    )
    wf.config_caption(cfg)
    c1, c2, c3 = st.columns([1, 1, 2])
    n = int(c1.number_input("members", 2, es.MAX_MEMBERS, 5, key="ens_n"))
    first = int(c2.number_input("first seed", 0, 2**31 - es.MAX_MEMBERS, 1, key="ens_first"))
    keys = [f"ens_member_{i}" for i in range(st.session_state.get("ens_started", 0))]
    active = wf.poll(keys)[2]
    if c3.button("Train the members", key="ens_seed_start", disabled=active):
        for i in range(n):
            wf.start_call(f"ens_member_{i}", f"{WORKER}:train_member", cfg.to_dict(), first + i)
        st.session_state["ens_started"] = n
        st.rerun()

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def results() -> None:
        done, errors, running = wf.poll(keys)
        for e in errors:
            st.error(f"A member could not be trained: {e}", icon="⚠️")
        s = es.ensemble_summary(sorted(done, key=lambda m: m["seed"])) if done else None
        if keys:
            st.caption(f"{len(done)} of {len(keys)} members trained" + (" · training..." if running else ""))
        if s and s["n_used"]:
            st.markdown(es.seed_text(s))
        c1, c2 = st.columns(2)
        with c1:
            chart(wf.fig(charts.members_figure(s)), "ens_members_chart")
        with c2:
            chart(wf.fig(charts.ensemble_size_figure(s)), "ens_size_chart")
        if s:
            st.dataframe(es.members_table(s), key="ens_members_table", hide_index=True)
        if active and not running:
            st.rerun()  # everything finished: refresh the button and stop polling

    results()


def snapshots(cfg) -> None:
    """One run with a cyclic rate; the weights at each low point form the ensemble."""
    st.markdown(
        "A **snapshot ensemble** costs one run: the learning rate rises and falls in cycles, and each time "
        "it bottoms out the weights settle into a minimum. A copy is kept there (a callback watches the "
        "rate); the next peak kicks the weights out towards another minimum. Averaging the snapshots' "
        "probabilities works like an ensemble of separately trained models, minus most of the cost. How "
        "much it gains depends on how different the minima are: high peaks make them differ more."
    )
    wf.config_caption(cfg)
    c1, c2, c3 = st.columns([1, 1, 2])
    cycles = int(c1.number_input("cycles", 2, 10, 5, key="ens_cycles"))
    per = int(c2.number_input("epochs per cycle", 1, 10, 2, key="ens_epc"))
    state, result, error = wf.task("ens_snap")
    if c3.button("Run the cyclic schedule", key="ens_snap_start", disabled=state == "running"):
        wf.start_call("ens_snap", f"{WORKER}:snapshot_run", cfg.to_dict(), cycles, per)
        st.rerun()

    @st.fragment(run_every=POLL_SECONDS if state == "running" else None)
    def results() -> None:
        now, result, error = wf.task("ens_snap")
        if error:
            st.error(f"The cyclic run failed: {error}", icon="⚠️")
        if now == "running":
            st.caption("Training one run with a cyclic learning rate...")
        s = None
        if result and result["snapshots"]:
            n = len(result["snapshots"])
            keep = st.slider("ensemble of the last k snapshots", 1, n, min(3, n), key="ens_keep") if n > 1 else 1
            s = es.snapshot_summary(result, keep)
            st.markdown(es.snapshot_text(s, n, result["steps"]))
        elif result:
            st.warning("The run ended before its rate reached a low point: no snapshot was taken.", icon="ℹ️")
        lrs = result["lr"] if result else None
        chart(wf.fig(charts.snapshot_figure(lrs, s and s["snapshots"], s["kept"] if s else 0)), "ens_snap_chart")
        if s:
            st.dataframe(s["snapshots"], key="ens_snap_table", hide_index=True)
        if state == "running" and now != "running":
            st.rerun()

    results()


def averaging(cfg) -> None:
    """One run with a running average of its weights (EMA or SWA) scored next to the raw weights."""
    st.markdown(
        "Instead of averaging predictions, average the **weights** along the run "
        "(`torch.optim.swa_utils.AveragedModel`). Late in training, SGD bounces around a minimum; the "
        "average of the positions it visits lies closer to the centre. An exponential moving average (EMA, "
        "Polyak averaging) weights recent steps most; SWA takes the plain mean of the weights at the end "
        "of each epoch from some epoch on. One model at test time, nothing extra to store. With batch "
        "norm, the averaged network's statistics are recomputed on the training data (`update_bn`)."
    )
    wf.config_caption(cfg)
    c1, c2, c3 = st.columns([1, 1, 2])
    mode = c1.radio(
        "average", ["ema", "swa"], key="ens_avg_mode", horizontal=True, format_func={"ema": "EMA", "swa": "SWA"}.get
    )
    decay, start = es.DEFAULT_DECAY, 0
    if mode == "ema":
        help_ = "Weight of the old average at each step; 0.95 remembers about 20 steps."
        decay = float(c2.number_input("decay", 0.5, 0.9999, 0.95, format="%g", key="ens_decay", help=help_))
    else:
        start = int(
            c2.number_input("average after epoch", 0, max(0, cfg.epochs - 1), cfg.epochs // 2, key="ens_swa_start")
        )
    state, _, _ = wf.task("ens_avg")
    if c3.button("Train with averaging", key="ens_avg_start", disabled=state == "running"):
        wf.start_call("ens_avg", f"{WORKER}:averaging_run", cfg.to_dict(), mode, decay, start)
        st.rerun()

    @st.fragment(run_every=POLL_SECONDS if state == "running" else None)
    def results() -> None:
        now, r, error = wf.task("ens_avg")
        if error:
            st.error(f"The run failed: {error}", icon="⚠️")
        if now == "running":
            st.caption("Training and averaging...")
        label = es.AVERAGE_LABELS[(r or {}).get("mode", mode)]
        if r and r["avg_val_acc"] is not None:
            st.markdown(es.averaging_text(r))
        rows = r["rows"] if r else None
        c1, c2 = st.columns(2)
        with c1:
            chart(wf.fig(charts.averaging_figure(rows, "acc", label)), "ens_avg_acc")
        with c2:
            chart(wf.fig(charts.averaging_figure(rows, "loss", label)), "ens_avg_loss")
        if state == "running" and now != "running":
            st.rerun()

    results()


def render() -> None:
    """Pick the settings, then the three ways of combining models, one per tab."""
    st.title("Ensembles")
    st.markdown(
        "Several models usually beat one. Three ways to get there, from the most expensive (N full runs) "
        "to the cheapest (one run, one model at the end)."
    )
    ok, mine = wf.setup_choice("ens_setup", SETUPS)
    if not ok:
        return
    t1, t2, t3 = st.tabs(["Seed ensemble", "Snapshot ensemble", "Weight averaging (EMA / SWA)"])
    with t1:
        seeds(mine or es.DEMO_SEEDS)
    with t2:
        snapshots(mine or es.DEMO_SNAPSHOT)
    with t3:
        averaging(mine or es.DEMO_AVERAGING)


render()
