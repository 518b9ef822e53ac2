"""Class board: the instructor's view of a room's runs, live and read-only."""

import streamlit as st

from lab.ui import board, common


def render() -> None:
    """Room code, then the room's runs (nothing at all without a code)."""
    common.apply_presenter_css()
    st.title("Class board")
    st.caption(
        "Make up a room code (or press New room), write it on the board, and ask students to enter it under "
        "**Class** on the Train page. Their runs appear here live; every link opens a run read-only."
    )
    room = board.room_picker()
    if not room:
        st.info("Enter a room code to see its runs. Runs outside a room are visible to no one but their owner.")
        return
    board.board(room)


render()
