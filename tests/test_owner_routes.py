"""HTTP routes and run ownership: the app's routes only read, and a run-changing route checks the owner cookie."""

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lab.serving.owner_token import OWNER_COOKIE, owns, resolve_token, valid_token
from lab.serving.store import RunStore
from lab.ui.live_routes import ROUTES
from lab.ui.owner_routes import owner_only, unguarded

TOKEN = "owner-token-000000001"
OTHER = "viewer-token-00000002"


def _request(query: str, cookie: str | None = None, method: str = "POST") -> Request:
    headers = [(b"cookie", f"{OWNER_COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "method": method, "path": "/x", "query_string": query.encode(), "headers": headers})


def test_app_routes_only_read():
    assert unguarded(ROUTES) == []
    assert all(r.methods <= {"GET", "HEAD"} for r in ROUTES)


def test_a_run_changing_route_without_the_check_is_flagged():
    def stop(request):
        return JSONResponse({})

    assert unguarded([Route("/api/stop", stop, methods=["POST"])]) == ["/api/stop"]
    guarded = owner_only(lambda request, ids: JSONResponse({"stopped": ids}))
    assert unguarded([Route("/api/stop", guarded, methods=["POST"])]) == []


def test_owner_only_answers_403_to_anyone_but_the_owner(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    mine = store.create_run({}, owner=TOKEN)
    workflow = store.create_run({}, owner=f"{TOKEN}:search")
    calls = []

    def stop(request, ids):
        calls.append(ids)
        return JSONResponse({"stopped": ids})

    route = owner_only(stop, get_store=lambda: store)
    assert route(_request(f"runs={mine},{workflow}", TOKEN)).status_code == 200
    for cookie in (OTHER, None, f"{TOKEN}:search"):
        answer = route(_request(f"runs={mine}", cookie))
        assert answer.status_code == 403 and b"read-only here" in answer.body
    assert route(_request("runs=nosuchrun", TOKEN)).status_code == 403
    assert route(_request("runs=../x", TOKEN)).status_code == 400
    assert calls == [[mine, workflow]]  # the handler ran for the owner only


def test_tokens_and_ownership():
    assert owns(TOKEN, TOKEN) and owns(f"{TOKEN}:search", TOKEN)
    assert not owns(f"{TOKEN}x", TOKEN) and not owns(TOKEN, OTHER) and not owns("", "") and not owns(TOKEN, None)
    assert resolve_token(cookie=OTHER, legacy=TOKEN) == TOKEN  # an old link's tok keeps working for its owner
    assert resolve_token(cookie=OTHER, legacy="short") == OTHER
    fresh = resolve_token(cookie="bad token!", legacy=None)
    assert valid_token(fresh) and fresh not in (OTHER, TOKEN)
