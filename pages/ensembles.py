"""Ensembles: average several models' predictions, snapshots of one cyclic run, or the weights themselves."""

import streamlit as st

from lab.charts import ensembles as charts
from lab.ui import workflows as wf
from lab.ui.common import chart
from lab.workflows import ensemble_stats as es
from lab.workflows import ensembles as ens  # runs in the offload pool (see README: where work runs)

POLL_SECONDS = 0.5
SETUPS = {"demo": "Demo setup for each part", "mine": "My settings (Train page, editable in the sidebar)"}


def seeds(cfg) -> None:
    """N runs that differ only in their seed, and the average of their predicted probabilities."""
    st.markdown(es.SEEDS_INTRO)
    wf.config_caption(cfg)
    c1, c2, c3 = st.columns([1, 1, 2])
    n = int(c1.number_input("members", 2, es.MAX_MEMBERS, 5, key="ens_n"))
    first = int(c2.number_input("first seed", 0, 2**31 - es.MAX_MEMBERS, 1, key="ens_first"))
    keys = es.member_keys(st.session_state.get("ens_started", 0))
    active = wf.poll(keys)[2]
    if c3.button("Train the members", key="ens_seed_start", disabled=active):
        for i, key in enumerate(es.member_keys(n)):
            wf.start_task(key, ens.train_member, cfg.to_dict(), first + i)
        st.session_state["ens_started"] = n
        st.rerun()

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def results() -> None:
        done, errors, running = wf.poll(keys)
        for e in errors:
            st.error(f"A member could not be trained: {e}", icon="⚠️")
        s = es.seed_summary(done)
        if caption := es.seed_caption(len(done), len(keys), running):
            st.caption(caption)
        if text := es.seed_message(s):
            st.markdown(text)
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
    st.markdown(es.SNAPSHOT_INTRO)
    wf.config_caption(cfg)
    c1, c2, c3 = st.columns([1, 1, 2])
    cycles = int(c1.number_input("cycles", 2, 10, 5, key="ens_cycles"))
    per = int(c2.number_input("epochs per cycle", 1, 10, 2, key="ens_epc"))
    state, result, error = wf.task("ens_snap")
    if c3.button("Run the cyclic schedule", key="ens_snap_start", disabled=state == "running"):
        wf.start_task("ens_snap", ens.snapshot_run, cfg.to_dict(), cycles, per)
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
            st.warning(es.NO_SNAPSHOT, icon="ℹ️")
        chart(wf.fig(charts.snapshot_figure(*es.snapshot_chart_data(result, s))), "ens_snap_chart")
        if s:
            st.dataframe(s["snapshots"], key="ens_snap_table", hide_index=True)
        if state == "running" and now != "running":
            st.rerun()

    results()


def averaging(cfg) -> None:
    """One run with a running average of its weights (EMA or SWA) scored next to the raw weights."""
    st.markdown(es.AVERAGING_INTRO)
    wf.config_caption(cfg)
    c1, c2, c3 = st.columns([1, 1, 2])
    mode = c1.radio(
        "average", ["ema", "swa"], key="ens_avg_mode", horizontal=True, format_func={"ema": "EMA", "swa": "SWA"}.get
    )
    decay, start = es.DEFAULT_DECAY, 0
    if mode == "ema":
        decay = float(c2.number_input("decay", 0.5, 0.9999, 0.95, format="%g", key="ens_decay", help=es.DECAY_HELP))
    else:
        start = int(c2.number_input("average after epoch", 0, *es.swa_start_choices(cfg.epochs), key="ens_swa_start"))
    state, _, _ = wf.task("ens_avg")
    if c3.button("Train with averaging", key="ens_avg_start", disabled=state == "running"):
        wf.start_task("ens_avg", ens.averaging_run, cfg.to_dict(), mode, decay, start)
        st.rerun()

    @st.fragment(run_every=POLL_SECONDS if state == "running" else None)
    def results() -> None:
        now, r, error = wf.task("ens_avg")
        if error:
            st.error(f"The run failed: {error}", icon="⚠️")
        if now == "running":
            st.caption("Training and averaging...")
        label = es.average_label(r, mode)
        if text := es.averaging_message(r):
            st.markdown(text)
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
    st.markdown(es.PAGE_INTRO)
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
