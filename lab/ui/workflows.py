"""Page parts shared by the workflow pages: the user's config, worker tasks, runs and their views, a live search panel.

Workflow pages submit runs under a sub-owner (`<token>:<workflow>`), so a search gets
its own share of the job manager's per-session capacity without taking the Train
page's slots; the Compare page shows the token's runs and all its sub-owners' runs.
"""

from __future__ import annotations

import streamlit as st

from lab.charts import live
from lab.charts import workflows as wcharts
from lab.charts.style import presenter_layout
from lab.config import ConfigError, RunConfig
from lab.serving.jobs import CapacityError
from lab.ui import controls, identity, runs
from lab.ui.common import chart, get_jobs, get_settings, get_store, owner_token, presenter_mode
from lab.workflows import offload, search_results, search_space, search_store
from lab.workflows import search as search_mod

POLL_SECONDS = 0.5
VERDICT_ICON = {True: "✅", False: "🛑", None: "ℹ️"}  # a check passed, failed, or does not apply


def owner_for(workflow: str) -> str:
    """This session's owner string for one workflow page, e.g. '<token>:search'."""
    return f"{owner_token()}:{workflow}"


def keep_token() -> str:
    """This session's owner token, kept in the browser's cookie (never the URL) so a refresh keeps its runs.

    Call it once per page run (it mounts the hidden cookie writer, lab/ui/identity.py).
    """
    identity.keep()
    return owner_token()


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


def setup_choice(key: str, setups: dict[str, str]) -> tuple[bool, RunConfig | None]:
    """A 'demo' or 'mine' radio: (ok, the user's config, or None for the demo); not ok when the user's is invalid."""
    setup = st.radio("Settings", list(setups), format_func=setups.get, key=key, horizontal=True)
    if setup != "mine":
        return True, None
    mine = user_config(sidebar=True)
    if mine is None:
        st.error("Your settings are invalid (see the sidebar); fix them or use the demo setup.", icon="⚠️")
    return mine is not None, mine


def config_caption(cfg: RunConfig) -> None:
    """One line naming the settings that differ from the defaults."""
    changed = {k: v for k, v in cfg.to_query().items() if k != "seed"}
    text = ", ".join(f"{k}={v}" for k, v in changed.items()) or "the default settings"
    st.caption(f"Working on: {text} (seed {cfg.seed}).")


def verdict(text: str, passed: bool | None) -> None:
    """A check's outcome: green with a tick when passed, red when failed, blue when the check does not apply."""
    show = {True: st.success, False: st.error, None: st.info}[passed]
    show(text, icon=VERDICT_ICON[passed])


def fig(figure):
    """A figure sized for a projector when presenter mode is on."""
    return presenter_layout(figure) if presenter_mode() else figure


@st.cache_resource(show_spinner=False)
def search_storage():
    """The Optuna storage next to the run store (created once per server)."""
    return search_store.open_storage(search_store.storage_path(get_settings().store_path))


def stored_study(name: str):
    """A stored search's study, with the trials whose runs ended while no page was watching recorded first."""
    study = search_store.load_study(search_storage(), name)
    search_store.sync_study(study, get_store())
    return study


def run_series(name: str, run_id: str) -> live.RunSeries:
    """A stored run's train and val rows, named for a chart legend."""
    return live.RunSeries(name, get_store().metrics(run_id, "train"), get_store().metrics(run_id, "val"))


# ---- tasks in the offload worker ------------------------------------------------------------------------------------


def start_task(key: str, fn, *args, **kwargs) -> None:
    """Run fn(*args, **kwargs) in the worker; the page reads it back with task(key)."""
    st.session_state[key] = {"future": offload.submit(fn, *args, **kwargs), "result": None, "error": ""}


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


def task_result(polled: tuple[str, object, str], running: str, failed: str) -> object:
    """Given task(key): show `running` while it runs or '<failed>: <error>'; return its result once done, else None."""
    state, result, error = polled
    if state == "running":
        st.caption(running)
    elif error:
        st.error(f"{failed}: {error}", icon="⚠️")
    else:
        return result
    return None


