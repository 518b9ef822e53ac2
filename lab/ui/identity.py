"""This browser's identity on the pages: the owner token and the class room, kept in cookies, not the URL.

Streamlit reads cookies (`st.context.cookies`, those sent when the page connected) but cannot
set them, so a tiny `st.components.v2` component writes them from the browser. It sits in
the page on every run, hidden, and writes only what differs from what the browser holds. A
refresh then sends the cookies back: the page owns its runs again and keeps its room, while
the address bar carries only settings, seed and run ids, and is safe to share.
"""

from __future__ import annotations

from urllib.parse import unquote

import streamlit as st

from lab.serving.owner_token import COOKIE_MAX_AGE_S, OWNER_COOKIE
from lab.ui.common import OWNER_PARAM, get_store, owner_token
from lab.workflows.board import parse_name, parse_room

ROOM_COOKIE = "training_lab_room"
NAME_COOKIE = "training_lab_name"
KEY = "tl_identity"

# SameSite=Strict: no other site's page can make the browser send the token along (the cookie is
# what an owner-checked route would trust). Secure when served over https.
_JS = """
export default function ({ data }) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const held = Object.fromEntries(document.cookie.split("; ").filter(Boolean).map((c) => {
    const i = c.indexOf("=");
    return [c.slice(0, i), c.slice(i + 1)];
  }));
  for (const [name, value] of Object.entries(data.cookies || {})) {
    const text = encodeURIComponent(value);
    if ((held[name] || "") === text) continue;
    const life = value ? "; max-age=" + data.max_age : "; max-age=0";
    document.cookie = name + "=" + text + "; path=/; SameSite=Strict" + life + secure;
  }
}
"""
_CSS = f".st-key-{KEY} {{ display: none !important; }}"
_writer = st.components.v2.component("training_lab.identity", js=_JS, css=_CSS, isolate_styles=False)


def _cookie(name: str) -> str:
    return unquote(st.context.cookies.get(name) or "")


def _remembered(state_key: str, cookie: str, parse) -> str:
    """A cookie's value, checked by `parse` once per session ('' when it is missing or malformed)."""
    if state_key not in st.session_state:
        try:
            st.session_state[state_key] = parse(_cookie(cookie))
        except ValueError:
            st.session_state[state_key] = ""
    return st.session_state[state_key]


def room() -> str:
    """This browser's class room code ('' outside a class)."""
    return _remembered("_room", ROOM_COOKIE, parse_room)


def student() -> str:
    """The display name this browser gave for the class board ('' for none)."""
    return _remembered("_student", NAME_COOKIE, parse_name)


def keep() -> None:
    """Write the owner token (and room, name) to the browser's cookies, and drop an old link's `tok` from the URL.

    Call it in the page body, once per run, after anything that may adopt an old link's token.
    """
    token = owner_token()  # resolved first: an old link's tok is read before it leaves the URL
    if OWNER_PARAM in st.query_params:
        del st.query_params[OWNER_PARAM]
    cookies = {OWNER_COOKIE: token, ROOM_COOKIE: room(), NAME_COOKIE: student()}
    _writer(key=KEY, data={"cookies": cookies, "max_age": COOKIE_MAX_AGE_S}, height="content")


def tag_run(run_id: str) -> None:
    """Put a run this page just started in the browser's class room (if it joined one), for the board."""
    if room():
        get_store().set_room(run_id, room(), student())


def _on_class_change() -> None:
    errors = []
    for field, parse, key in (("_room", parse_room, "class_room"), ("_student", parse_name, "class_name")):
        try:
            st.session_state[field] = parse(st.session_state.get(key, ""))
        except ValueError as e:
            errors.append(str(e))
    st.session_state["class_errors"] = errors


def class_box() -> None:
    """Sidebar: join a class room (code from the instructor) under an optional display name."""
    with st.expander("Class", expanded=bool(room())):
        st.text_input(
            "Room code",
            value=room(),
            key="class_room",
            max_chars=20,
            on_change=_on_class_change,
            help="From your instructor: your runs then appear on the class board (read-only). Empty: nobody sees them.",
        )
        st.text_input(
            "Your name (optional)",
            value=student(),
            key="class_name",
            max_chars=40,
            on_change=_on_class_change,
            help="Shown next to your runs on the class board.",
        )
        for message in st.session_state.get("class_errors", []):
            st.error(message, icon="⚠️")
        if room():
            who = f" as **{student()}**" if student() else ""
            st.caption(f"In room **{room()}**{who}: runs you start from now on appear on its board.")
