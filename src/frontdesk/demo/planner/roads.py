"""The route planner's pure core: the city and road tables, shortest routes, alternatives.

No I/O beyond reading the two CSV files once, and no clock: the HTTP shell (server.py)
times the work and answers. Routes are found with Dijkstra's algorithm; alternatives
with the penalty method (the roads of the routes found so far are made longer, and
the search runs again), keeping only those that share little with the earlier ones.

:func:`RoadMap.all_pairs` recomputes the road distance between every pair of cities
(one Dijkstra per city). The planner runs it on every query on purpose, rather than
keeping its result: on a map of 300 cities that is ~0.3 s of CPU, the kind of time a
real planner spends on a road graph of millions of junctions, and exactly the work a
cache in front of the app saves. Its result feeds the answer (how the trip ranks among
all of them), so the work is not thrown away.
"""

from __future__ import annotations

import bisect
import csv
import heapq
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data"
PENALTY = 1.5  # how much longer a road already used counts when looking for alternatives
MAX_SHARED = 0.6  # an alternative shares at most this fraction of its km with earlier ones


@dataclass(frozen=True, slots=True)
class City:
    id: int
    name: str
    state: str
    lat: float
    lon: float
    population: int

    @property
    def label(self) -> str:
        return f"{self.name}, {self.state}"


@dataclass(frozen=True, slots=True)
class Route:
    km: float
    cities: tuple[int, ...]

    def roads(self) -> set[tuple[int, int]]:
        return {_key(a, b) for a, b in zip(self.cities, self.cities[1:], strict=False)}


def _key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class RoadMap:
    """Cities and the roads between them, as an adjacency list (undirected, in km)."""

    def __init__(self, cities: list[City], roads: list[tuple[int, int, float]]) -> None:
        self.cities = cities
        self.roads = roads
        self.by_label = {c.label.casefold(): c for c in cities}
        self.links: list[dict[int, float]] = [{} for _ in cities]
        for a, b, km in roads:
            self.links[a][b] = km
            self.links[b][a] = km

    @classmethod
    def load(cls, data: Path = DATA) -> RoadMap:
        cities = [
            City(
                int(row["id"]),
                row["name"],
                row["state"],
                float(row["lat"]),
                float(row["lon"]),
                int(row["population"]),
            )
            for row in _rows(data / "cities.csv")
        ]
        roads = [(int(r["a"]), int(r["b"]), float(r["km"])) for r in _rows(data / "roads.csv")]
        return cls(cities, roads)

    def find(self, label: str) -> City | None:
        """The city called ``label`` ("Denver, CO"; case and extra spaces ignored)."""
        return self.by_label.get(" ".join(label.split()).casefold())

    def shortest(
        self, source: int, target: int, penalty: Mapping[tuple[int, int], float] | None = None
    ) -> Route | None:
        """Dijkstra from ``source`` to ``target``; a road in ``penalty`` counts that many times."""
        best = {source: 0.0}
        previous: dict[int, int] = {}
        queue = [(0.0, source)]
        while queue:
            cost, here = heapq.heappop(queue)
            if here == target:
                path = [target]
                while path[-1] != source:
                    path.append(previous[path[-1]])
                cities = tuple(reversed(path))
                return Route(round(self.length(cities), 1), cities)
            if cost > best[here]:
                continue  # an older, longer entry for a city settled since
            for there, km in self.links[here].items():
                if penalty:
                    km *= penalty.get(_key(here, there), 1.0)
                total = cost + km
                if total < best.get(there, math.inf):
                    best[there] = total
                    previous[there] = here
                    heapq.heappush(queue, (total, there))
        return None

    def alternatives(self, best: Route, count: int, tries: int = 6) -> list[Route]:
        """Up to ``count`` routes other than ``best``, each sharing little with earlier ones."""
        found = [best]
        penalty: dict[tuple[int, int], float] = {}
        source, target = best.cities[0], best.cities[-1]
        for _ in range(tries):
            if len(found) > count:
                break
            for road in found[-1].roads():
                penalty[road] = penalty.get(road, 1.0) * PENALTY
            route = self.shortest(source, target, penalty)
            if route is None:
                break
            if all(self.shared(route, earlier) <= MAX_SHARED for earlier in found):
                found.append(route)
        return found[1:]

    def shared(self, route: Route, other: Route) -> float:
        """The fraction of ``route``'s km on roads that ``other`` uses too."""
        common = route.roads() & other.roads()
        return sum(self.links[a][b] for a, b in common) / route.km if route.km else 1.0

    def distances_from(self, source: int) -> list[float]:
        """Road km from ``source`` to every city (math.inf where there is no road)."""
        best = [math.inf] * len(self.cities)
        best[source] = 0.0
        queue = [(0.0, source)]
        while queue:
            cost, here = heapq.heappop(queue)
            if cost > best[here]:
                continue
            for there, km in self.links[here].items():
                total = cost + km
                if total < best[there]:
                    best[there] = total
                    heapq.heappush(queue, (total, there))
        return best

    def all_pairs(self) -> list[float]:
        """The road km of every pair of distinct cities, sorted (one Dijkstra per city)."""
        pairs: list[float] = []
        for source in range(len(self.cities)):
            row = self.distances_from(source)
            pairs.extend(row[source + 1 :])
        pairs.sort()
        return pairs

    def length(self, path: tuple[int, ...]) -> float:
        return sum(self.links[a][b] for a, b in zip(path, path[1:], strict=False))


def longer_than(km: float, pairs: list[float]) -> float:
    """The percentage of ``pairs`` (sorted) shorter than ``km``."""
    return 100.0 * bisect.bisect_left(pairs, km) / len(pairs) if pairs else 0.0


def great_circle_km(a: City, b: City) -> float:
    """Haversine distance on a sphere of the Earth's mean radius (6371.0 km)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


# Albers equal-area conic for the contiguous United States (standard parallels 29.5°N
# and 45.5°N, centre 37.5°N 96°W), scaled to a 960 x 600 picture: the map's outline
# (make_data.py) and the cities are placed by this one function, so they line up.
_N = (math.sin(math.radians(29.5)) + math.sin(math.radians(45.5))) / 2
_C = math.cos(math.radians(29.5)) ** 2 + 2 * _N * math.sin(math.radians(29.5))
_RHO0 = math.sqrt(_C - 2 * _N * math.sin(math.radians(37.5))) / _N
MAP_WIDTH, MAP_HEIGHT = 960, 600
_SCALE, _X0, _Y0 = 1230.0, 489.7, 321.5  # fits the 48 states' outline with a margin


def project(lat: float, lon: float) -> tuple[float, float]:
    """(x, y) on the demo's 960 x 600 map; y grows downwards, as in SVG."""
    rho = math.sqrt(_C - 2 * _N * math.sin(math.radians(lat))) / _N
    theta = _N * math.radians(lon + 96.0)
    x = rho * math.sin(theta)
    y = _RHO0 - rho * math.cos(theta)
    return round(_X0 + _SCALE * x, 1), round(_Y0 - _SCALE * y, 1)


def _rows(path: Path) -> list[dict[str, str]]:
    """The CSV's rows; lines starting with "#" (the source and licence notes) skipped."""
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("".join(lines))))
