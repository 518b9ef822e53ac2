"""Sharing in real Chromium: no secret in the address bar, read-only viewers (page and HTTP routes), Fork, the board."""

import json
import re
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Browser, Page, expect

from lab.serving.owner_token import OWNER_COOKIE

from .conftest import VIEWPORT, screenshot, wait_for_chart_points

SETTINGS = "dataset=spiral&epochs=5000&seed=3"  # long enough to still train while the test looks


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def _cookie(page: Page, name: str = OWNER_COOKIE) -> str:
    return next((c["value"] for c in page.context.cookies() if c["name"] == name), "")


def _http(method: str, url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=b"" if method != "GET" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _status_text(base: str, run_id: str) -> str:
    code, body = _http("GET", f"{base}/api/live/curves?runs={run_id}")
    assert code == 200
    return json.loads(body)["runs"][0]["text"]


def _start(page: Page) -> str:
    page.get_by_role("button", name=re.compile("^.?Start$")).first.click()
    expect(page).to_have_url(re.compile(r"[?&]run="), timeout=30_000)
    return _query(page.url)["run"]


def _new_page(browser: Browser) -> Page:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(30_000)
    return page


def test_address_bar_is_safe_viewer_is_read_only_and_forks(app_server: str, page: Page, browser: Browser) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{app_server}/train?{SETTINGS}")
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    run_id = _start(page)
    wait_for_chart_points(page, "loss", 2, timeout=60)
    token = _cookie(page)
    assert len(token) >= 16, "the page keeps its owner token in a cookie"
    assert token not in page.url and "tok=" not in page.url
    assert _query(page.url)["seed"] == "3" and _query(page.url)["epochs"] == "5000"
    # Share copies a read-only link to the live run and says so.
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_text(re.compile("Copied a read-only link"))).to_be_visible()
    link = page.locator(".tl-share-link").first.input_value()
    assert page.evaluate("navigator.clipboard.readText()") == link
    assert _query(link)["run"] == run_id and token not in link
    # The address bar itself is a read-only link to the same run (the Share link may also spell out the pace).
    assert _query(page.url).items() <= _query(link).items()
    screenshot(page, "share-owner")

    viewer = _new_page(browser)
    try:
        viewer.goto(page.url)  # the owner's address bar, pasted into another browser
        expect(viewer.get_by_text(re.compile("Read-only view"))).to_be_visible(timeout=30_000)
        expect(viewer.get_by_text(re.compile(r"read-only \(shared link\)"))).to_be_visible(timeout=30_000)
        first = wait_for_chart_points(viewer, "loss", 2, timeout=60)
        wait_for_chart_points(viewer, "loss", first + 1, timeout=60)  # live, not a snapshot
        expect(viewer.get_by_text("What the figures say")).to_be_visible()
        for name in ("Stop", "Pause", "Step", "Epoch", "Start"):
            expect(viewer.get_by_role("button", name=re.compile(f"^.?{name}$"))).to_have_count(0)
        assert _cookie(viewer) != token
        # Nor through the HTTP routes: they only read, whoever asks and however.
        for path in ("/api/live/curves", "/api/live/layers"):
            for method in ("POST", "PUT", "DELETE", "PATCH"):
                code, _ = _http(method, f"{app_server}{path}?runs={run_id}&op=stop")
                assert code == 405, (method, path, code)
            code, body = _http("GET", f"{app_server}{path}?runs={run_id}&op=stop")
            assert code == 200 and token.encode() not in body  # a reader never learns the owner's token
        assert _status_text(app_server, run_id).startswith("running")
        screenshot(viewer, "share-viewer")

        viewer.get_by_role("button", name=re.compile("Fork")).click()
        expect(viewer.get_by_text(re.compile("Read-only view"))).to_have_count(0, timeout=30_000)
        expect(viewer).not_to_have_url(re.compile(f"run={re.escape(run_id)}"), timeout=30_000)
        forked = _query(viewer.url)
        assert forked["run"] != run_id and forked["seed"] == "3" and forked["epochs"] == "5000"
        assert forked["dataset"] == "spiral" and "tok" not in forked
        stop = viewer.get_by_role("button", name=re.compile("^.?Stop$"))
        expect(stop).to_be_enabled(timeout=30_000)  # the fork is the viewer's own run
        stop.click()
        expect(viewer.get_by_text(re.compile(r"Run · stopped"))).to_be_visible(timeout=60_000)
        assert _status_text(app_server, forked["run"]).startswith("stopped")
        assert _status_text(app_server, run_id).startswith("running")  # stopping the fork left the original alone
    finally:
        viewer.context.close()

    # A refresh still owns the run (the cookie came back), and the owner can stop it.
    page.reload()
    stop = page.get_by_role("button", name=re.compile("^.?Stop$"))
    expect(stop).to_be_enabled(timeout=30_000)
    stop.click()
    expect(page.get_by_text(re.compile(r"Run · stopped"))).to_be_visible(timeout=60_000)


