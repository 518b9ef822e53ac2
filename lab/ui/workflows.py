"""Page parts shared by the workflow pages: the user's config, worker tasks, and a live search panel.

Workflow pages submit runs under a sub-owner (`<token>:<workflow>`), so a search gets
its own share of the job manager's per-session capacity without taking the Train
page's slots; the Compare page shows the token's runs and all its sub-owners' runs.
"""

from __future__ import annotations

import streamlit as st

from lab.charts import workflows as wcharts
from lab.charts.style import presenter_layout
from lab.config import ConfigError, RunConfig
from lab.ui import controls
from lab.ui.common import OWNER_PARAM, chart, get_jobs, get_settings, get_store, owner_token, presenter_mode
from lab.workflows import offload
from lab.workflows import search as search_mod

POLL_SECONDS = 0.5


def owner_for(workflow: str) -> str:
    """This session's owner string for one workflow page, e.g. '<token>:search'."""
    return f"{owner_token()}:{workflow}"


def keep_token() -> str:
    """This session's owner token, also written to the URL (as the Train page does) so a refresh keeps its runs."""
    token = owner_token()
    if st.query_params.get(OWNER_PARAM) != token:
        st.query_params[OWNER_PARAM] = token
    return token


def user_config(sidebar: bool = True) -> RunConfig | None:
    """The user's current config (set on the Train page, editable in this page's sidebar), or None if invalid."""
    settings = get_settings()
    controls.init_state(settings.limits)
    keep_token()
    if sidebar:
        with st.sidebar:
            st.caption("The settings of the Train page; changes here apply there too.")
            return controls.draw_controls(settings.limits, expanded=())
    try:
        return RunConfig.from_dict(st.session_state["cfg"], settings.limits)
    except ConfigError as e:
        st.error(str(e), icon="⚠️")
        return None


def config_caption(cfg: RunConfig) -> None:
    """One line naming the settings that differ from the defaults."""
    changed = {k: v for k, v in cfg.to_query().items() if k != "seed"}
    text = ", ".join(f"{k}={v}" for k, v in changed.items()) or "the default settings"
    st.caption(f"Working on: {text} (seed {cfg.seed}).")


def fig(figure):
    """A figure sized for a projector when presenter mode is on."""
    return presenter_layout(figure) if presenter_mode() else figure


@st.cache_resource(show_spinner=False)
def search_storage():
    """The Optuna storage next to the run store (created once per server)."""
    return search_mod.open_storage(search_mod.storage_path(get_settings().store_path))


# ---- tasks in the offload worker ------------------------------------------------------------------------------------


def start_task(key: str, fn, *args) -> None:
    """Run fn(*args) in the worker; the page reads it back with task(key)."""
    st.session_state[key] = {"future": offload.submit(fn, *args), "result": None, "error": ""}


def task(key: str) -> tuple[str, object, str]:
    """(state, result, error) of a task: state is 'idle', 'running' or 'done'."""
    entry = st.session_state.get(key)
    if entry is None:
        return "idle", None, ""
    future = entry.get("future")
    if future is not None:
        if not future.done():
            return "running", None, ""
        entry["result"], entry["error"] = offload.outcome(future)
        entry["future"] = None
    return "done", entry["result"], entry["error"]


# ---- a search running through the job manager --------------------------------------------------------------------


def start_search(slot: str, spec: search_mod.SearchSpec, cfg: RunConfig, workflow: str, label: str) -> bool:
    """Create a search in a session-state slot; shows the problem and returns False when the spec is invalid."""
    try:
        st.session_state[slot] = search_mod.Search.create(search_storage(), spec, cfg, owner_for(workflow), label)
    except ConfigError as e:
        st.error(str(e), icon="⚠️")
        return False
    return True


def pump(slot: str) -> search_mod.Search | None:
    """Advance the search in a slot (record ended trials, submit new ones) and return it."""
    search = st.session_state.get(slot)
    if search is not None:
        search.pump(get_jobs())
    return search


def progress_text(search: search_mod.Search) -> str:
    """'Trial 3 of 6 done' plus the round and the best so far (text the browser test can wait on)."""
    text = f"Trial {search.done_count} of {search.total} done"
    if search.spec.rounds > 1:
        text += f" · round {search.round + 1} of {search.spec.rounds}"
    best = search_mod.best_trial(search.study)
    if best is not None:
        text += f" · best val acc {best.value:.1%} ({search_mod.describe(best.params)})"
    if search.finished:
        text += " · stopped" if search.stopped else " · finished"
    return text


def results(
    study,
    key: str,
    x: str | None = None,
    color: str | None = None,
    log_x: bool = True,
    log_color: bool = True,
    progress: bool = False,
) -> None:
    """Border warnings, the scatter of trials, optionally the progress chart, and the trials table."""
    df = search_mod.trials_frame(study, get_store())
    for warning in search_mod.study_warnings(study):
        st.warning(warning, icon="📏")
    params = [c for c in df.columns if c not in ("trial", "round", "state", "status", "val_acc", "val_loss", "run_id")]
    x = x if x in params else (params[0] if params else None)
    color = color if color in params and color != x else next((p for p in params if p != x), None)
    if x is not None:
        cols = st.columns(2) if progress else [st.container()]
        with cols[0]:
            chart(fig(wcharts.search_scatter(df, x, color, log_x=log_x, log_color=log_color)), f"{key}_scatter")
        if progress:
            with cols[1]:
                chart(fig(wcharts.search_progress_figure(df)), f"{key}_progress")
    st.dataframe(
        df,
        key=f"{key}_table",
        hide_index=True,
        column_config={
            "val_acc": st.column_config.NumberColumn("val acc", format="percent"),
            "val_loss": st.column_config.NumberColumn("val loss", format="%.4f"),
        },
    )


def search_panel(step: int, slot: str, key: str, noun: str) -> None:
    """A recipe step's search: progress, results, and 'Step n done' (or failed) once it has finished."""
    s = st.session_state.get(slot)
    if s is None:
        return
    st.markdown(f"**{progress_text(s)}**")
    if s.message:
        st.caption(s.message)
    results(s.study, key, x="lr", color="weight_decay")
    best = search_mod.best_trial(s.study)
    if not s.finished:
        return
    if best is None:
        st.error(f"Step {step} failed: no trial finished; the table shows why.", icon="🛑")
    else:
        st.success(
            f"Step {step} done: best {noun} {search_mod.describe(best.params)} with validation accuracy "
            f"{best.value:.1%}.",
            icon="✅",
        )
