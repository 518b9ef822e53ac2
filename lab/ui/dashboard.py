"""The Train page's parts: lesson picker, run buttons, and the live dashboard fragment."""

from __future__ import annotations

import json

import streamlit as st

from lab.charts import live as charts
from lab.charts.style import presenter_spec
from lab.config import FIELDS, ConfigError, RunConfig, field_type, parse_text
from lab.lifecycle import RunStatus
from lab.serving.live.feed import feed_for
from lab.ui import controls, fixes, overview, pace, runs
from lab.ui.common import get_jobs, get_settings, get_store, presenter_mode
from lab.ui.live_chart import feed_spec, live_chart, live_hints, live_status, live_waiter
from lab.ui.live_routes import LAYERS_PATH

POLL_SECONDS = 0.6  # curves (live feed), full speed: at least once a second with margin; new rows every 0.4 s
# A paced run is watched: its curves should move at least twice a second, request and redraw included
# (its worker flushes every 0.2 s, so each poll finds new points).
PACED_POLL_SECONDS = 0.3
# Per-layer charts and hints: they change only with a new snapshot or evaluation, an unchanged poll costs
# a few bytes, and a chart out of view is not redrawn, so once a second costs little.
LAYER_POLL_SECONDS = 1.0
FEED_RUNS_PER_DOUBLING = 60  # both feeds poll half as often for every 60 runs active on the server
WARMING_POLL_SECONDS = 1.0  # while the server's workers warm up (a few seconds after launch)
STEP_EPOCH_HELP = (
    "Train to the end of this epoch, then stay paused. At the watch or fast Speed the steps play at "
    "that pace so you can follow them; Pause stops them where they are."
)


def lesson_picker() -> None:
    """Sidebar: choose a lesson and load its settings in one click."""
    all_lessons = controls.lessons()
    ids = [""] + list(all_lessons)
    current = st.session_state.get("lesson", "")
    choice = st.selectbox(
        "Lesson",
        ids,
        index=ids.index(current) if current in ids else 0,
        format_func=lambda i: all_lessons[i]["title"] if i else "(free play)",
        key="lesson_pick",
        help="One-click teaching scenarios: they set every control and say what to watch.",
    )
    if st.button("Load lesson", disabled=not choice, key="load_lesson", width="stretch"):
        controls.set_config(controls.lesson_config(choice))
        st.session_state["lesson"] = choice
        runs.forget("run")
        runs.forget("cmp")
        st.rerun()


def lesson_card() -> None:
    """The current lesson's story and what to look for."""
    lesson = controls.lessons().get(st.session_state.get("lesson", ""))
    if not lesson:
        return
    with st.container(border=True):
        st.markdown(f"**Lesson: {lesson['title']}**  \n{lesson['summary']}")
        st.markdown("\n".join(f"- {item}" for item in lesson["look_for"]))


def _compare_defaults(cfg: RunConfig) -> tuple[str, str]:
    lesson = controls.lessons().get(st.session_state.get("lesson", ""), {})
    if lesson.get("compare"):
        name, value = next(iter(lesson["compare"].items()))
        return name, json.dumps(value) if isinstance(value, bool) else str(value)
    return "init", "kaiming_normal" if cfg.init != "kaiming_normal" else "xavier_normal"


def compare_box(cfg: RunConfig | None, busy: bool) -> None:
    """'Compare with...': start a second run with one setting changed and the same seed."""
    with st.popover("Compare with...", disabled=cfg is None or busy, width="stretch"):
        name0, value0 = _compare_defaults(cfg or RunConfig())
        names = sorted(FIELDS)
        name = st.selectbox("Setting to change", names, index=names.index(name0), key="cmp_field")
        text = st.text_input(
            f"New value ({field_type(name).__name__})",
            value=value0 if name == name0 else "",
            key=f"cmp_value_{name}",
            help="Everything else, the seed included, stays the same.",
        )
        if st.button("Start comparison run", key="cmp_start", type="primary"):
            try:
                other = cfg.replace(**{name: parse_text(name, text)})
            except ValueError as e:
                st.error(str(e), icon="⚠️")
                return
            runs.forget("cmp")
            if runs.start(other, slot="cmp", label=f"{name}={text}"):
                st.rerun()


def _current_config() -> RunConfig | None:
    """The config the controls showed on the last run (callbacks run before the controls are drawn), paced."""
    try:
        return pace.apply(RunConfig.from_dict(st.session_state["cfg"], get_settings().limits))
    except (ConfigError, KeyError):
        return None


def _on_start() -> None:
    runs.forget("cmp")
    cfg = _current_config()
    if cfg is not None:
        runs.start(cfg)


def _on_control(op: str) -> None:
    for slot in ("run", "cmp"):
        runs.control(runs.view_for(slot), op)


def _on_step(arg: int | str) -> None:
    a = runs.view_for("run")
    if a is None or not a.active:
        cfg = _current_config()
        if cfg is None:
            return
        runs.forget("cmp")
        runs.start(cfg, paused=True)
        a = runs.view_for("run")
    if a is not None and a.status != RunStatus.RUNNING:
        runs.control(a, "step", arg)


