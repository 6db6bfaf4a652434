"""`frontdesk explain 'GET https://example.com/path' [-H 'Name: value']`: what the
server would do with a request, without sending any traffic.

It goes through the same code the workers use: the request-target is parsed and
normalised by http/target.py, each route is tried with the matcher `build_context`
compiles (pipeline/assemble.py `build_matcher`), in order, first match wins; for an
earlier route that did not match, each of its conditions is tried alone to say which
failed. A proxied route's upstream target comes from the route's own ProxyAction,
and a cached route's key from cache/keys.py with the cache's key options.

Layers that sit between the route and its action (access rules, rate limits) report
themselves: a module registers a function with `register_layer`, called with the
config, the matched route and the request, returning lines to print (or None when it
has nothing to say about this route).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from frontdesk.config.model import Config, Route
from frontdesk.http.routing import Matcher
from frontdesk.http.target import parse_host, parse_target
from frontdesk.pipeline.assemble import build_matcher, route_label


class ExplainError(ValueError):
    """The request given to `explain` cannot be parsed (the message says why)."""


@dataclass(frozen=True)
class ExplainRequest:
    method: str
    host: str  # as routing sees it: lower case, no port
    port: int | None  # from the URL, when it names one
    path: str  # normalised (percent-decoded once, dot-segments removed)
    query: str
    target: str  # as it would be sent: path and query, raw
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        want = name.lower()
        return next((v for k, v in self.headers if k.lower() == want), None)


Layer = Callable[[Config, Route, ExplainRequest], "list[str] | None"]
LAYERS: dict[str, Layer] = {}


def register_layer(name: str, layer: Layer) -> None:
    """Let a layer between route and action (access, rate limits) explain itself."""
    LAYERS[name] = layer


@dataclass
class Explanation:
    request: dict[str, Any]
    tried: list[dict[str, Any]] = field(default_factory=list)
    route: str | None = None
    index: int | None = None
    action: str = "none: 404 Not Found"
    layers: dict[str, list[str]] = field(default_factory=dict)
    cache: dict[str, Any] | None = None
    proxy: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_request(line: str, headers: list[str]) -> ExplainRequest:
    """'GET https://example.com/path?q' and ['Name: value', ...] → the request."""
    parts = line.split()
    if len(parts) == 1:
        parts = ["GET", parts[0]]
    if len(parts) != 2:
        raise ExplainError(f"expected 'METHOD URL', e.g. 'GET https://example.com/', got {line!r}")
    method, url = parts
    if not method.isalpha():
        raise ExplainError(f"not a method: {method!r}")
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise ExplainError(f"expected an absolute http:// or https:// URL, got {url!r}")
    fields: list[tuple[str, str]] = []
    for h in headers:
        name, colon, value = h.partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise ExplainError(f"expected -H 'Name: value', got {h!r}")
        fields.append((name, value.strip()))
    authority = next((v for k, v in fields if k.lower() == "host"), split.netloc)
    host = parse_host(authority.encode("latin-1"))
    if not host:
        raise ExplainError(f"not a valid host: {authority!r}")
    raw = (split.path or "/") + (f"?{split.query}" if split.query else "")
    target = parse_target(raw.encode("ascii", "replace"), method.encode("ascii"))
    if target is None:
        raise ExplainError(f"the server would answer 400 to the target {raw!r}")
    if not any(k.lower() == "host" for k, _ in fields):
        fields.insert(0, ("Host", split.netloc))
    return ExplainRequest(method, host, split.port, target.path, target.query, raw, tuple(fields))


def _conditions(route: Route) -> list[tuple[str, Matcher]]:
    """Each condition of a route's match alone, with a phrase saying what it wants."""
    m = route.match
    out: list[tuple[str, Matcher]] = []
    hosts = (m.host,) if isinstance(m.host, str) else tuple(m.host)
    if hosts:
        out.append((f"host is {' or '.join(hosts)}", Matcher.build(hosts=hosts)))
    methods = (m.method,) if isinstance(m.method, str) else tuple(m.method)
    if methods:
        out.append((f"method is {' or '.join(methods)}", Matcher.build(methods=methods)))
    if m.path is not None:
        out.append((f"path starts with {m.path}", Matcher.build(prefix=m.path)))
    if m.exact is not None:
        out.append((f"path is exactly {m.exact}", Matcher.build(exact=m.exact)))
    if m.regex is not None:
        out.append((f"path matches /{m.regex}/", Matcher.build(regex=m.regex)))
    for name, value in (m.header or {}).items():
        want = "is present" if value == "*" else f"= {value!r}"
        out.append((f"header {name} {want}", Matcher.build(headers=[(name, value)])))
    return out


def explain(config: Config, req: ExplainRequest) -> Explanation:
    head = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in req.headers]
    method = req.method.encode("ascii")
    out = Explanation(request={**asdict(req), "headers": [list(h) for h in req.headers]})
    for i, route in enumerate(config.routes):
        label = route_label(route, i)
        conditions = _conditions(route)
        if build_matcher(route).matches(method, req.host, req.path, head):
            held = [text for text, _ in conditions] or ["it has no conditions: every request"]
            out.tried.append({"route": label, "matched": True, "reasons": held})
            out.route, out.index = label, i
            _describe(config, route, req, out)
            return out
        failed = [
            f"not: {text}"
            for text, alone in conditions
            if not alone.matches(method, req.host, req.path, head)
        ]
        out.tried.append({"route": label, "matched": False, "reasons": failed})
    return out


