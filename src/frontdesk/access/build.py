"""A route's checks, built from its `access` rule and `rate_limit` (pipeline/assemble.py).

Rules are built once per worker and shared by the routes naming them, so the verified
credentials of an htpasswd rule hold for every route it protects. The rate limit is
always the last check: it counts only requests the rules let through, and it runs
once per request (checks before a waiting one are run again when it resolves, so
they must not count anything).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from frontdesk.access.client import networks
from frontdesk.pipeline.layer import Check

if TYPE_CHECKING:
    from frontdesk.config.access import Access, RateLimit
    from frontdesk.config.model import Route
    from frontdesk.pipeline.assemble import Parts

__all__ = ["route_checks"]


def route_checks(route: Route, parts: Parts) -> tuple[Check, ...]:
    checks: list[Check] = []
    name = route.access_name
    if name is not None:
        built = parts.access.get(name)
        if built is None:
            built = parts.access[name] = rule_checks(parts.config.access_rule(name), parts)
        checks += built
    if route.rate_limit is not None:
        index = parts.config.routes.index(route)
        checks.append(_rate_limit(route.rate_limit, index, parts))
    return tuple(checks)


def rule_checks(rule: Access, parts: Parts) -> tuple[Check, ...]:
    server = parts.config.server.server_header
    trusted = networks(parts.config.server.trusted_proxies)
    checks: list[Check] = []
    if rule.allow or rule.deny:
        from frontdesk.access.rules import AddressCheck

        checks.append(AddressCheck(rule.allow, rule.deny, trusted, server))
    if rule.signed is not None:
        from frontdesk.access.rules import SignedCheck

        checks.append(SignedCheck(rule.signed, trusted, server))
    if rule.htpasswd is not None:
        from frontdesk.access.basic import BasicAuth

        checks.append(BasicAuth(rule.htpasswd, rule.realm, server))
    if rule.forward is not None:
        from frontdesk.access.forward import ForwardAuthCheck

        checks.append(ForwardAuthCheck(rule.forward, trusted, server))
    return tuple(checks)


def _rate_limit(cfg: RateLimit, index: int, parts: Parts) -> Check:
    from frontdesk.access.ratelimit import RateLimitCheck

    config = parts.config
    server = config.server.server_header
    trusted = networks(config.server.trusted_proxies)
    settings = f"{index}:{cfg.rate}:{cfg.capacity}:{cfg.key}:{cfg.max_keys}"
    if cfg.redis is not None:
        from frontdesk.access.redis_buckets import RedisBuckets

        namespace = f"frontdesk:rl:{index}:{cfg.rate}:{cfg.capacity}:"
        remote = RedisBuckets(cfg.redis, namespace, cfg.rate, cfg.capacity, cfg.max_keys, 0.25)
        return RateLimitCheck(cfg, trusted, server, remote=remote)
    if config.resolved_workers() > 1:
        from frontdesk.access.shared import SharedBuckets, table_path

        # The workers' parent is the master: its pid names the table they share.
        path = table_path(os.getppid(), settings)
        table = SharedBuckets(path, cfg.rate, cfg.capacity, cfg.max_keys)
        return RateLimitCheck(cfg, trusted, server, table=table)
    return RateLimitCheck(cfg, trusted, server)
