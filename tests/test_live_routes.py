"""The live routes read the running JobManager's store and never start a manager or its workers."""

import json
import multiprocessing

from starlette.applications import Starlette
from starlette.requests import Request

from lab.serving import jobs
from lab.ui import live_routes
from tests.conftest import private_server


def _get(handler, path: str, query: str):
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": []}
    return handler(Request({**scope, "app": Starlette()}))


def test_a_plain_get_never_starts_the_job_manager(tmp_path):
    with private_server(tmp_path):
        jobs.shutdown_shared()
        children = set(multiprocessing.active_children())
        for handler, path in (
            (live_routes.curves, live_routes.FEED_PATH),
            (live_routes.layers, live_routes.LAYERS_PATH),
        ):
            response = _get(handler, path, "runs=abc")
            assert response.status_code == 503
            assert json.loads(response.body) == {"error": "no job manager is running on this server yet"}
        assert jobs.running_manager() is None and jobs._shared is None
        assert set(multiprocessing.active_children()) == children  # no worker was spawned


def test_a_get_reads_the_running_manager(tmp_path):
    with private_server(tmp_path):
        manager = jobs.shared_manager()
        rid = manager.store.create_run({}, status="running")
        response = _get(live_routes.curves, live_routes.FEED_PATH, f"runs={rid}")
        assert response.status_code == 200 and json.loads(response.body)["runs"][0]["id"] == rid
        assert jobs.running_manager() is manager
