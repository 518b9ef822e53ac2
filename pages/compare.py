"""Compare runs: this session's stored runs in a table; overlay, diff, export and delete the selected ones."""

import streamlit as st

from lab.charts import live
from lab.ui import workflows as wf
from lab.ui.common import chart, get_store, owner_token
from lab.workflows import compare

PICK = "compare_pick"


def table(df):
    """Filters and the filtered table; returns the filtered frame."""
    c1, c2, c3, c4 = st.columns([3, 2, 2, 1])
    text = c1.text_input("Filter", key="compare_filter", placeholder="label, id, dataset, model or optimizer")
    statuses = c2.multiselect("Status", sorted(df["status"].unique()), key="compare_status")
    sources = c3.multiselect(
        "Started from",
        sorted(df["source"].unique()),
        key="compare_source",
        help="train = the Train page; other names are the workflow pages.",
    )
    if c4.button("↻ Refresh", key="compare_refresh", help="Read the store again (runs still training change)."):
        st.rerun()
    shown = compare.filter_frame(df, text, tuple(statuses), tuple(sources))
    st.dataframe(
        shown,
        key="compare_table",
        hide_index=True,
        column_config={
            "val_acc": st.column_config.NumberColumn("val acc", format="percent"),
            "best_val_acc": st.column_config.NumberColumn("best val acc", format="percent"),
            "started": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm:ss"),
        },
    )
    st.caption(f"{len(shown)} of {len(df)} runs of this session.")
    return shown


def pick(shown, rows: dict) -> list[str]:
    """Choose runs (from the filtered table, plus those already chosen)."""
    kept = [r for r in st.session_state.get(PICK, []) if r in rows]  # deleted runs drop out of the choice
    if PICK not in st.session_state:
        kept = list(shown["run_id"][:2])  # the two newest: the usual "what changed?" question
    st.session_state[PICK] = kept
    options = list(dict.fromkeys([*kept, *shown["run_id"]]))
    return st.multiselect(
        "Runs to compare",
        options,
        key=PICK,
        format_func=lambda r: f"{rows[r]['label'] or 'run'} · {rows[r]['status']} · {r[:8]}",
    )


def overlay(picked: list[str], rows: dict) -> None:
    """Loss and accuracy curves of the chosen runs on shared axes, then the settings that differ."""
    store = get_store()
    series = [
        live.RunSeries(rows[r]["label"] or r[:8], store.metrics(r, "train"), store.metrics(r, "val")) for r in picked
    ]
    c1, c2 = st.columns(2)
    with c1:
        chart(wf.fig(live.loss_figure(series)), "compare_loss")
    with c2:
        classes = {rows[r].get("meta", {}).get("n_classes") for r in picked}
        chart(
            wf.fig(live.accuracy_figure(series, n_classes=classes.pop() if len(classes) == 1 else None)), "compare_acc"
        )
    diff = compare.config_diff([rows[r] for r in picked])
    st.markdown("**Settings that differ**")
    if diff.empty:
        st.caption("The chosen runs have identical settings (seed included).")
    else:
        st.dataframe(diff, key="compare_diff")


def exports(picked: list[str]) -> None:
    """CSV, JSON and TensorBoard downloads of the chosen runs."""
    store = get_store()
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button(
        "Metrics (CSV)", compare.export_csv(store, picked), file_name="runs.csv", mime="text/csv", key="compare_csv"
    )
    c2.download_button(
        "Everything (JSON)",
        compare.export_json(store, picked),
        file_name="runs.json",
        mime="application/json",
        key="compare_json",
    )
    state, data, error = wf.task("compare_tb_task")
    if c3.button(
        "Export to TensorBoard",
        key="compare_tb",
        disabled=state == "running",
        help="Event files, one folder per run: unzip and run `tensorboard --logdir training_lab_runs`.",
    ):
        wf.start_task("compare_tb_task", compare.tensorboard_zip, str(store.path), picked)
        st.session_state["compare_tb_ids"] = list(picked)
        st.rerun()

    @st.fragment(run_every=wf.POLL_SECONDS if state == "running" else None)
    def _tb() -> None:
        now, data, error = wf.task("compare_tb_task")
        if now == "running":
            c4.caption("Writing event files...")
        elif error:
            c4.error(f"TensorBoard export failed: {error}", icon="⚠️")
        elif data:
            c4.download_button(
                f"TensorBoard ({len(st.session_state.get('compare_tb_ids', []))} runs, zip)",
                data,
                file_name="training_lab_tensorboard.zip",
                mime="application/zip",
                key="compare_tb_zip",
            )
        if state == "running" and now != "running":
            st.rerun()

    _tb()


def delete(picked: list[str]) -> None:
    """Delete the chosen runs after a confirmation tick."""
    c1, c2 = st.columns([1, 3])
    sure = c2.checkbox(f"Yes, delete {len(picked)} run(s) and their recorded data", key="compare_delete_confirm")
    if c1.button("🗑 Delete", key="compare_delete", disabled=not sure):
        deleted, refused = compare.delete_runs(get_store(), picked, owner_token())
        st.session_state["compare_msg"] = [f"Deleted {len(deleted)} run(s)."] + refused
        st.session_state.pop("compare_delete_confirm", None)
        st.rerun()


def render() -> None:
    """Table, selection, overlay, diff, exports, deletion."""
    st.title("Compare runs")
    for msg in st.session_state.pop("compare_msg", []):
        st.info(msg)
    token = wf.keep_token()
    found = compare.visible_runs(get_store(), token)
    if not found:
        st.info("No runs in this session yet: train on the Train page or run a search, then come back.")
        return
    rows = {r["id"]: r for r in found}
    shown = table(compare.runs_frame(found, token))
    picked = pick(shown, rows)
    if not picked:
        st.caption("Choose one or more runs to overlay their curves.")
        return
    overlay(picked, rows)
    exports(picked)
    delete(picked)


render()
