"""What `frontdesk explain` says of a route's access rule and rate limit.

Registered with admin/explain.py's `register_layer` when that module is imported. It
reads the config as the guards are built from it (access/build.py), and says what a
request without the right credentials gets, and what this request carries.
"""

from __future__ import annotations

from frontdesk.admin.explain import ExplainRequest, register_layer
from frontdesk.config.model import Config, Route


def access_lines(config: Config, route: Route, req: ExplainRequest) -> list[str] | None:
    """The route's access rule, one line per check, in the order the guard runs them."""
    name = route.access_name
    if name is None:
        return None
    rule = config.access_rule(name)
    lines = [f"rule {name!r}"]
    if rule.allow or rule.deny:
        allow = ", ".join(map(str, rule.allow)) or "any"
        deny = ", ".join(map(str, rule.deny)) or "none"
        lines.append(
            f"client address: allow {allow}; deny {deny} (X-Forwarded-For / Forwarded "
            "only from trusted_proxies); refused: 403"
        )
    if rule.htpasswd is not None:
        given = "carries" if req.header("Authorization") else "has no"
        lines.append(
            f'Basic auth (realm "{rule.realm}") against {rule.htpasswd}; without valid '
            f"credentials: 401 with WWW-Authenticate (this request {given} Authorization)"
        )
    if rule.signed is not None:
        bound = ", bound to the client address" if rule.signed.client_address else ""
        lines.append(
            f"signed URL (HMAC-SHA256 over path and expiry{bound}, "
            f"{len(rule.signed.keys)} key(s)); tampered or missing: 403, expired: 410"
        )
    if rule.forward is not None:
        f = rule.forward
        sent = ", ".join(f.request_headers) or "no headers"
        copied = f"; copies {', '.join(f.copy_headers)} onto the request" if f.copy_headers else ""
        lines.append(
            f"forward auth: asks {f.url} (with {sent}); 2xx lets it through{copied}; "
            "401/403 go back to the client"
        )
    return lines


def rate_limit_lines(config: Config, route: Route, req: ExplainRequest) -> list[str] | None:
    limit = route.rate_limit
    if limit is None:
        return None
    burst = limit.burst if limit.burst is not None else "default"
    shared = " (shared through Redis)" if limit.redis else " (over all workers)"
    return [
        f"{limit.rate:g} requests/s per {limit.key}, burst {burst}{shared}; over it: 429 "
        "with Retry-After and RateLimit / RateLimit-Policy"
    ]


register_layer("access", access_lines)
register_layer("rate limit", rate_limit_lines)
