"""The live-feed route on the real server: mounted beside Streamlit's routes by `streamlit run app.py`."""

import json
import urllib.error
import urllib.request

import pytest


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_route_is_served_next_to_the_app(app_server: str) -> None:
    status, body = _get(f"{app_server}/api/live/curves?runs=nosuchrun")
    assert status == 200
    assert body["active"] is False and body["runs"][0]["text"].startswith("missing")
    assert set(body["figures"]) == {"loss", "accuracy", "lr"}


@pytest.mark.parametrize("query", ["runs=../../etc/passwd", "runs=a&presenter=yes", "runs="])
def test_route_refuses_bad_parameters_with_one_line(app_server: str, query: str) -> None:
    status, body = _get(f"{app_server}/api/live/curves?{query}")
    assert status == 400 and "\n" not in body["error"]
