"""Who owns a run: the secret owner token of a browser, where it travels, and the ownership test.

The token is minted per browser and kept in a cookie (`OWNER_COOKIE`), never in a URL, so an
address bar can be shared. Pages read it through Streamlit's `st.context.cookies`; HTTP routes
read the same cookie from the request. Workflow pages own their runs under a sub-owner
`<token>:<workflow>`, which the token owns too.
"""

from __future__ import annotations

import secrets

OWNER_COOKIE = "training_lab_owner"  # the browser's secret owner token; set by the page (lab/ui/identity.py)
LEGACY_PARAM = "tok"  # older links carried the token in the URL; still read once, then rewritten away
COOKIE_MAX_AGE_S = 30 * 24 * 3600  # a month: a course's week of work survives closing the browser


def valid_token(text: str | None) -> bool:
    """True for text we could have minted: URL-safe characters, 16 to 64 of them."""
    return bool(text) and 16 <= len(text) <= 64 and all(c.isalnum() or c in "-_" for c in text)


def new_token() -> str:
    """A fresh owner token (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def resolve_token(cookie: str | None, legacy: str | None) -> str:
    """The session's token: an old link's `tok` (so it keeps working for its owner), else the cookie, else new."""
    for text in (legacy, cookie):
        if valid_token(text):
            return text
    return new_token()


def owns(run_owner: str, token: str | None) -> bool:
    """True when `token` owns a run whose owner is `run_owner` (itself or one of its `<token>:<workflow>`)."""
    if not valid_token(token) or not run_owner:
        return False
    return run_owner == token or run_owner.startswith(f"{token}:")
