"""Babysitting recipe: six checks in order on the current settings, each result feeding the next."""

import streamlit as st

from lab.charts import live
from lab.charts import workflows as wcharts
from lab.serving.live.layers import LEVEL_ICON
from lab.ui import controls, runs
from lab.ui import workflows as wf
from lab.ui.common import chart, get_jobs, get_settings, get_store
from lab.workflows import babysit, offload, search, search_space

SEARCHES = ("babysit_coarse", "babysit_refine")  # session-state slots of steps 4 and 5
TASKS = ("babysit_t1", "babysit_t3")  # worker tasks of steps 1 and 3


def step1(cfg, bs) -> None:
    """Step 1: the untrained loss against ln(C), computed in the worker."""
    st.subheader("1 · Initial loss")
    st.caption(babysit.CAPTIONS[1])
    task = wf.task("babysit_t1")
    if st.button("Check the initial loss", key="babysit_step1", disabled=task[0] == "running"):
        wf.start_task("babysit_t1", babysit.initial_loss_check, cfg, get_settings().limits)
        st.rerun()
    if result := wf.task_result(task, "Running a forward pass of the untrained network...", "Step 1 could not run"):
        bs["step1"] = result
    if "step1" in bs:
        wf.verdict(babysit.verdict_text(1, bs["step1"]), bs["step1"]["passed"])


def step2(cfg, bs) -> None:
    """Step 2: memorize a few batches through the job manager, with live progress and a verdict."""
    st.subheader("2 · Overfit a few batches")
    st.caption(babysit.CAPTIONS[2])
    c1, c2, c3 = st.columns([1, 1, 2])
    batches = int(c1.number_input("batches", 1, 50, babysit.OVERFIT_BATCHES, key="babysit_batches"))
    steps = int(c2.number_input("steps at most", 10, 5000, babysit.OVERFIT_STEPS, step=50, key="babysit_overfit_steps"))
    view = bs.get("overfit")
    running = bool(view and view.active)
    if c3.button("Overfit the sample", key="babysit_step2", disabled=not babysit.ready(bs, 2) or running):
        label = babysit.overfit_label(batches)
        run_id = wf.submit_run("babysit", label, babysit.overfit_run_config, cfg, batches, steps)
        if run_id is None:
            return
        bs["overfit"], bs["batches"] = runs.RunView(run_id), batches
        bs.pop("step2", None)
        st.rerun()
    if view is None:
        return
    runs.refresh(view)
    if babysit.stop_early(view.active, view.val):
        get_jobs().stop(view.run_id)  # the point is made; no need to run the remaining steps
    st.caption(babysit.overfit_caption(view.status, view.meta, view.val))
    chart(wf.fig(wcharts.overfit_figure(view.train, view.val, bs["batches"])), "babysit_overfit")
    if not view.active:
        bs["step2"] = babysit.judge_overfit(view.row, view.train, view.val).to_dict()
        wf.verdict(babysit.verdict_text(2, bs["step2"]), bs["step2"]["passed"])


def step3(cfg, bs) -> None:
    """Step 3: the LR range test in the worker, its curve and the suggested rate."""
    st.subheader("3 · Find a learning rate")
    st.caption(babysit.CAPTIONS[3])
    c1, c2, c3, c4 = st.columns(4)
    n = c1.number_input("steps", 20, 1000, 150, step=10, key="babysit_lr_steps")
    lo = c2.number_input("from lr", 1e-7, 1.0, 1e-5, format="%g", key="babysit_lr_min")
    hi = c3.number_input("to lr", 1e-6, 10.0, 10.0, format="%g", key="babysit_lr_max")
    task = wf.task("babysit_t3")
    if c4.button("Run the range test", key="babysit_step3", disabled=not babysit.ready(bs, 3) or task[0] == "running"):
        wf.start_task("babysit_t3", babysit.range_test, cfg, int(n), float(lo), float(hi), get_settings().limits)
        st.rerun()
    if result := wf.task_result(task, "Sweeping the learning rate...", "Step 3 could not run"):
        bs["step3"] = result
    if "step3" in bs:
        chart(wf.fig(wcharts.lr_finder_figure(bs["step3"])), "babysit_lr")
        st.success(babysit.range_text(bs["step3"]), icon="✅")


