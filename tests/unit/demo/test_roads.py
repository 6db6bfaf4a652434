"""The route planner's pure core: the bundled tables, shortest routes, alternatives."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.demo.planner.roads import (
    DATA,
    MAP_HEIGHT,
    MAP_WIDTH,
    City,
    RoadMap,
    longer_than,
    project,
)

ROADS = RoadMap.load()


def test_the_tables_say_where_they_come_from_and_that_the_roads_are_generated() -> None:
    for name in ("cities.csv", "roads.csv"):
        header = "".join(
            line for line in (DATA / name).read_text().splitlines(True) if line.startswith("#")
        )
        assert "GeoNames" in header and "CC BY 4.0" in header
        assert "NOT real road data" in header
        assert "great-circle distance times 1.2" in header


def test_a_few_hundred_real_cities_in_one_connected_map() -> None:
    assert 200 <= len(ROADS.cities) <= 500
    assert len({c.label for c in ROADS.cities}) == len(ROADS.cities)
    denver = ROADS.find("  denver,   co ")
    assert denver is not None and abs(denver.lat - 39.74) < 0.01 and abs(denver.lon + 104.98) < 0.01
    reach = ROADS.distances_from(0)
    assert all(math.isfinite(km) for km in reach)


def test_every_city_is_on_the_map_picture() -> None:
    for city in ROADS.cities:
        x, y = project(city.lat, city.lon)
        assert 0 < x < MAP_WIDTH and 0 < y < MAP_HEIGHT, city.label
    # North is up and west is left.
    seattle, miami = ROADS.find("Seattle, WA"), ROADS.find("Miami, FL")
    assert seattle is not None and miami is not None
    (sx, sy), (mx, my) = project(seattle.lat, seattle.lon), project(miami.lat, miami.lon)
    assert sx < mx and sy < my


def test_the_route_follows_roads_and_is_as_short_as_the_distance_table_says() -> None:
    a, b = ROADS.find("New York City, NY"), ROADS.find("Los Angeles, CA")
    assert a is not None and b is not None
    route = ROADS.shortest(a.id, b.id)
    assert route is not None
    assert route.cities[0] == a.id and route.cities[-1] == b.id
    for here, there in zip(route.cities, route.cities[1:], strict=False):
        assert there in ROADS.links[here]
    assert route.km == round(ROADS.distances_from(a.id)[b.id], 1)
    # Roads are 1.2 x the great circle, so no route beats 1.2 x the straight line.
    assert route.km >= 1.2 * 3935 - 1


def test_alternatives_are_longer_and_share_little_with_the_best() -> None:
    a, b = ROADS.find("Seattle, WA"), ROADS.find("Miami, FL")
    assert a is not None and b is not None
    best = ROADS.shortest(a.id, b.id)
    assert best is not None
    others = ROADS.alternatives(best, 2)
    assert 1 <= len(others) <= 2
    for other in others:
        assert other.km >= best.km
        assert other.cities[0] == a.id and other.cities[-1] == b.id
        assert len(set(other.cities)) == len(other.cities)  # no loops
        assert ROADS.shared(other, best) <= 0.6


def test_all_pairs_has_every_pair_once_and_ranks_a_trip() -> None:
    pairs = ROADS.all_pairs()
    n = len(ROADS.cities)
    assert len(pairs) == n * (n - 1) // 2
    assert pairs == sorted(pairs)
    assert longer_than(0.0, pairs) == 0.0
    assert longer_than(pairs[-1] + 1, pairs) == 100.0


@st.composite
def graphs(draw: st.DrawFn) -> RoadMap:
    n = draw(st.integers(2, 9))
    cities = [City(i, f"c{i}", "XX", 40.0, -100.0 + i, 1) for i in range(n)]
    edges = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(1, 50)),
            max_size=20,
        )
    )
    roads: dict[tuple[int, int], float] = {}
    for a, b, km in edges:
        if a != b:
            roads[(min(a, b), max(a, b))] = float(km)
    return RoadMap(cities, [(a, b, km) for (a, b), km in roads.items()])


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_dijkstra_agrees_with_floyd_warshall(roads: RoadMap) -> None:
    n = len(roads.cities)
    dist = [[0.0 if i == j else math.inf for j in range(n)] for i in range(n)]
    for a, b, km in roads.roads:
        dist[a][b] = dist[b][a] = km
    for k in range(n):
        for i in range(n):
            for j in range(n):
                dist[i][j] = min(dist[i][j], dist[i][k] + dist[k][j])
    for i in range(n):
        assert roads.distances_from(i) == dist[i]
        for j in range(n):
            route = roads.shortest(i, j)
            if math.isinf(dist[i][j]):
                assert route is None
            else:
                assert route is not None and route.km == round(dist[i][j], 1)
