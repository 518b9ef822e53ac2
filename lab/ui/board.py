"""The class board: an instructor follows a room's runs live, sorts them, opens any read-only, overlays two.

Only runs whose browser joined the room (lab/ui/identity.py) are listed, and only once a room code
is entered: without one the board shows nothing. Every link opens a run read-only (links never
carry an owner token), so the board gives no control over anyone's run.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lab.charts import live as charts
from lab.config import ConfigError, RunConfig
from lab.lifecycle import ACTIVE
from lab.ui.common import get_store
from lab.ui.live_chart import live_chart
from lab.ui.share import link_query
from lab.workflows import board as logic

POLL_SECONDS = 2.0  # a room's table: students start and finish runs over minutes, not fractions of a second
SORT_LABELS = {"started": "started", "who": "who", "status": "status", "step": "step", "val_acc": "validation accuracy"}


def _on_room() -> None:
    try:
        st.session_state["board_room"] = logic.parse_room(st.session_state.get("board_room_text", ""))
        st.session_state.pop("board_error", None)
    except ValueError as e:
        st.session_state["board_error"] = str(e)


def _on_new_room() -> None:
    code = logic.new_room_code()
    st.session_state["board_room"] = st.session_state["board_room_text"] = code
    st.session_state.pop("board_error", None)


def room_picker() -> str:
    """The room this board shows ('' for none): typed, made up by 'New room', or from the board's URL."""
    if "board_room" not in st.session_state:
        try:
            st.session_state["board_room"] = logic.parse_room(st.query_params.get("room", ""))
        except ValueError as e:
            st.session_state["board_room"] = ""
            st.session_state["board_error"] = f"Ignored a link parameter: {e}"
        st.session_state["board_room_text"] = st.session_state["board_room"]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input(
        "Room code",
        key="board_room_text",
        max_chars=20,
        on_change=_on_room,
        help="Students enter it under Class on the Train page; their runs from then on appear here.",
    )
    c2.button("New room", key="board_new_room", on_click=_on_new_room, width="stretch")
    if st.session_state.get("board_error"):
        st.error(st.session_state["board_error"], icon="⚠️")
    code = st.session_state["board_room"]
    if code:
        st.query_params["room"] = code
    elif "room" in st.query_params:
        del st.query_params["room"]
    return code


def _open_link(r: logic.BoardRow) -> str:
    try:
        return "train?" + link_query(RunConfig.from_dict(r.config), run=r.run_id)
    except ConfigError:
        return "train?" + link_query(RunConfig(), run=r.run_id)


def _frame(rows: list[logic.BoardRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "who": r.who,
                "settings": r.settings,
                "seed": r.seed,
                "status": r.status,
                "step": r.step,
                "val_acc": r.val_acc,
                "top hint": r.hint,
                "open": _open_link(r),
                "run": r.run_id,
            }
            for r in rows
        ],
        columns=["who", "settings", "seed", "status", "step", "val_acc", "top hint", "open", "run"],
    )


def _label(r: logic.BoardRow) -> str:
    return f"{r.who} · {r.settings} · {r.run_id[:6]}"


def overlay(b: logic.Board, rows: list[logic.BoardRow]) -> None:
    """Pick any two runs of the room and draw their loss and accuracy on shared axes."""
    by_id = {r.run_id: r for r in rows}
    picked = st.multiselect(
        "Overlay two runs",
        list(by_id),
        format_func=lambda rid: _label(by_id[rid]) if rid in by_id else rid,
        max_selections=2,
        key="board_overlay",
    )
    picked = [rid for rid in picked if rid in by_id]
    if len(picked) < 2:
        st.caption("Choose two runs to overlay their loss and accuracy.")
        return
    series = [charts.RunSeries(by_id[rid].who, b.histories[rid].train, b.histories[rid].val) for rid in picked]
    c1, c2 = st.columns(2)
    with c1:
        live_chart(charts.loss_spec(series), "board_loss")
    with c2:
        live_chart(charts.accuracy_spec(series), "board_accuracy")


@st.fragment(run_every=POLL_SECONDS)
def board(room: str) -> None:
    """The room's runs, refreshed every few seconds: a sortable table, then the overlay."""
    held = st.session_state.get("_board")
    if held is None or held.room != room:
        held = st.session_state["_board"] = logic.Board(room)
    rows = held.rows(get_store())
    if not rows:
        st.info(f"No runs in room **{room}** yet. Students enter {room} under **Class** on the Train page.")
        return
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    key = c1.selectbox("Sort by", list(SORT_LABELS), format_func=SORT_LABELS.get, key="board_sort")
    descending = c2.toggle("Descending", value=True, key="board_desc")
    rows = logic.sort_rows(rows, key, descending)
    active = sum(r.status in ACTIVE for r in rows)
    names = ", ".join(sorted({r.who for r in rows}))
    st.caption(f"{len(rows)} run(s) in room {room} ({names}), {active} active. Open any run read-only from its row.")
    st.dataframe(
        _frame(rows),
        key="board_table",
        hide_index=True,
        column_config={
            "val_acc": st.column_config.NumberColumn("val acc", format="percent"),
            "open": st.column_config.LinkColumn("open", display_text="open read-only"),
            "run": st.column_config.TextColumn("run id"),
        },
    )
    overlay(held, rows)
