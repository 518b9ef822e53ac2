"""Hyperparameter search: grid or random trials over chosen settings, coarse to fine, run in parallel."""

import streamlit as st

from lab.ui import workflows as wf
from lab.ui.common import get_jobs, get_settings, owner_token
from lab.workflows import search_space, search_store

SLOT = "search_current"


def space() -> list[search_space.Param]:
    """The settings to search and their ranges (defaults: a sensible range per setting)."""
    names = st.multiselect(
        "Settings to search",
        list(search_space.DEFAULT_RANGES),
        default=["lr", "weight_decay"],
        max_selections=search_space.MAX_PARAMS,
        key="search_params",
        help="Rates and strengths are best searched on a log scale: 1e-4 to 1e-3 matters as much as 1e-2 to 1e-1.",
    )
    params = []
    for name in names:
        p0 = search_space.default_param(name)
        cast, fmt = (int, None) if p0.is_int else (float, "%g")
        c1, c2, c3 = st.columns([2, 2, 1])
        low = c1.number_input(f"{name} from", value=cast(p0.low), format=fmt, key=f"search_{name}_low")
        high = c2.number_input(f"{name} to", value=cast(p0.high), format=fmt, key=f"search_{name}_high")
        log = c3.checkbox("log scale", value=p0.log, key=f"search_{name}_log")
        params.append(search_space.Param(name, float(low), float(high), log))
    return params


def setup(cfg) -> None:
    """The search form: space, mode, budget, rounds, zoom, epochs; Start and Stop."""
    params = space()
    c1, c2, c3, c4, c5 = st.columns(5)
    mode = c1.radio(
        "Sampling",
        ["random", "grid"],
        horizontal=True,
        key="search_mode",
        help="Random tries more distinct values of each setting for the same budget.",
    )
    budget = c2.number_input("trials (budget)", value=4, step=1, key="search_budget")
    rounds = c3.number_input(
        "rounds (coarse to fine)",
        value=1,
        step=1,
        key="search_rounds",
        help="Each round after the first zooms into the best region found so far.",
    )
    zoom = c4.number_input(
        "zoom per round",
        value=0.5,
        step=0.1,
        format="%g",
        key="search_zoom",
        help="Width of each new range as a share of the previous one (log scale for rates).",
    )
    epochs = c5.number_input("epochs per trial", value=2, step=1, key="search_epochs")
    current = st.session_state.get(SLOT)
    running = current is not None and not current.finished
    b1, b2, _ = st.columns([1, 1, 4])
    if b1.button("▶ Start search", type="primary", key="search_start", disabled=cfg is None or running):
        spec = search_space.SearchSpec(
            params=tuple(params),
            mode=mode,
            budget=int(budget),
            rounds=int(rounds),
            zoom=float(zoom),
            epochs=int(epochs),
            seed=cfg.seed,
        )
        if wf.start_search(SLOT, spec, cfg, "search", "search"):
            st.rerun()
    if b2.button("⏹ Stop", key="search_stop", disabled=not running):
        current.stop(get_jobs())
        st.rerun()
    cap = get_settings().max_runs_per_session
    st.caption(
        f"Up to {cap} trials train at the same time in separate worker processes; the rest wait their turn. "
        "Each trial trains the sidebar settings with the sampled values and the same seed."
    )


def axes(params: list[str]) -> tuple[str | None, str | None]:
    """Which settings the scatter plots against accuracy and colours by."""
    if not params:
        return None, None
    c1, c2 = st.columns(2)
    x = c1.selectbox("x axis", params, key="search_x")
    rest = [p for p in params if p != x]
    color = c2.selectbox("colour", rest, key="search_color") if rest else None
    return x, color


def live() -> None:
    """The current search: pump it while it runs, with progress, warnings, charts and the table."""
    current = st.session_state.get(SLOT)
    active = current is not None and not current.finished

    @st.fragment(run_every=wf.POLL_SECONDS if active else None)
    def _live() -> None:
        s = wf.pump(SLOT)
        if s is None:
            st.info("Choose settings and ranges, then press **Start search**.")
            return
        st.markdown(f"**{s.progress_text()}** · {s.elapsed:.0f} s")
        if s.message:
            st.caption(s.message)
        x, color = axes([p.name for p in s.params])
        logs = {"log_x": search_space.is_log(s.params, x), "log_color": search_space.is_log(s.params, color)}
        wf.results(s.study, "search", x, color, progress=True, **logs)
        if active and s.finished:
            st.rerun()

    _live()


def history() -> None:
    """Past searches of this session, reloaded from the Optuna storage."""
    current = st.session_state.get(SLOT)
    live_name = current.study.study_name if current is not None and not current.finished else ""
    choices = search_store.study_choices(search_store.list_studies(wf.search_storage(), owner_token(), live_name))
    if not choices:
        return
    st.subheader("Stored searches")
    pick = st.selectbox("Search", list(choices), key="search_study", format_func=choices.get)
    wf.results(wf.stored_study(pick), "search_old", progress=True)


def render() -> None:
    """Form, live results, stored searches."""
    cfg = wf.user_config()
    st.title("Hyperparameter search")
    st.markdown(
        "Train many short runs that differ only in a few settings and compare their validation accuracy. "
        "Search coarse to fine: a wide range first, then zoom into the best region."
    )
    if cfg is None:
        st.info("Fix the highlighted setting in the sidebar to start.")
    else:
        wf.config_caption(cfg)
    setup(cfg)
    live()
    history()


render()
