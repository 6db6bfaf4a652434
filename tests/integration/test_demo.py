"""`frontdesk demo`: every URL it prints answers, the protected parts hold, the cache
pays, an instance can be killed mid-run, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from proc_helpers import free_port

from demo_process import DemoProcess, alive, descendants, start_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    root = tmp_path_factory.mktemp("demo")
    log = tmp_path_factory.mktemp("demo-log") / "demo.log"
    running = start_demo(free_port(), root, log)
    try:
        yield running
    finally:
        assert running.stop() == 0, log.read_text()


def route(a: str, b: str) -> str:
    return f"/api/route?from={quote(a)}&to={quote(b)}"


def test_the_banner_prints_what_to_open(demo: DemoProcess) -> None:
    for fragment in ("/downloads/", "/shared/", "/api/route", "/api/data/", "/frontdesk/ui?token="):
        demo.url(fragment)
    assert demo.user == "demo" and len(demo.password) >= 12
    assert set(demo.pids) == {"planner.1", "planner.2"}
    assert f"kill {demo.pids['planner.1']}" in demo.banner
    assert (demo.root / "frontdesk.toml").is_file()


def test_every_printed_url_answers(demo: DemoProcess) -> None:
    assert len(demo.urls) == 7
    for url in demo.urls:
        headers = demo.auth() if "/downloads/" in url else {}
        status, _, body = demo.get(url, **headers)
        assert status == 200, (url, status, body[:200])
        assert body, url


def test_the_site_is_served_with_validators_and_compression(demo: DemoProcess) -> None:
    status, headers, body = demo.get("/", **{"Accept-Encoding": "br, gzip"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["ETag"] and headers["Content-Encoding"] in ("br", "gzip")
    assert headers["Cache-Control"] == "no-cache"
    assert (
        demo.get("/", **{"Accept-Encoding": "br, gzip", "If-None-Match": headers["ETag"]})[0] == 304
    )
    for path in ("/style.css", "/planner.js", "/img/logo.svg", "/img/favicon.png"):
        assert demo.get(path)[0] == 200, path
    assert "max-age=86400" in demo.get("/img/states.svg")[1]["Cache-Control"]


def test_the_repeated_route_comes_from_the_cache_in_under_5_percent_of_the_time(
    demo: DemoProcess,
) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=60)
    timings = []
    statuses = []
    for _ in range(2):
        started = time.perf_counter()
        conn.request("GET", route("Tampa, FL", "Portland, OR"))
        answer = conn.getresponse()
        body = answer.read()
        timings.append(time.perf_counter() - started)
        statuses.append(answer.headers["Cache-Status"])
        assert answer.status == 200 and json.loads(body)["route"]["km"] > 4000
    conn.close()
    first, second = timings
    print(
        f"\nroute Tampa, FL -> Portland, OR: first {first * 1000:.1f} ms ({statuses[0]}), "
        f"repeated {second * 1000:.2f} ms ({statuses[1]}): {100 * second / first:.2f}%"
    )
    assert "fwd=uri-miss" in statuses[0] and "stored" in statuses[0]
    assert "hit" in statuses[1].split("; ")
    assert second < 0.05 * first


def test_downloads_refuse_without_the_password_and_accept_the_printed_one(
    demo: DemoProcess,
) -> None:
    status, headers, body = demo.get("/downloads/road-network.geojson")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic ")
    assert b"FeatureCollection" not in body
    wrong = demo.auth()["Authorization"][:-4] + "AAA="
    assert demo.get("/downloads/road-network.geojson", Authorization=wrong)[0] == 401
    status, _, body = demo.get("/downloads/road-network.geojson", **demo.auth())
    assert status == 200 and json.loads(body)["type"] == "FeatureCollection"
    status, _, listing = demo.get("/downloads/", **demo.auth())
    assert status == 200 and b"road-network.geojson" in listing


def test_the_signed_link_works_and_a_changed_one_does_not(demo: DemoProcess) -> None:
    link = demo.url("/shared/")
    status, _, body = demo.get(link)
    assert status == 200 and body.startswith(b"<svg")
    path, query = link.split("?", 1)
    tampered = path.replace("us-road-map", "us-road-mbp") + "?" + query
    assert demo.get(tampered)[0] == 403
    assert demo.get(path)[0] == 403  # no signature at all


def test_the_app_authorises_the_data_download_and_frontdesk_sends_it(demo: DemoProcess) -> None:
    status, headers, body = demo.get(demo.url("/api/data/"))
    assert status == 200
    assert headers["Content-Disposition"] == 'attachment; filename="planner-cities.csv"'
    assert "X-Accel-Redirect" not in headers
    assert body == (demo.root / "planner" / "data" / "cities.csv").read_bytes()
    assert demo.get("/api/data/cities.csv")[0] == 403  # the app says no
    assert demo.get("/_planner-data/cities.csv")[0] == 404  # internal: never directly


def test_the_status_page_shows_the_instances_and_the_cache_hit_ratio_going_up(
    demo: DemoProcess,
) -> None:
    page = demo.url("/frontdesk/ui?token=")
    token = page.split("token=", 1)[1]
    status, headers, body = demo.get(page)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert demo.get("/frontdesk/status")[0] == 401  # the admin API wants its token
    assert demo.get(f"/frontdesk/status?token={token}")[0] == 200

    def ratio() -> float:
        _, _, body = demo.get(f"/frontdesk/status?token={token}")
        now = json.loads(body)
        apps = [a for a in now["apps"] if a["app"] == "planner" and a["state"] == "ready"]
        assert len(apps) == 2
        (cache,) = [c for c in now["caches"] if c["cache"] == "routes"]
        return float(cache["hit_ratio"] or 0.0)

    before = ratio()
    for _ in range(5):
        assert demo.get(route("Tampa, FL", "Portland, OR"))[0] == 200
    assert ratio() > before
    # Only GET and HEAD reach the admin API through the demo's port.
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=10)
    conn.request("POST", f"/frontdesk/reload?token={token}", body=b"{}")
    assert conn.getresponse().status in (404, 405)
    conn.close()


def test_killing_a_planner_instance_during_queries_fails_none(demo: DemoProcess) -> None:
    """The banner says `kill PID`: SIGTERM; then SIGKILL of the replacement too."""
    import http.client

    status, _, body = demo.get("/api/map")
    names = [c[0] for c in json.loads(body)["cities"]]
    failures: list[object] = []
    answered: list[str] = []

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=60)
        for i in range(10):  # different pairs: misses that the planner must compute
            a, b = names[(k * 37 + i * 11) % 300], names[(k * 53 + i * 7 + 150) % 300]
            try:
                conn.request("GET", route(a, b))
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    failures.append((a, b, answer.status))
                answered.append(answer.headers.get("X-Planner-Instance", "cache"))
            except OSError as exc:
                failures.append((a, b, exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=60)
        conn.close()

    for sig in (signal.SIGTERM, signal.SIGKILL):
        victim = current_pid(demo, "planner.1")
        threads = [threading.Thread(target=client, args=(k + 10 * sig,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        os.kill(victim, sig)
        for t in threads:
            t.join(120)
        assert failures == [], failures
        # A SIGTERMed planner finishes its requests and exits once its idle keep-alive
        # connections (frontdesk's pool) time out: up to Handler.timeout (5 s) later.
        stop_by = time.monotonic() + 15
        while alive(victim) and time.monotonic() < stop_by:
            time.sleep(0.1)
        assert not alive(victim)
        # The supervisor starts a new planner.1, and it joins the pool again.
        deadline = time.monotonic() + 30
        while current_pid(demo, "planner.1") in (victim, 0):
            assert time.monotonic() < deadline, "planner.1 was not replaced"
            time.sleep(0.2)
    assert len(answered) == 80 and {"planner.1", "planner.2"} <= set(answered)


def current_pid(demo: DemoProcess, instance: str) -> int:
    """The pid of a ready ``instance`` from `frontdesk status --json`, 0 if none."""
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "frontdesk",
            "status",
            "--json",
            "-c",
            str(demo.root / "frontdesk.toml"),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    for row in json.loads(out).get("apps", []):
        if row["instance"] == instance and row["state"] == "ready":
            return int(row["pid"])
    return 0


def test_ctrl_c_stops_everything_and_removes_the_temporary_directory(tmp_path: Path) -> None:
    running = start_demo(free_port(), None, tmp_path / "demo.log")
    processes = descendants(running.proc.pid)
    # frontdesk's master, its 2 workers and the 2 planner instances, at least.
    assert len(processes) >= 5, processes
    assert running.root.is_dir() and running.root != tmp_path
    started = time.monotonic()
    assert running.stop() == 0
    print(
        f"\nCtrl-C: the demo and its {len(processes)} processes stopped in "
        f"{time.monotonic() - started:.1f} s"
    )
    deadline = time.monotonic() + 5
    while left := [p for p in processes if alive(p)]:
        assert time.monotonic() < deadline, f"processes left after Ctrl-C: {left}"
        time.sleep(0.1)
    assert not running.root.exists()


def test_a_port_in_use_is_said_plainly(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "frontdesk",
                "demo",
                "--port",
                str(port),
                "--dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} is in use" in result.stderr and "Traceback" not in result.stderr
