"""The live feed and its HTTP route: payloads follow the store, unchanged polls are tiny, bad requests explained."""

import json
import math

import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from lab.charts.style import sig
from lab.serving.live.feed import FeedError, LiveFeed, parse_run_ids, status_text
from lab.serving.store import RunStore
from lab.ui import live_routes


def _rows(first: int, last: int) -> list[dict]:
    return [
        {"step": s, "train_loss": 2.3 * math.exp(-s / 50), "train_acc": s / 100, "lr": 0.1, "images_per_s": 1000.0 + s}
        for s in range(first, last + 1)
    ]


@pytest.fixture
def store(tmp_path):
    s = RunStore(tmp_path / "runs.db")
    yield s
    s.close()


def _run(store: RunStore, label: str = "") -> str:
    rid = store.create_run({"loss": "cross_entropy"}, owner="o", label=label, status="running")
    store.append(rid, meta={"total_steps": 100, "step": 0, "n_classes": 4})
    return rid


def test_payload_follows_the_store_incrementally(store):
    feed = LiveFeed(store)
    rid = _run(store)
    store.append(rid, train=_rows(1, 10), meta={"total_steps": 100, "step": 10, "n_classes": 4})
    first = feed.payload([rid])
    store.append(
        rid,
        train=_rows(11, 30),
        val=[{"step": 30, "val_loss": 1.0, "val_acc": 0.625}],
        meta={"total_steps": 100, "step": 30, "n_classes": 4},
    )
    second = feed.payload([rid])
    assert second["version"] != first["version"]
    loss = json.loads(second["figures"]["loss"])
    train = next(t for t in loss["data"] if t["name"].endswith("train"))
    # Every row written to the store, old and new, in order and rounded as charts round them.
    assert train["x"] == list(range(1, 31))
    assert train["y"] == [sig(r["train_loss"]) for r in _rows(1, 30)]
    acc = json.loads(second["figures"]["accuracy"])
    assert acc["layout"]["shapes"][0]["y0"] == pytest.approx(1 / 4)  # chance level from the run's meta
    (run,) = second["runs"]
    assert run["label"] == "Run" and run["progress"] == pytest.approx(0.3)
    assert run["text"] == "running · step 30/100 · val acc 62.5% · 1,023 images/s"  # median of the last 15 rows
    assert second["active"] is True


def test_unchanged_poll_is_tiny_and_the_end_is_reported(store):
    feed = LiveFeed(store)
    rid = _run(store)
    store.append(rid, train=_rows(1, 50))
    full = json.loads(feed.poll([rid]))
    assert set(full["figures"]) == {"loss", "accuracy", "lr"}
    same = feed.poll([rid], since=full["version"])
    assert json.loads(same) == {"version": full["version"], "active": True, "unchanged": True}
    assert len(same) < 120
    store.set_status(rid, "completed", "finished")
    ended = json.loads(feed.poll([rid], since=full["version"]))
    assert ended["active"] is False and ended["runs"][0]["text"].startswith("completed")


def test_two_runs_overlay_and_viewers_share_one_build(store):
    feed = LiveFeed(store)
    a, b = _run(store), _run(store, label="init=xavier_normal")
    store.append(a, train=_rows(1, 5))
    store.append(b, train=_rows(1, 7))
    p = feed.payload([a, b])
    names = [t["name"] for t in json.loads(p["figures"]["loss"])["data"]]
    assert names == ["run A · train", "init=xavier_normal · train"]
    assert [r["label"] for r in p["runs"]] == ["Run A", "Run B"]
    assert feed.payload([a, b]) is p  # a second viewer of the same runs gets the cached payload


def test_presenter_payload_is_larger_type(store):
    feed = LiveFeed(store)
    rid = _run(store)
    store.append(rid, train=_rows(1, 5))
    normal = json.loads(feed.payload([rid])["figures"]["loss"])["layout"]
    big = json.loads(feed.payload([rid], presenter=True)["figures"]["loss"])["layout"]
    assert big["title"]["font"]["size"] == pytest.approx(1.5 * normal["title"]["font"]["size"])


