"""The demo's directory: the site, the planner, the protected files, users and config.

Everything is copied from the package (``site/``, ``planner/``, ``frontdesk.toml``) or
made here from the planner's data (the downloads), so the directory can be read,
changed and run again with ``frontdesk serve -c DIR/frontdesk.toml``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from .planner.roads import MAP_HEIGHT, MAP_WIDTH, RoadMap, project

HERE = Path(__file__).parent
USER = "demo"
SIGNED_FILE = "/shared/us-road-map.svg"
SIGNED_FOR = 3600  # seconds the printed signed link stays valid
STATUS_PAGE = "/frontdesk/ui"  # the admin API's /ui, through the route /frontdesk/


@dataclass(frozen=True)
class DemoFiles:
    root: Path
    config: Path
    port: int
    user: str
    password: str
    signed_path: str  # path and query of the signed link
    status_path: str  # the status page (the admin API's, through the demo's port)


def write(root: Path, port: int) -> DemoFiles:
    """Write the demo into ``root`` (made if missing; files already there are replaced)."""
    from frontdesk import sign_url
    from frontdesk.access.htpasswd import hash_password

    root.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("site", "planner"):
        shutil.rmtree(root / part, ignore_errors=True)
        shutil.copytree(HERE / part, root / part, ignore=ignore)
    roads = RoadMap.load(root / "planner" / "data")
    (root / "downloads").mkdir(exist_ok=True)
    (root / "shared").mkdir(exist_ok=True)
    (root / "downloads" / "README.txt").write_text(DOWNLOADS_README)
    (root / "downloads" / "road-network.geojson").write_text(geojson(roads))
    (root / "shared" / "us-road-map.svg").write_text(road_map_svg(roads))
    password = secrets.token_urlsafe(12)
    entry = f"{USER}:{hash_password(password.encode(), rounds=10)}\n"
    (root / "users.htpasswd").write_text(entry)
    key = secrets.token_urlsafe(32)
    token = secrets.token_urlsafe(24)
    text = string.Template((HERE / "frontdesk.toml").read_text()).substitute(
        port=port,
        python=json.dumps(sys.executable),
        key=json.dumps(key),
        admin_port=free_port(),
        admin_token=token,
    )
    config = root / "frontdesk.toml"
    config.write_text(text)
    signed = sign_url(SIGNED_FILE, key, expires_in=SIGNED_FOR)
    # The page reads the admin API with the token in its URL (GETs only).
    status = f"{STATUS_PAGE}?token={token}"
    index = root / "site" / "index.html"
    index.write_text(index.read_text().replace(f'"{STATUS_PAGE}"', f'"{status}"'))
    return DemoFiles(root, config, port, USER, password, signed, status)


def free_port() -> int:
    """A loopback port free now (for the admin API; the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def geojson(roads: RoadMap) -> str:
    """The cities and roads as GeoJSON (RFC 7946: longitude first)."""
    features: list[dict[str, object]] = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]},
            "properties": {"name": c.label, "population": c.population},
        }
        for c in roads.cities
    ]
    for a, b, km in roads.roads:
        ca, cb = roads.cities[a], roads.cities[b]
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[ca.lon, ca.lat], [cb.lon, cb.lat]],
                },
                "properties": {"from": ca.label, "to": cb.label, "km": km, "generated": True},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1) + "\n"


def road_map_svg(roads: RoadMap) -> str:
    """A poster of every road and city over the state outlines (the signed link's file)."""
    outline = (HERE / "site" / "img" / "states.svg").read_text()
    states = outline[outline.index("<g ") : outline.rindex("</g>") + 4]
    lines = []
    for a, b, _ in roads.roads:
        (x1, y1), (x2, y2) = (project(roads.cities[i].lat, roads.cities[i].lon) for i in (a, b))
        lines.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"/>')
    dots = []
    for c in roads.cities:
        x, y = project(c.lat, c.lon)
        dots.append(f'<circle cx="{x}" cy="{y}" r="2.2"><title>{c.label}</title></circle>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {MAP_WIDTH} {MAP_HEIGHT}">\n'
        '<rect width="100%" height="100%" fill="#eef4f7"/>\n'
        f"{states}\n"
        '<g stroke="#d18400" stroke-width="1">\n' + "\n".join(lines) + "\n</g>\n"
        '<g fill="#14213d">\n' + "\n".join(dots) + "\n</g>\n"
        '<text x="20" y="585" font-family="sans-serif" font-size="11" fill="#44506b">'
        "Cities: GeoNames (CC BY 4.0). Roads: generated, not real road data. "
        "States: U.S. Census Bureau.</text>\n</svg>\n"
    )


DOWNLOADS_README = """\
frontdesk demo: protected downloads
===================================

This directory is behind HTTP Basic auth ([access.members] in frontdesk.toml, the
htpasswd file users.htpasswd). frontdesk serves it with the `static` action, so
ranges, ETags and compression work here as everywhere else.

road-network.geojson   the planner's 300 cities and the roads between them.
                       The cities are real (GeoNames, CC BY 4.0); the roads are
                       generated: each city is joined to its nearest neighbours,
                       and a road's length is the great-circle distance x 1.2.
"""