def _on_stop() -> None:
    for slot in ("run", "cmp"):
        view = runs.view_for(slot)
        if view is not None and view.active:
            runs.control(view, "stop")


def _on_reset() -> None:
    runs.forget("run")
    runs.forget("cmp")


def run_buttons(cfg: RunConfig | None) -> None:
    """Start, Pause/Resume, Step, Step epoch, Stop, Reset and Compare, wired to this session's runs; Speed below.

    Buttons act in `on_click` callbacks, which Streamlit runs before the script: the same
    run then draws the buttons, status and charts of the new state. (Acting in the body
    would need a second rerun after every press, about 0.3 s on a laptop.) The Train page
    draws them in its runs fragment (pages/train.py), so a press reruns that part alone.
    """
    cfg = pace.apply(cfg)  # the comparison run keeps the page's Speed too
    a = runs.view_for("run")
    b = runs.view_for("cmp")
    mine_active = [v for v in (a, b) if v is not None and v.mine and v.active]
    cols = st.columns(7)
    cols[0].button(
        "Start",
        icon=":material/play_arrow:",
        type="primary",
        disabled=cfg is None or bool(mine_active),
        key="btn_start",
        width="stretch",
        on_click=_on_start,
    )
    if a is not None and a.status == RunStatus.PAUSED:
        cols[1].button(
            "Resume",
            icon=":material/play_arrow:",
            key="btn_resume",
            width="stretch",
            disabled=not a.mine,
            on_click=_on_control,
            args=("resume",),
        )
    else:
        cols[1].button(
            "Pause",
            icon=":material/pause:",
            key="btn_pause",
            width="stretch",
            disabled=a is None or not a.active or not a.mine,
            on_click=_on_control,
            args=("pause",),
        )
    steps = (
        (cols[2], "Step", 1, "btn_step", "Take one optimizer step, then stay paused."),
        (cols[3], "Epoch", "epoch", "btn_epoch", STEP_EPOCH_HELP),
    )
    for col, label, arg, key, help_text in steps:
        col.button(
            label,
            key=key,
            width="stretch",
            icon=":material/skip_next:",
            disabled=cfg is None and a is None,
            help=help_text,
            on_click=_on_step,
            args=(arg,),
        )
    cols[4].button(
        "Stop", icon=":material/stop:", key="btn_stop", width="stretch", disabled=not mine_active, on_click=_on_stop
    )
    cols[5].button(
        "Reset",
        icon=":material/restart_alt:",
        key="btn_reset",
        width="stretch",
        help="Stop and clear the runs on this page.",
        on_click=_on_reset,
    )
    with cols[6]:
        compare_box(cfg, busy=a is None)
    pace.bar()
    message = st.session_state.pop("run_error", "")
    if message:
        st.error(message, icon="⚠️")


def _fig(spec: dict) -> dict:
    return presenter_spec(spec) if presenter_mode() else spec


def _memo(view: runs.RunView, name: str, build):
    """Build a snapshot-based figure spec once per (run, snapshot count, presenter mode); reuse it otherwise."""
    cache = st.session_state.setdefault("_figs", {})
    key = (
        view.run_id,
        name,
        len(view.snapshots),
        view.snapshots[-1]["step"] if view.snapshots else 0,
        presenter_mode(),
    )
    if key not in cache:
        for old in [k for k in cache if k[:2] == key[:2]]:
            del cache[old]  # keep one version per chart
        cache[key] = _fig(build())
    return cache[key]


def curves(a: runs.RunView | None, b: runs.RunView | None, interval_s: float) -> None:
    """Status lines, loss, accuracy and learning rate of run A (and B overlaid): the fast-changing part.

    Drawn from the live feed's payload, and while a run is active the components keep
    themselves current from the feed's HTTP route (lab/serving/live/feed.py says why) without
    rerunning this script. Drawn (empty) before any run, too: the browser then loads
    Plotly and lays the charts out while the student picks settings.
    """
    views = [v for v in (a, b) if v is not None]
    ids = [v.run_id for v in views]
    presenter = presenter_mode()
    payload = feed_for(get_jobs()).payload(ids, presenter)
    active = any(v.active for v in views)
    feed = feed_spec(ids, presenter, interval_s, active) if active else None
    version = payload["version"]
    # One container above the charts whatever it holds, so the charts keep their place in the
    # page (and stay mounted in the browser) from the empty page to the finished run.
    with st.container():
        if a is None:
            st.info("Pick a lesson or set the controls, then press **Start**. Charts appear within a second or two.")
        else:
            live_status(payload["runs"], [v.mine for v in views], "run_status", feed, version)
    c1, c2, c3 = st.columns([2, 2, 1.3])
    for col, name in ((c1, "loss"), (c2, "accuracy"), (c3, "lr")):
        with col:
            live_chart(payload["figures"][name], name, feed, version)