def test_queue_position_changes_the_version(store):
    positions = {"q": 3}
    rid = store.create_run({}, status="queued")
    feed = LiveFeed(store, queue_position=lambda r: positions["q"] if r == rid else 0)
    before = feed.payload([rid])
    assert "waiting, position 3 in the queue" in before["runs"][0]["text"]
    positions["q"] = 1
    after = feed.payload([rid])
    assert after["version"] != before["version"] and "position 1" in after["runs"][0]["text"]


def test_missing_run_and_no_runs(store):
    feed = LiveFeed(store)
    p = feed.payload(["nosuchrun"])
    assert p["active"] is False and p["runs"][0]["text"].startswith("missing")
    empty = feed.payload([])
    assert json.loads(empty["figures"]["loss"])["layout"]["meta"] == {"empty": True}


def test_status_text_of_a_failed_run_gives_the_reason():
    row = {"status": "failed", "reason": "the worker died", "meta": {"total_steps": 10, "step": 4}}
    assert status_text(row, [], []) == ("failed · step 4/10 · the worker died", 0.4)


def test_status_text_of_a_paused_run_says_where_its_step_plays_to():
    row = {"status": "paused", "reason": "stepping to step 8", "meta": {"total_steps": 10, "step": 4}}
    assert status_text(row, [], []) == ("paused · step 4/10 · stepping to step 8", 0.4)
    running = dict(row, status="running")  # a reason left on a running row is not news
    assert status_text(running, [], [])[0] == "running · step 4/10"


@pytest.mark.parametrize("text", ["", ",", "a,b,c", "a b", "../etc", "x" * 65, "a;b"])
def test_bad_run_lists_are_refused(text):
    with pytest.raises(FeedError, match="runs="):
        parse_run_ids(text)


def _get(query: str, path: str = live_routes.FEED_PATH):
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [],
        "app": Starlette(),
    }
    handler = live_routes.curves if path == live_routes.FEED_PATH else live_routes.layers
    return handler(Request(scope))


@pytest.mark.parametrize(
    "query, field",
    [("runs=a,b,c", "runs="), ("runs=ok&presenter=2", "presenter="), ("runs=ok&since=" + "x" * 2000, "since")],
)
def test_route_answers_bad_requests_with_one_line(query, field):
    response = _get(query)
    assert response.status_code == 400
    error = json.loads(response.body)["error"]
    assert field in error and "\n" not in error


def test_route_serves_the_shared_feed(lab_server):
    from lab.serving.jobs import shared_manager

    store = shared_manager().store
    rid = _run(store)
    store.append(rid, train=_rows(1, 3))
    response = _get(f"runs={rid}&presenter=0")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = json.loads(response.body)
    assert body["runs"][0]["id"] == rid
    assert json.loads(_get(f"runs={rid}&since={body['version']}").body)["unchanged"] is True


# ---- the per-layer payload (lab.serving.live.layers) -------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    """A real short run's history (2D data: the probe chart is the decision boundary)."""
    from lab.config import RunConfig
    from lab.engine.trainer import Trainer

    tr = Trainer(RunConfig(dataset="spiral", subset=256, max_steps=40, record_every=5, eval_every=10)).fit()
    return tr.history, tr.summary()


def _layer_run(store: RunStore, history, upto: int) -> str:
    rid = store.create_run({"dataset": "spiral", "model": "mlp"}, owner="o", status="running")
    store.append(
        rid,
        train=[r for r in history.train if r["step"] <= upto],
        val=[r for r in history.val if r["step"] <= upto],
        snapshots=[s for s in history.snapshots if s["step"] <= upto],
        meta=dict(history.meta, total_steps=40),
    )
    return rid