def test_old_link_with_tok_keeps_working_and_is_rewritten(app_server: str, page: Page, browser: Browser) -> None:
    page.goto(f"{app_server}/train?dataset=xor&epochs=2000")
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    run_id = _start(page)
    token = _cookie(page)
    other = _new_page(browser)  # the owner on another machine, opening an old bookmark
    try:
        other.goto(f"{app_server}/train?dataset=xor&epochs=2000&run={run_id}&tok={token}")
        expect(other).not_to_have_url(re.compile("tok="), timeout=30_000)
        stop = other.get_by_role("button", name=re.compile("^.?Stop$"))
        expect(stop).to_be_enabled(timeout=30_000)
        assert _query(other.url)["run"] == run_id
        other.wait_for_function(f"document.cookie.includes('{OWNER_COOKIE}={token}')", timeout=30_000)
        stop.click()
        expect(other.get_by_text(re.compile(r"Run · stopped"))).to_be_visible(timeout=60_000)
    finally:
        other.context.close()


def _join(page: Page, base: str, room: str, name: str) -> str:
    page.goto(f"{base}/train?dataset=xor&epochs=20&seed=1")
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    page.locator("[data-testid=stSidebar] [data-testid=stExpander] summary").filter(has_text="Class").click()
    for label, value in (("Room code", room), ("Your name (optional)", name)):
        box = page.get_by_role("textbox", name=label)
        box.fill(value)
        box.press("Enter")
    expect(page.get_by_text(re.compile(f"In room {room} as {name}"))).to_be_visible(timeout=30_000)
    return _start(page)


def test_board_shows_one_room_and_nothing_of_another(app_server: str, page: Page, browser: Browser) -> None:
    students = [_new_page(browser) for _ in range(3)]
    try:
        joined = [
            _join(student, app_server, room, name)
            for student, (room, name) in zip(
                students, (("E2E-1", "Ana"), ("E2E-1", "Zoë"), ("E2E-2", "Cy")), strict=True
            )
        ]
        # The room and the name live in the browser's cookies: a refresh is still in the room, under the same name.
        students[1].wait_for_function("document.cookie.includes('training_lab_name=Zo%C3%AB')", timeout=30_000)
        students[1].reload()
        expect(students[1].get_by_text(re.compile("In room E2E-1 as Zoë"))).to_be_visible(timeout=30_000)
        page.goto(f"{app_server}/board")
        expect(page.get_by_text(re.compile("Enter a room code"))).to_be_visible(timeout=30_000)
        expect(page.locator("[data-testid=stDataFrame]")).to_have_count(0)
        box = page.get_by_role("textbox", name="Room code")
        box.fill("e2e-1")
        box.press("Enter")
        expect(page.get_by_text(re.compile(r"2 run\(s\) in room E2E-1 \(Ana, Zoë\)"))).to_be_visible(timeout=30_000)
        expect(page.locator("[data-testid=stDataFrame]")).to_have_count(1)
        expect(page).to_have_url(re.compile("room=E2E-1"))
        screenshot(page, "board")
        page.goto(f"{app_server}/board?room=E2E-2")
        expect(page.get_by_text(re.compile(r"1 run\(s\) in room E2E-2 \(Cy\)"))).to_be_visible(timeout=30_000)
        # A row's link opens the run read-only in the instructor's browser (the board's links carry no token).
        page.goto(f"{app_server}/train?dataset=xor&epochs=20&seed=1&run={joined[0]}")
        expect(page.get_by_text(re.compile("Read-only view"))).to_be_visible(timeout=30_000)
    finally:
        for student in students:
            student.context.close()
