"""The demo's planner app on its own: a real process on a free port, plain HTTP."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from proc_helpers import free_port, port_open


@pytest.fixture(scope="module")
def planner() -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "FRONTDESK_INSTANCE": "planner.7"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "frontdesk.demo.planner"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_open(port):
            assert proc.poll() is None, "the planner exited"
            assert time.monotonic() < deadline, "the planner did not listen"
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        assert proc.wait(10) == 0  # SIGTERM: a clean stop


def get(port: int, path: str, **headers: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        conn.close()


def route_path(a: str, b: str) -> str:
    return f"/api/route?from={quote(a)}&to={quote(b)}"


def test_a_route_is_cacheable_json_with_a_strong_etag_and_its_timing(planner: int) -> None:
    status, headers, body = get(planner, route_path("Denver, CO", "chicago, il"))
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "public, max-age=60"
    assert headers["ETag"].startswith('"') and not headers["ETag"].startswith("W/")
    assert headers["X-Planner-Instance"] == "planner.7"
    assert headers["Server-Timing"].startswith("plan;dur=")
    answer = json.loads(body)
    assert answer["from"]["name"] == "Denver, CO" and answer["to"]["name"] == "Chicago, IL"
    assert answer["route"]["km"] == round(sum(answer["route"]["legs_km"]), 1)
    assert answer["route"]["km"] > answer["straight_km"] > 1400
    assert answer["pairs"] == 300 * 299 // 2
    assert 0 < answer["longer_than_percent"] < 100
    # The same question gives the same bytes (and ETag): any instance may revalidate.
    again = get(planner, route_path("Denver, CO", "Chicago, IL"))
    assert again[2] == body and again[1]["ETag"] == headers["ETag"]
    status, headers304, body304 = get(
        planner, route_path("Denver, CO", "Chicago, IL"), **{"If-None-Match": headers["ETag"]}
    )
    assert (status, body304) == (304, b"")
    assert headers304["ETag"] == headers["ETag"]


def test_the_work_per_query_is_deliberately_heavy(planner: int) -> None:
    status, headers, _ = get(planner, route_path("Boston, MA", "Seattle, WA"))
    assert status == 200
    planned_ms = float(headers["Server-Timing"].split("dur=")[1])
    # ~0.2-0.5 s on an idle 2-core machine: the all-pairs recomputation (roads.py).
    assert planned_ms > 50, planned_ms


def test_unknown_cities_and_paths_get_a_short_json_error(planner: int) -> None:
    status, headers, body = get(planner, route_path("Atlantis, XX", "Denver, CO"))
    assert status == 400
    assert "Atlantis" in json.loads(body)["error"]
    assert headers["Cache-Control"] == "no-store"
    status, _, body = get(planner, "/nope")
    assert status == 404 and "error" in json.loads(body)


def test_map_lists_the_cities_with_map_positions_and_the_roads(planner: int) -> None:
    status, headers, body = get(planner, "/api/map")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=60"
    world = json.loads(body)
    assert len(world["cities"]) == 300 and len(world["roads"]) > 300
    label, x, y, population = world["cities"][0]
    assert label == "New York City, NY" and 0 < x < world["width"] and 0 < y < world["height"]
    assert "not real road data" in world["source"]


def test_the_data_download_is_authorised_by_the_app_and_sent_by_frontdesk(planner: int) -> None:
    status, headers, body = get(planner, "/api/data/cities.csv")
    assert status == 403 and "licence" in json.loads(body)["error"]
    status, headers, body = get(planner, "/api/data/cities.csv?licence=cc-by-4.0")
    assert status == 200 and body == b""
    assert headers["X-Accel-Redirect"] == "/_planner-data/cities.csv"
    assert headers["Content-Disposition"] == 'attachment; filename="planner-cities.csv"'


def test_healthz(planner: int) -> None:
    assert get(planner, "/healthz")[:1] == (200,)
