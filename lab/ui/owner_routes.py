"""Ownership for HTTP routes beside Streamlit: a route that could change a run must prove the caller owns it.

The live feed's routes (lab/ui/live_routes.py) only read, by run id, like a shared link. A route
that pauses, steps, stops or otherwise changes a run is wrapped in `owner_only`: it answers 403
unless the request's owner cookie (lab.serving.owner_token.OWNER_COOKIE, the one the page sets,
SameSite=Strict so another site cannot send it along) owns every run it names. `unguarded`
lists the routes that break the rule; a test holds it empty for the app's routes. Plain Starlette:
no streamlit here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lab.serving.jobs import shared_manager
from lab.serving.live.feed import FeedError, parse_run_ids
from lab.serving.owner_token import OWNER_COOKIE, owns
from lab.serving.store import RunStore

READ_METHODS = frozenset({"GET", "HEAD"})


def owner_only(
    handler: Callable[[Request, list[str]], Response], get_store: Callable[[], RunStore] | None = None
) -> Callable[[Request], Response]:
    """Wrap a run-changing handler(request, run_ids): 403 unless the caller's cookie owns every run in ?runs=.

    `get_store` defaults to the server's job manager's store (tests pass their own).
    """

    @functools.wraps(handler)
    def checked(request: Request) -> Response:
        try:
            ids = parse_run_ids(request.query_params.get("runs", ""))
        except FeedError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        token = request.cookies.get(OWNER_COOKIE)
        store = get_store() if get_store else shared_manager().store
        for run_id in ids:
            row = store.get_run(run_id)
            if row is None or not owns(row["owner"], token):
                return JSONResponse(
                    {"error": f"run {run_id} is read-only here: only the browser that started it may change it"},
                    status_code=403,
                )
        return handler(request, ids)

    checked.checks_owner = True
    return checked


def unguarded(routes: Iterable) -> list[str]:
    """Paths of routes that accept a method beyond GET/HEAD without `owner_only` (should be none)."""
    return [
        r.path for r in routes if set(r.methods or ()) - READ_METHODS and not getattr(r.endpoint, "checks_owner", False)
    ]