def step45(cfg, bs) -> None:
    """Steps 4 and 5: a coarse grid around the suggested rate, then a random refinement."""
    st.subheader("4 · Coarse grid  ·  5 · Refine")
    st.caption(babysit.CAPTIONS[4])
    epochs = st.number_input("epochs per trial", 1, 50, babysit.COARSE_EPOCHS, key="babysit_epochs")
    coarse = st.session_state.get("babysit_coarse")
    if st.button("Run the coarse grid", key="babysit_step4", disabled=not babysit.ready(bs, 4) or babysit.busy(coarse)):
        spec = babysit.coarse_spec(bs["step3"]["suggested_lr"], int(epochs), seed=cfg.seed)
        st.session_state.pop("babysit_refine", None)
        if wf.start_search("babysit_coarse", spec, cfg, "babysit", "babysit-grid"):
            st.rerun()
    wf.search_panel(4, "babysit_coarse", "babysit_grid", "grid point")
    best = search.best_finished([coarse])
    refine = st.session_state.get("babysit_refine")
    if st.button("Refine around the best", key="babysit_step5", disabled=best is None or babysit.busy(refine)):
        spec = babysit.refine_spec(coarse.spec, best.params, seed=cfg.seed + 1)
        if wf.start_search("babysit_refine", spec, cfg, "babysit", "babysit-refine"):
            st.rerun()
    wf.search_panel(5, "babysit_refine", "babysit_refine", "sample")


def step6(cfg, bs) -> None:
    """Step 6: the best run's curves and diagnosis hints; optionally adopt its settings."""
    st.subheader("6 · Read the curves")
    best = search.best_finished([st.session_state.get(s) for s in SEARCHES])
    if best is None:
        st.caption("After step 4 (and 5), the best run's curves and hints appear here.")
        return
    run_id = best.user_attrs["run_id"]
    st.markdown(babysit.best_text(best.params, best.value))
    series = [wf.run_series("best", run_id)]
    c1, c2 = st.columns(2)
    with c1:
        chart(wf.fig(live.loss_figure(series)), "babysit_best_loss")
    with c2:
        chart(wf.fig(live.accuracy_figure(series)), "babysit_best_acc")
    for line in babysit.hint_lines(babysit.read_curves(get_store(), run_id), LEVEL_ICON):
        st.markdown(line)
    if st.button("Use these settings on the Train page", key="babysit_step6"):
        controls.set_config(search_space.apply_params(cfg, best.params))
        st.session_state.pop("babysit", None)
        st.switch_page("pages/train.py")


def render() -> None:
    """Intro, then the six steps in one polling fragment."""
    cfg = wf.user_config()
    st.title("Babysitting recipe")
    st.markdown(babysit.INTRO)
    if cfg is None:
        st.info("Fix the highlighted setting in the sidebar to start.")
        return
    wf.config_caption(cfg)
    offload.pool()  # start the worker for steps 1 and 3 now, so the first click does not wait for torch to load
    bs = wf.scoped_state("babysit", cfg, SEARCHES, TASKS)
    active = wf.scoped_active(bs, SEARCHES, TASKS)

    @st.fragment(run_every=wf.POLL_SECONDS if active else None)
    def _steps() -> None:
        for slot in SEARCHES:
            wf.pump(slot)
        for step in (step1, step2, step3, step45, step6):
            with st.container(border=True):
                step(cfg, bs)
        if active and not wf.scoped_active(bs, SEARCHES, TASKS):
            st.rerun()  # everything ended: refresh once so polling stops

    _steps()


render()
