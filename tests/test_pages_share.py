"""Sharing on the Train page (AppTest): links without the token, Fork for a viewer, the class room on runs."""

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from lab.config import RunConfig
from lab.serving.owner_token import OWNER_COOKIE
from tests.conftest import private_server

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "train.py")


@pytest.fixture(autouse=True, scope="module")
def isolated_server(tmp_path_factory):
    """A private store and one JobManager for this module (sessions differ by owner token)."""
    with private_server(tmp_path_factory.mktemp("share_page"), workers=1):
        yield


def _components(at: AppTest, name: str) -> dict[str, dict]:
    return {
        el.proto.id.split("-")[-1]: json.loads(el.proto.json)
        for el in at.get("bidi_component")
        if el.proto.component_name == name
    }


def _shares(at: AppTest) -> dict[str, dict]:
    """The Share bar's buttons by id ('run', 'settings')."""
    return {b["id"]: b for b in _components(at, "training_lab.share")["share"]["buttons"]}


def _app(**params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def _store():
    from lab.ui.common import get_store

    return get_store()


def test_share_links_carry_settings_and_run_but_never_the_token():
    at = _app(epochs="2000", lr="0.05", seed="7")
    assert _shares(at)["run"]["enabled"] is False  # no run yet
    at.button(key="btn_start").click().run()
    run_id, token = at.session_state["run"], at.session_state["_owner"]
    shares = _shares(at)
    run_link = parse_qs(shares["run"]["query"])
    assert run_link["run"] == [run_id] and run_link["lr"] == ["0.05"] and run_link["seed"] == ["7"]
    settings_link = parse_qs(shares["settings"]["query"])
    assert "run" not in settings_link and settings_link["epochs"] == ["2000"] and settings_link["seed"] == ["7"]
    for text in (shares["run"]["query"], shares["settings"]["query"]):
        assert token not in text and "tok" not in parse_qs(text)
    assert token not in dict(at.query_params).values() and "tok" not in dict(at.query_params)
    # The token goes to the browser's cookie instead (the hidden identity component writes it).
    assert _components(at, "training_lab.identity")["tl_identity"]["cookies"][OWNER_COOKIE] == token
    at.button(key="btn_stop").click().run()


def test_viewer_forks_an_owned_run_with_the_same_settings_and_seed():
    owner = _app(epochs="2000", depth="1", seed="5")
    owner.button(key="btn_start").click().run()
    original = owner.session_state["run"]
    viewer = _app(**dict(owner.query_params))
    assert viewer.session_state["run"] == original and viewer.button(key="btn_fork")
    viewer.button(key="btn_fork").click().run()
    forked = viewer.session_state["run"]
    assert forked != original
    row, first = _store().get_run(forked), _store().get_run(original)
    assert row["owner"] == viewer.session_state["_owner"] != first["owner"]
    assert RunConfig.from_dict(row["config"]) == RunConfig.from_dict(first["config"])
    assert row["config"]["seed"] == 5
    keys = {b.key for b in viewer.button}
    assert "btn_fork" not in keys and viewer.button(key="btn_stop").disabled is False  # now it is the viewer's run
    assert viewer.query_params["run"] == forked
    for at in (viewer, owner):
        at.button(key="btn_stop").click().run()


def test_room_code_tags_runs_and_a_bad_code_says_what_is_allowed():
    at = _app(epochs="2000")
    at.text_input(key="class_room").input("bio 7!").run()
    errors = [e.value for e in at.error]
    assert any("room code 'bio 7!' is invalid" in e and "letters, digits or '-'" in e for e in errors)
    assert at.session_state["_room"] == ""
    at.text_input(key="class_room").input("bio-7").run()
    at.text_input(key="class_name").input("  Ana   B ").run()
    assert at.session_state["_room"] == "BIO-7" and not at.error
    at.button(key="btn_start").click().run()
    row = _store().get_run(at.session_state["run"])
    assert row["room"] == "BIO-7" and row["student"] == "Ana B"
    cookies = _components(at, "training_lab.identity")["tl_identity"]["cookies"]
    assert cookies["training_lab_room"] == "BIO-7" and cookies["training_lab_name"] == "Ana B"
    at.button(key="btn_stop").click().run()
    alone = _app(epochs="2")  # a browser that joined no room: its runs stay off every board
    alone.button(key="btn_start").click().run()
    assert _store().get_run(alone.session_state["run"])["room"] == ""


def test_workflow_pages_keep_the_token_out_of_the_url():
    compare = str(Path(PAGE).with_name("compare.py"))
    old = AppTest.from_file(compare, default_timeout=60)
    old.query_params["tok"] = "an-old-link-token-0001"
    old.run()
    assert not old.exception
    assert old.session_state["_owner"] == "an-old-link-token-0001"  # the old link still works for its owner
    assert "tok" not in old.query_params
    fresh = AppTest.from_file(compare, default_timeout=60).run()
    assert "tok" not in fresh.query_params and fresh.session_state["_owner"] != "an-old-link-token-0001"
    cookies = _components(fresh, "training_lab.identity")["tl_identity"]["cookies"]
    assert cookies[OWNER_COOKIE] == fresh.session_state["_owner"]
