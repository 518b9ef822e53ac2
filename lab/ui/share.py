"""Sharing a run: Share and Share settings links, and what a read-only viewer gets instead of the controls.

A link carries settings, seed and run ids, never the owner token (lab/ui/identity.py keeps that in
a cookie), so any link is read-only for whoever opens it. The links are built in the browser from
its own address (the server cannot know the address students reach it by) and copied to the
clipboard; where the browser refuses (plain http on a LAN address is not a secure context), the
link is shown selected, ready to copy by hand.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from lab.config import ConfigError, RunConfig
from lab.ui import controls, runs
from lab.ui.common import get_settings

RUN_NOTE = "Copied a read-only link: it shows this run live, but only you can pause, step or stop it."
SETTINGS_NOTE = "Copied a link to these settings and seed: whoever opens it starts a run of their own."
MANUAL_NOTE = "Copy this link (the browser did not allow copying here):"

_JS = """
function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text).then(() => true, () => false);
  }
  const area = document.createElement("textarea");
  area.value = text;
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  area.remove();
  return Promise.resolve(ok);
}

export default function ({ data, parentElement }) {
  let bar = parentElement.querySelector(":scope > .tl-share");
  if (!bar) {
    bar = document.createElement("div");
    bar.className = "tl-share";
    bar.innerHTML = '<div class="tl-share-buttons"></div><p class="tl-share-note"></p>' +
      '<input class="tl-share-link" readonly hidden aria-label="shared link">';
    parentElement.appendChild(bar);
  }
  const [row, note, link] = [bar.querySelector("div"), bar.querySelector("p"), bar.querySelector("input")];
  bar.__data = data;
  data.buttons.forEach((spec, i) => {
    let button = row.children[i];
    if (!button) {
      button = document.createElement("button");
      button.type = "button";
      button.addEventListener("click", () => {
        const b = bar.__data.buttons[i];
        const url = new URL(location.pathname + (b.query ? "?" + b.query : ""), location.origin).href;
        link.value = url;
        copyText(url).then((ok) => {
          note.textContent = ok ? b.note : bar.__data.manual;
          link.hidden = false;
          if (!ok) link.select();
        });
      });
      row.appendChild(button);
    }
    button.textContent = spec.label;
    button.title = spec.help;
    button.disabled = !spec.enabled;
  });
}
"""
_CSS = """
.tl-share-buttons { display: flex; gap: 0.75rem; }
.tl-share button { min-height: 2.5rem; padding: 0.25rem 1.25rem; cursor: pointer;
  border: 1px solid var(--st-border-color, #D5DAE5); border-radius: var(--st-button-radius, 0.5rem);
  background: var(--st-background-color, #FFFFFF); color: inherit; font: inherit; }
.tl-share button:hover:enabled { border-color: var(--st-primary-color, #0072B2); }
.tl-share button:disabled { cursor: not-allowed; opacity: 0.5; }
.tl-share-note { margin: 0.4rem 0 0.2rem; font-size: 0.875rem; }
.tl-share-note:empty { display: none; }
.tl-share-link { width: 100%; max-width: 48rem; font-size: 0.8rem; }
"""
_bar = st.components.v2.component("training_lab.share", js=_JS, css=_CSS, isolate_styles=False)


def link_query(cfg: RunConfig, lesson: str = "", **run_ids: str) -> str:
    """The query of a shared link: changed settings and seed, the lesson, and the given run ids (never a token)."""
    params = {**cfg.to_query(), **({"lesson": lesson} if lesson else {}), **{k: v for k, v in run_ids.items() if v}}
    return urlencode(params)


def _run_config(view: runs.RunView) -> RunConfig | None:
    try:
        return RunConfig.from_dict(view.row.get("config", {}))
    except ConfigError:
        return None


def share_row(cfg: RunConfig | None) -> None:
    """Share (a read-only link to the live run) and Share settings (the scenario without the run)."""
    a, b = runs.view_for("run"), runs.view_for("cmp")
    lesson = st.session_state.get("lesson", "")
    run_cfg = _run_config(a) if a is not None else None
    run_query = link_query(run_cfg, lesson, run=a.run_id, cmp=b.run_id if b else "") if run_cfg else ""
    base = run_cfg or cfg
    buttons = [
        {
            "id": "run",
            "label": "Share",
            "query": run_query,
            "enabled": bool(run_query),
            "note": RUN_NOTE,
            "help": "Copy a read-only link to this run: viewers see it live and can fork it, not control it.",
        },
        {
            "id": "settings",
            "label": "Share settings",
            "query": link_query(base, lesson) if base else "",
            "enabled": base is not None,
            "note": SETTINGS_NOTE,
            "help": "Copy a link that reproduces these settings and seed, without the run.",
        },
    ]
    _bar(key="share", data={"buttons": buttons, "manual": MANUAL_NOTE})


def _on_fork() -> None:
    view = runs.view_for("run")
    if view is None or not view.row.get("config"):
        return
    try:
        cfg = RunConfig.from_dict(view.row.get("config", {}), get_settings().limits)
    except ConfigError as e:
        st.session_state["fork_error"] = f"Cannot fork this run here: {e}"
        return
    if runs.start(cfg):  # the slot now holds this session's own run
        st.session_state.pop("cmp", None)
        controls.set_config(cfg)
        st.rerun()  # the Fork button sits in the Train page's runs fragment: the sidebar's controls changed too


def viewer_bar() -> bool:
    """For a read-only viewer (the page's run belongs to another browser): a note and Fork; True if drawn."""
    a = runs.view_for("run")
    if a is None or a.mine or a.status == "missing":
        return False
    with st.container(border=True):
        st.markdown(
            "**Read-only view**: this run was started in another browser; only its owner can pause, step or "
            "stop it. **Fork** starts a run of your own from the same settings and seed."
        )
        st.button(
            "Fork",
            icon=":material/call_split:",
            type="primary",
            key="btn_fork",
            on_click=_on_fork,
            help="Start your own run from these settings, with the same seed.",
        )
        message = st.session_state.pop("fork_error", "") or st.session_state.pop("run_error", "")
        if message:
            st.error(message, icon="⚠️")
    return True