def _describe(config: Config, route: Route, req: ExplainRequest, out: Explanation) -> None:
    if route.respond is not None:
        out.action = f"respond: {route.respond.status} from memory"
    elif route.redirect is not None:
        out.action = f"redirect: {route.redirect.status} to {route.redirect.to}"
    elif route.static is not None:
        prefix = route.match.path or ""
        rest = req.path[len(prefix) :] if prefix and req.path.startswith(prefix) else req.path
        out.action = f"static: {rest.lstrip('/') or '(index)'} under {route.static.root}"
    for name, layer in LAYERS.items():
        lines = layer(config, route, req)
        if lines:
            out.layers[name] = lines
    if route.proxy is not None:
        out.action = f"proxy to pool {route.proxy.pool}"
        out.proxy = _proxy(config, route, req)
        if route.cache is not None:
            out.cache = _cache(config, route, req, out.proxy["upstream_target"])
            # The parameters the key ignores are taken off the forwarded request too.
            out.proxy["upstream_target"] = out.cache.pop("forwarded")


def _proxy(config: Config, route: Route, req: ExplainRequest) -> dict[str, Any]:
    from frontdesk.pipeline.assemble import Parts, build_action, build_pools
    from frontdesk.proxy.rewrite import upstream_target
    from frontdesk.server.clock import Clock

    assert route.proxy is not None
    pool = config.pools[route.proxy.pool]
    clock = Clock()
    # The route's own ProxyAction: its rewrite, as a worker has it.
    action: Any = build_action(route, Parts(config, clock, build_pools(config, clock)))
    target = upstream_target(
        req.target.encode("latin-1"), req.path, req.query, action.rewrite
    ).decode("latin-1")
    servers = [f"{s.address} (weight {s.weight})" for s in pool.servers]
    policy: str = "single server" if len(pool.servers) == 1 else pool.balance
    if pool.balance == "hash" and pool.hash:
        policy += f" on {pool.hash}"
    if pool.sticky is not None:
        policy += f", sticky cookie {pool.sticky.cookie}"
    health = (
        f"active checks of {pool.health.path} every {pool.health.interval:g}s"
        if pool.health.path
        else "no active checks"
    )
    return {
        "pool": route.proxy.pool,
        "policy": policy,
        "servers": servers,
        "upstream_target": target,
        "retries": pool.retries,
        "health": health,
    }


def _cache(config: Config, route: Route, req: ExplainRequest, upstream: str) -> dict[str, Any]:
    from frontdesk.cache.keys import make_key, strip_query
    from frontdesk.cache.options import KeyOptions

    assert route.cache is not None
    cfg = config.caches[route.cache]
    options = KeyOptions(sort_query=cfg.key.sort_query, ignore_params=cfg.key.ignore_params)
    path, _, query = upstream.partition("?")
    forwarded = upstream
    if options.ignore_params and query:
        query = strip_query(query, options)
        forwarded = f"{path}?{query}" if query else path
    key = make_key("http", req.host, req.port, path, query, options)
    return {
        "cache": route.cache,
        "key": key,
        "would": _cache_would(cfg, req),
        "forwarded": forwarded,
    }


def _cache_would(cfg: Any, req: ExplainRequest) -> str:
    """What the cache does with this request and a stored response (docs/cache.md)."""
    if req.method == "PURGE":
        return "PURGE: removes the stored response, if the client is in purge_from"
    if req.method not in ("GET", "HEAD"):
        return (
            f"{req.method} is not answered from the cache; a 2xx/3xx answer invalidates "
            "the stored response of this URL"
        )
    for name in cfg.bypass_headers:
        if req.header(name) is not None:
            return f"bypassed: the request carries {name} (bypass_headers)"
    cc = (req.header("cache-control") or "").lower()
    if "no-store" in cc:
        return "forwarded; the response is not stored (request no-store)"
    if cfg.honor_client_no_cache and (
        "no-cache" in cc or "max-age=0" in cc or (req.header("pragma") or "") == "no-cache"
    ):
        return "a stored response is revalidated with the origin first (request no-cache)"
    return (
        "a fresh stored response is served (hit, with Age); a stale one is revalidated "
        "with its ETag / Last-Modified, or served at once within stale-while-revalidate; "
        "a miss goes to the origin and is stored when its Cache-Control allows it"
    )


def render_text(e: Explanation) -> str:
    r = e.request
    query = f"?{r['query']}" if r["query"] else ""
    lines = [f"{r['method']} {r['host']}{r['path']}{query}"]
    for t in e.tried:
        mark = "MATCH" if t["matched"] else "no   "
        lines.append(f"  {mark} {t['route']}: {'; '.join(t['reasons'])}")
    if e.route is None:
        lines.append("no route matches: 404 Not Found")
        return "\n".join(lines)
    lines.append(f"route: {e.route}")
    lines.append(f"action: {e.action}")
    if e.layers:
        for name, said in e.layers.items():
            lines += [f"{name}: {said[0]}", *(f"  {s}" for s in said[1:])]
    else:
        lines.append("access rules / rate limits: none reported for this route")
    if e.cache is not None:
        lines.append(f"cache {e.cache['cache']}: key {e.cache['key']}")
        lines.append(f"  {e.cache['would']}")
    if e.proxy is not None:
        p = e.proxy
        lines.append(f"pool {p['pool']}: {p['policy']}; {p['health']}; retries {p['retries']}")
        lines.append(f"  servers: {', '.join(p['servers'])}")
        lines.append(f"  forwarded as: {r['method']} {p['upstream_target']}")
    return "\n".join(lines)


# The layers that report themselves (after register_layer exists: they import it).
import frontdesk.access.explain  # noqa: E402, F401
