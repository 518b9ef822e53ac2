"""HTTP routes of the Training Lab server beside Streamlit's own: the live feed of the Train page.

Mounted by app.py through `st.App(..., routes=ROUTES)`, which `streamlit run app.py`
discovers and serves on the same port as the app. The handlers are plain functions,
so Starlette runs them on its worker threads, never on the event loop. They read the
store of the JobManager already running in this process and never start one (503 until then).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lab.serving.jobs import running_manager
from lab.serving.live.feed import FeedError, LiveFeed, feed_for, parse_run_ids

FEED_PATH = "/api/live/curves"  # the page builds its feed URLs from these (relative to the app's base URL)
LAYERS_PATH = "/api/live/layers"
MAX_SINCE = 1000  # characters: a version token of two runs is under 100
LAYER_NAME = re.compile(r"[A-Za-z0-9_.]{1,64}")  # a layer picked in the network overview (`focus`)


def _answer(request: Request, poll, with_focus: bool = False) -> Response:
    q = request.query_params
    extra = {}
    try:
        if with_focus and q.get("focus"):
            if not LAYER_NAME.fullmatch(q["focus"]):
                raise FeedError(f"focus={q['focus'][:20]!r} is invalid: expected a layer name (letters, digits, _ .)")
            extra["focus"] = q["focus"]
        ids = parse_run_ids(q.get("runs", ""))
        presenter = q.get("presenter", "0")
        if presenter not in ("0", "1"):
            raise FeedError(f"presenter={presenter[:20]!r} is invalid: expected 0 or 1")
        since = q.get("since", "")
        if len(since) > MAX_SINCE:
            raise FeedError(f"since is {len(since)} characters long; at most {MAX_SINCE} are allowed")
    except FeedError as e:
        return JSONResponse({"error": str(e)}, status_code=400)
    jobs = running_manager()
    if jobs is None:  # a GET never starts the manager or its workers: the page that drew these runs does
        return JSONResponse({"error": "no job manager is running on this server yet"}, status_code=503)
    body = poll(feed_for(jobs), ids, presenter == "1", since, **extra)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


def curves(request: Request) -> Response:
    """GET ?runs=a[,b]&presenter=0|1&since=<version>: status lines and curves as JSON (400 with a one-line error)."""
    return _answer(request, LiveFeed.poll)


def layers(request: Request) -> Response:
    """GET ?runs=a[,b]&presenter=0|1&since=<version>[&focus=<layer>]: hints and per-layer charts (400 on error)."""
    return _answer(request, LiveFeed.poll_layers, with_focus=True)


ROUTES = [Route(FEED_PATH, curves, methods=["GET"]), Route(LAYERS_PATH, layers, methods=["GET"])]