def poll(keys: list[str]) -> tuple[list, list[str], bool]:
    """Finished results, the distinct error messages and whether any of the tasks is still running."""
    states = [task(k) for k in keys]
    return (
        [r for s, r, e in states if s == "done" and r is not None],
        sorted({e for s, r, e in states if e}),
        any(s == "running" for s, _, _ in states),
    )


# ---- runs in the job manager ----------------------------------------------------------------------------------------


def submit_run(workflow: str, label: str, build, *args) -> str | None:
    """Submit the config build(*args) under this workflow's owner; shows why and returns None when it is refused."""
    try:
        return get_jobs().submit(build(*args), owner=owner_for(workflow), label=label)
    except (ConfigError, CapacityError) as e:
        st.error(str(e), icon="⚠️")
        return None


def run_views(slot: str, run_ids: dict[str, str | None]) -> dict[str, runs.RunView]:
    """Views of the given runs (cached in session_state[slot]), refreshed incrementally; keyed as run_ids."""
    cache = st.session_state.setdefault(slot, {})
    for run_id in run_ids.values():
        if run_id and run_id not in cache:
            cache[run_id] = runs.RunView(run_id)
    return {k: runs.refresh(cache[r]) for k, r in run_ids.items() if r}


def runs_active(slot: str, run_ids) -> bool:
    """True while one of the runs can still change; a run not viewed yet counts (it was submitted a moment ago)."""
    cache = st.session_state.get(slot, {})
    return any(r not in cache or cache[r].active for r in run_ids if r)


def scoped_state(name: str, cfg: RunConfig, searches: tuple[str, ...] = (), tasks: tuple[str, ...] = ()) -> dict:
    """session_state[name] for results that hold only for `cfg`: on a settings change, stop and forget them.

    Old results would describe another setup, so the runs viewed in the state and the
    searches in the `searches` slots are stopped, and the `tasks` dropped (a finished task
    would otherwise refill the cleared results).
    """
    state = st.session_state.setdefault(name, {})
    if state.get("cfg") != cfg.to_json():
        if state.get("cfg"):
            st.info("The settings changed, so the recipe starts over from step 1.", icon="🔄")
        for view in state.values():
            if isinstance(view, runs.RunView) and view.active:
                get_jobs().stop(view.run_id)
        for slot in searches:
            old = st.session_state.pop(slot, None)
            if old is not None and not old.finished:
                old.stop(get_jobs())
        for key in tasks:
            st.session_state.pop(key, None)
        state.clear()
        state["cfg"] = cfg.to_json()
    return state


def scoped_active(state: dict, searches: tuple[str, ...] = (), tasks: tuple[str, ...] = ()) -> bool:
    """True while a task runs, a run viewed in the state is active (refreshed first) or a search has not finished."""
    running = any(task(k)[0] == "running" for k in tasks)
    views = [v for v in state.values() if isinstance(v, runs.RunView)]
    for view in views:
        runs.refresh(view)  # a just-submitted run has no row yet; it must still count as active
    unfinished = [s for s in (st.session_state.get(slot) for slot in searches) if s is not None and not s.finished]
    return running or any(v.active for v in views) or bool(unfinished)


# ---- a search running through the job manager --------------------------------------------------------------------


def start_search(slot: str, spec: search_space.SearchSpec, cfg: RunConfig, workflow: str, label: str) -> bool:
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
    df = search_results.trials_frame(study, get_store())
    for warning in search_results.study_warnings(study):
        st.warning(warning, icon="📏")
    x, color = search_results.scatter_axes(search_results.param_columns(df), x, color)
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
    st.markdown(f"**{s.progress_text()}**")
    if s.message:
        st.caption(s.message)
    results(s.study, key, x="lr", color="weight_decay")
    best = search_results.best_trial(s.study)
    if not s.finished:
        return
    if best is None:
        st.error(f"Step {step} failed: no trial finished; the table shows why.", icon="🛑")
    else:
        st.success(
            f"Step {step} done: best {noun} {search_space.describe(best.params)} with validation accuracy "
            f"{best.value:.1%}.",
            icon="✅",
        )