def test_layer_payload_follows_snapshots_not_every_write(store, trained):
    from lab.charts import live as charts
    from lab.diagnosis import diagnose

    history, _ = trained
    feed = LiveFeed(store)
    rid = _layer_run(store, history, 20)
    first = feed.layers_payload([rid])
    act = json.loads(first["figures"]["act_hist"])
    steps = [s["step"] for s in history.snapshots if s["step"] <= 20]
    assert act["data"][0]["x"] == steps  # one heatmap column per snapshot held in the store
    assert json.loads(first["figures"]["probe"])["data"][0]["type"] == "heatmap"  # the decision boundary
    # The hints are the diagnosis of what the store holds, computed here a second way.
    snaps = [s for s in history.snapshots if s["step"] <= 20]
    train = [r for r in history.train if r["step"] <= 20]
    val = [r for r in history.val if r["step"] <= 20]
    summary = {"status": "running", "reason": "", "initial_loss": train[0]["train_loss"]}
    expected = diagnose(
        train, val, snaps, dict(history.meta, total_steps=40), {"dataset": "spiral", "model": "mlp"}, summary
    )
    assert [(h["topic"], h["text"]) for h in first["hints"]] == [(h.topic, h.text) for h in expected]
    # New train rows alone do not change the per-layer version; a new snapshot does.
    store.append(rid, train=[{"step": 21, "train_loss": 1.0, "train_acc": 0.5, "lr": 0.1, "images_per_s": 1.0}])
    assert feed.layers_version([rid]) == first["version"]
    assert json.loads(feed.poll_layers([rid], since=first["version"]))["unchanged"] is True
    store.append(rid, snapshots=[s for s in history.snapshots if 20 < s["step"] <= 30])
    second = json.loads(feed.poll_layers([rid], since=first["version"]))
    assert second["version"] != first["version"] and set(second["figures"]) >= {"act_hist", "timeline_act"}
    newest = [s for s in history.snapshots if s["step"] <= 30][-1]
    reference = charts.histogram_at_spec(newest, dict(history.meta, total_steps=40), "act", f"step {newest['step']}")
    assert second["figures"]["timeline_act"] == charts_json(reference)


def charts_json(spec: dict) -> dict:
    from lab.charts.style import figure_json

    return json.loads(figure_json(spec))


def test_layer_payload_of_a_pair_overlays_b_in_the_update_ratio(store, trained):
    history, _ = trained
    feed = LiveFeed(store)
    a, b = _layer_run(store, history, 40), _layer_run(store, history, 40)
    one = json.loads(feed.layers_payload([a])["figures"]["update_ratio"])
    two = json.loads(feed.layers_payload([a, b])["figures"]["update_ratio"])
    assert len(two["data"]) > len(one["data"])
    store.set_status(a, "completed", "finished")
    store.set_status(b, "completed", "finished")
    assert feed.layers_payload([a, b])["active"] is False


def _get_layers(query: str):
    return _get(query, live_routes.LAYERS_PATH)


@pytest.mark.parametrize("query, field", [("runs=", "runs="), ("runs=ok&presenter=yes", "presenter=")])
def test_layers_route_answers_bad_requests_with_one_line(query, field):
    response = _get_layers(query)
    assert response.status_code == 400
    error = json.loads(response.body)["error"]
    assert field in error and "\n" not in error


def test_layers_route_serves_the_shared_feed(lab_server, trained):
    from lab.serving.jobs import shared_manager

    rid = _layer_run(shared_manager().store, trained[0], 40)
    body = json.loads(_get_layers(f"runs={rid}").body)
    assert body["active"] is True and body["hints"] and "act_hist" in body["figures"]
    assert json.loads(_get_layers(f"runs={rid}&since={body['version']}").body)["unchanged"] is True


def test_layer_version_moves_when_the_run_learns_its_length(store):
    feed = LiveFeed(store)
    rid = store.create_run({"dataset": "digits"}, owner="o", status="running")
    before = json.loads(feed.poll_layers([rid]))
    assert before["total_steps"] == 0  # the timeline's waiter keeps waiting
    store.append(rid, meta={"total_steps": 250, "step": 1})
    after = json.loads(feed.poll_layers([rid], since=before["version"]))
    assert after["version"] != before["version"] and after["total_steps"] == 250


def test_status_text_of_a_run_until_paused_names_the_server_limit_not_a_length():
    row = {
        "status": "running",
        "reason": "",
        "meta": {"step": 1200, "total_steps": 200000},
        "config": {"until_paused": True},
    }
    text, progress = status_text(row, [], [])
    assert text == "running · step 1,200 (until paused; the server stops it at 200,000)" and progress == 0.006
    row["config"]["until_paused"] = False
    assert status_text(row, [], [])[0] == "running · step 1200/200000"