def layers(a: runs.RunView, b: runs.RunView | None, interval_s: float) -> None:
    """Hints and every per-layer chart, drawn from the live feed's layer payload and, while a run is active,
    kept current from its route without rerunning this script (lab/serving/live/layers.py)."""
    ids = [v.run_id for v in (a, b) if v is not None]
    presenter = presenter_mode()
    focus = overview.focused_layer()
    payload = feed_for(get_jobs()).layers_payload(ids, presenter, focus)
    active = any(v is not None and v.active for v in (a, b))
    feed = feed_spec(ids, presenter, interval_s, active, LAYERS_PATH, focus) if active else None
    version, figs = payload["version"], payload["figures"]
    if "probe" in figs:  # a decision boundary or filters beside the hints; an MLP on images has neither
        left, right = st.columns([1.2, 1])
        with left:
            live_hints(payload["hints"], "hints", feed, version)
            fixes.try_fixes(payload["hints"], a, b)
        with right:
            live_chart(figs["probe"], "probe", feed, version)
    else:
        live_hints(payload["hints"], "hints", feed, version)
        fixes.try_fixes(payload["hints"], a, b)
    overview.network_overview(figs["overview"], feed, version)
    for cols, names in (
        (st.columns(2), ("act_hist", "grad_hist")),
        (st.columns(3), ("update_ratio", "dead_saturated", "layer_stats")),
    ):
        for col, name in zip(cols, names, strict=True):
            with col:
                live_chart(figs[name], name, feed, version)
    timeline(a, payload, feed)


@st.fragment
def timeline(a: runs.RunView, payload: dict, feed: dict | None) -> None:
    """A slider over recorded steps: every layer's histograms at the chosen moment.

    A fragment: moving the slider reruns only this part. At the right end it follows the
    run (the charts then take the layer feed's newest figures); elsewhere it shows the
    snapshot recorded closest to the chosen step.
    """
    a = runs.view_for("run") or a
    snaps = a.snapshots
    total = max(a.meta.get("total_steps") or 0, snaps[-1]["step"] if snaps else 0)
    if total < 2:
        st.caption("The timeline appears once the run has started and knows its number of steps.")
        if feed:
            live_waiter("timeline_wait", feed, payload["version"])
        return
    st.markdown("**Timeline**: layer histograms at any recorded step (leave it at the right end to follow the run)")
    chosen = st.slider("step", 1, int(total), int(total), key=f"timeline_{a.run_id}", label_visibility="collapsed")
    t1, t2 = st.columns(2)
    if chosen >= total or not snaps:  # following: the newest snapshot, from the feed while the run is active
        with t1:
            live_chart(payload["figures"]["timeline_act"], "timeline_act", feed, payload["version"])
        with t2:
            live_chart(payload["figures"]["timeline_weights"], "timeline_weights", feed, payload["version"])
        return
    snap = min(snaps, key=lambda s: abs(s["step"] - chosen))
    label = f"step {snap['step']}"
    with t1:
        live_chart(
            _memo(a, f"t_act{snap['step']}", lambda: charts.histogram_at_spec(snap, a.meta, "act", label)),
            "timeline_act",
        )
    with t2:
        live_chart(
            _memo(a, f"t_w{snap['step']}", lambda: charts.weight_histograms_spec(snap, a.meta)), "timeline_weights"
        )


def downloads(a: runs.RunView) -> None:
    """Metrics as CSV and the config as JSON."""
    store = get_store()
    c1, c2, c3 = st.columns([1, 1, 3])
    c1.download_button(
        "Metrics (CSV)", store.export_csv(a.run_id), file_name=f"run-{a.run_id}.csv", mime="text/csv", key="dl_csv"
    )
    c2.download_button(
        "Config (JSON)",
        json.dumps(a.row.get("config", {}), indent=2, sort_keys=True),
        file_name=f"config-{a.run_id}.json",
        mime="application/json",
        key="dl_cfg",
    )
    c3.caption("Charts export as PNG from their toolbar (camera icon).")


@st.fragment(run_every=WARMING_POLL_SECONDS)
def _warming_notice() -> None:
    """Say that the workers are still warming up, and rerun the page once they are ready (the notice goes)."""
    if get_jobs().ready():
        st.rerun()
    st.caption("Training workers are warming up (importing PyTorch); the first Start may take a few seconds.")


def live() -> None:
    """Curves, status, hints and layer charts, kept current by the live feed's two routes while a run trains.

    No Streamlit rerun happens while a run trains: the components poll the feed. They stop
    when the runs end, and the status line's `ended` trigger reruns the page once to draw
    the finished state (buttons, downloads) without polling.
    """
    a = runs.view_for("run")
    b = runs.view_for("cmp")
    # A busy classroom server answers each page less often so that the web process stays light. The
    # feed's polls are cheap (an unchanged run answers from one indexed read), so they slow down little.
    slowdown = 1.0 + len(get_jobs().active_runs()) / FEED_RUNS_PER_DOUBLING
    with st.empty():  # a fixed slot: the parts below keep their place whether it shows or not
        if not get_jobs().ready():
            _warming_notice()
    curves(a, b, (PACED_POLL_SECONDS if pace.current()["speed"] != "max" else POLL_SECONDS) * slowdown)
    if a is not None:
        layers(a, b, LAYER_POLL_SECONDS * slowdown)
    if a is not None and not a.active and a.status != "missing":
        downloads(a)
