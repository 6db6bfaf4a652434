"""The route planner's HTTP side: the standard library's http.server with ThreadingMixIn.

    GET /api/route?from=Denver, CO&to=Chicago, IL   the route, alternatives, figures (JSON)
    GET /api/map                                     every city (x, y on the map) and road
    GET /api/data/cities.csv?licence=cc-by-4.0       the city table, sent by frontdesk
    GET /healthz                                     "ok" once the map is loaded

Answers are JSON with ``Cache-Control: public, max-age=60`` and a strong ETag (a hash
of the body, the same from every instance, so a cache may revalidate with either).
The time the work took goes in ``Server-Timing``, and the instance in
``X-Planner-Instance``, not in the body, so that the body stays the same.

The data download is authorised by the app and sent by frontdesk (nginx's
X-Accel-Redirect): the app only checks that the licence was acknowledged and answers
with an empty body naming the file under frontdesk's ``internal`` route.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .roads import (
    MAP_HEIGHT,
    MAP_WIDTH,
    City,
    RoadMap,
    Route,
    great_circle_km,
    longer_than,
    project,
)

CACHE_CONTROL = "public, max-age=60"
INTERNAL_DATA = "/_planner-data/cities.csv"  # frontdesk's internal route for the data files
LICENCE = "cc-by-4.0"


class PlannerServer(ThreadingMixIn, HTTPServer):
    """One thread per connection. On SIGTERM it stops accepting, finishes the requests
    it is working on (with ``Connection: close``) and exits once its connections are
    closed or idle for ``Handler.timeout``: a stop fails no request."""

    daemon_threads = False
    block_on_close = True  # server_close() waits for the connections' threads
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], roads: RoadMap, instance: str) -> None:
        super().__init__(address, Handler)
        self.roads = roads
        self.instance = instance
        self.map_json = _encode(_map_payload(roads))
        self.stopping = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive with frontdesk's upstream pool
    server: PlannerServer
    server_version = "planner/1"
    timeout = 5  # an idle keep-alive connection is closed after this (seconds)

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection and not self.server.stopping.is_set():
            self.handle_one_request()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8", cache=False)
        elif url.path == "/api/map":
            self._send_json(self.server.map_json)
        elif url.path == "/api/route":
            self._route(query)
        elif url.path == "/api/data/cities.csv":
            self._download(query)
        else:
            self._error(404, f"no such endpoint: {url.path}")

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _route(self, query: dict[str, str]) -> None:
        roads = self.server.roads
        names = query.get("from", ""), query.get("to", "")
        places = [roads.find(name) for name in names]
        for name, place in zip(names, places, strict=True):
            if place is None:
                self._error(400, f"unknown city {name!r}: use a name from /api/map")
                return
        source, target = (p for p in places if p is not None)
        started = time.perf_counter()
        best = roads.shortest(source.id, target.id)
        if best is None:
            self._error(404, f"no road from {source.label} to {target.label}")
            return
        others = sorted(roads.alternatives(best, 2), key=lambda r: r.km)
        pairs = roads.all_pairs()  # deliberately recomputed per query: see roads.py
        took = (time.perf_counter() - started) * 1000
        payload = {
            "from": _city(source),
            "to": _city(target),
            "route": _route(roads, best),
            "alternatives": [_route(roads, r) for r in others],
            "straight_km": round(great_circle_km(source, target), 1),
            "longer_than_percent": round(longer_than(best.km, pairs), 1),
            "pairs": len(pairs),
        }
        # One write per line: print() writes the newline separately, and threads interleave.
        sys.stderr.write(f"route {source.label} -> {target.label}: {best.km} km, {took:.0f} ms\n")
        sys.stderr.flush()
        self._send_json(_encode(payload), timing=took)

    def _download(self, query: dict[str, str]) -> None:
        if query.get("licence") != LICENCE:
            self._error(
                403, f"acknowledge the data's licence first: add ?licence={LICENCE} to the URL"
            )
            return
        self.send_response(200)
        self.send_header("X-Accel-Redirect", INTERNAL_DATA)
        self.send_header("Content-Disposition", 'attachment; filename="planner-cities.csv"')
        self.send_header("Cache-Control", "private, no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_json(self, body: bytes, timing: float | None = None) -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if etag in _etags(self.headers.get("If-None-Match", "")):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Cache-Control", CACHE_CONTROL)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        extra = {"ETag": etag}
        if timing is not None:
            extra["Server-Timing"] = f"plan;dur={timing:.1f}"
        self._send(200, body, "application/json", extra=extra)

    def _error(self, status: int, message: str) -> None:
        self._send(status, _encode({"error": message}), "application/json", cache=False)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        cache: bool = True,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", CACHE_CONTROL if cache else "no-store")
        self.send_header("X-Planner-Instance", self.server.instance)
        if self.server.stopping.is_set():
            self.send_header("Connection", "close")  # and http.server closes it after
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: frontdesk logs the requests; the planner says only what it computed."""


def _etags(field: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in field.split(",") if tag.strip()}


def _encode(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _city(city: City) -> dict[str, Any]:
    return {"id": city.id, "name": city.label, "lat": city.lat, "lon": city.lon}


def _route(roads: RoadMap, route: Route) -> dict[str, Any]:
    legs = zip(route.cities, route.cities[1:], strict=False)
    return {
        "km": route.km,
        "cities": list(route.cities),
        "legs_km": [roads.links[a][b] for a, b in legs],
    }


def _map_payload(roads: RoadMap) -> dict[str, Any]:
    return {
        "width": MAP_WIDTH,
        "height": MAP_HEIGHT,
        "cities": [[c.label, *project(c.lat, c.lon), c.population] for c in roads.cities],
        "roads": [[a, b] for a, b, _ in roads.roads],
        "source": "Cities: GeoNames (CC BY 4.0). Roads: generated, not real road data.",
    }


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    instance = os.environ.get("FRONTDESK_INSTANCE", "planner")
    server = PlannerServer(("127.0.0.1", port), RoadMap.load(), instance)

    def stop(signum: int, frame: object) -> None:
        server.stopping.set()
        # shutdown() waits for serve_forever to return: call it off the main thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"planning routes on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()  # the listening socket first, then the connections' threads
    print("stopped", file=sys.stderr, flush=True)
