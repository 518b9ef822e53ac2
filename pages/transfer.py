"""Transfer learning: reuse a network pretrained on one set of shapes for new shapes with only a few labels."""

import streamlit as st

from lab.charts import transfer as charts
from lab.ui import workflows as wf
from lab.ui.common import chart
from lab.workflows import transfer_info as ti
from lab.workflows.transfer import run_strategy  # runs in the offload pool

POLL_SECONDS = 0.5


def backbone_card() -> bool:
    """What was pretrained, on what, how well; False when the shipped files are missing."""
    meta = ti.backbone_meta()
    if meta is None:
        st.error(
            f"The pretrained backbone is missing from {ti.ASSET_DIR}; rebuild it with `python {ti.PRETRAIN_SCRIPT}`.",
            icon="⚠️",
        )
        return False
    st.caption(ti.backbone_caption(meta))
    return True


def controls() -> tuple[dict, list[str]]:
    """The target-task settings (run_strategy's keyword arguments) and the chosen strategies."""
    c1, c2, c3, c4, c5 = st.columns(5)
    kw = {
        "per_class": int(
            c1.number_input(
                "labels per class",
                1,
                ti.MAX_PER_CLASS,
                ti.DEFAULT_PER_CLASS,
                key="tr_per_class",
                help="Labelled target images per new class.",
            )
        ),
        "sample_seed": int(
            c2.number_input(
                "label sample seed",
                0,
                10_000,
                0,
                key="tr_seed",
                help="Which images get labels; also seeds init and shuffling.",
            )
        ),
        "epochs": int(c3.number_input("epochs", 1, 500, 60, key="tr_epochs")),
        "lr": float(c4.number_input("learning rate", 1e-5, 1.0, 3e-3, format="%g", key="tr_lr")),
        "lr_factor": float(
            c5.number_input(
                "pretrained layers' rate factor",
                0.001,
                1.0,
                0.1,
                format="%g",
                key="tr_factor",
                help="Fine-tuning trains pretrained layers at "
                "learning rate x this factor, the new head at the full rate.",
            )
        ),
    }
    chosen = st.multiselect(
        "strategies",
        list(ti.OWN_BACKBONE),
        default=list(ti.OWN_BACKBONE),
        key="tr_strategies",
        format_func=lambda k: ti.STRATEGIES[k].label,
    )
    weights, reason = ti.resnet18_weights()
    if st.checkbox(
        ti.STRATEGIES["resnet18"].label,
        value=False,
        key="tr_resnet",
        disabled=weights is None,
        help=ti.STRATEGIES["resnet18"].help + ("" if weights else f" Unavailable: {reason}"),
    ):
        chosen.append("resnet18")
    if weights is None:
        st.caption(f"ResNet-18 option unavailable: {reason}")
    return kw, chosen


def render() -> None:
    """Explain the task, pick the settings, run the strategies side by side."""
    st.title("Transfer learning")
    st.markdown(
        "A network trained on one task has learned features: edge and stroke detectors in its first "
        "layers, combinations of them further up. With only a few labels for a new task, starting from "
        "those features beats learning everything from random weights. Here the source task is four "
        "shapes (circle, square, triangle, cross), the target four others (horizontal bar, vertical bar, "
        "ring, diamond) drawn from a different generator seed. They share parts: bars are a cross's arms, "
        "a ring is a circle's outline, a diamond is a square turned by 45°."
    )
    with st.expander("The four strategies"):
        for s in ti.STRATEGIES.values():
            st.markdown(f"- **{s.label}**: {s.help}")
    if not backbone_card():
        return
    kw, chosen = controls()
    active = wf.poll([f"tr_{k}" for k in st.session_state.get("tr_started", [])])[2]
    if st.button("Train the strategies", key="tr_start", disabled=active or not chosen):
        for k in chosen:
            wf.start_task(f"tr_{k}", run_strategy, k, **kw)
        st.session_state["tr_started"] = chosen
        st.rerun()

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def results() -> None:
        states = {k: wf.task(f"tr_{k}") for k in st.session_state.get("tr_started", [])}
        done = [r for _, r, _ in states.values() if r is not None]
        for k, (_, _, error) in states.items():
            if error:
                st.error(f"{ti.STRATEGIES[k].label} failed: {error}", icon="⚠️")
        if states:
            st.caption(ti.progress_text({k: state for k, (state, _, _) in states.items()}, len(done)))
        if text := ti.gains_text(done):
            st.markdown(text)
        c1, c2 = st.columns(2)
        with c1:
            chart(wf.fig(charts.curves_figure(done)), "tr_curves_chart")
        with c2:
            chart(wf.fig(charts.final_figure(done, chance=ti.CHANCE)), "tr_final_chart")
        if done:
            st.dataframe(ti.results_table(done), key="tr_table", hide_index=True)
        if active and not any(state == "running" for state, _, _ in states.values()):
            st.rerun()

    results()


render()
