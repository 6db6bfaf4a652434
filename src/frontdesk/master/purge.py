"""Admin API: POST /cache/purge — remove cached responses in every worker and tier.

Body (JSON): {"urls": ["http://host/path", ...], "prefix": "http://host/blog/",
"tag": "product-42", "cache": "main"}; at least one of urls, prefix and tag; "cache"
limits the purge to one [cache.NAME]. The answer counts the entries removed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from frontdesk.cache.purge import PurgeError, split_url
from frontdesk.master.admin import AdminRequest, AdminServer

if TYPE_CHECKING:
    from frontdesk.master.workers import Master


def purge_message(body: bytes) -> dict[str, Any]:
    """The channel message for a purge request body; PurgeError when it is wrong."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise PurgeError("the body must be JSON") from None
    if not isinstance(data, dict):
        raise PurgeError("the body must be a JSON object")
    urls = data.get("urls", [])
    prefix = data.get("prefix") or ""
    tag = data.get("tag") or ""
    cache = data.get("cache") or None
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise PurgeError('"urls" must be a list of URLs')
    if not isinstance(prefix, str) or not isinstance(tag, str):
        raise PurgeError('"prefix" and "tag" must be strings')
    if cache is not None and not isinstance(cache, str):
        raise PurgeError('"cache" must be the name of a [cache.NAME]')
    if not (urls or prefix or tag):
        raise PurgeError('nothing to purge: give "urls", "prefix" or "tag"')
    for url in [*urls, prefix] if prefix else urls:
        split_url(url)  # raises PurgeError naming the URL
    return {"type": "purge", "urls": urls, "prefix": prefix, "tag": tag, "cache": cache}


def add_purge_routes(admin: AdminServer, master: Master) -> None:
    async def purge(req: AdminRequest) -> tuple[int, Any]:
        try:
            msg = purge_message(req.body)
        except PurgeError as exc:
            return 400, {"error": str(exc)}
        if msg["cache"] is not None and msg["cache"] not in master.config.caches:
            names = ", ".join(sorted(master.config.caches)) or "none configured"
            return 404, {"error": f"no cache {msg['cache']!r} (caches: {names})"}
        # The first worker purges the shared tiers too; the others their memory only.
        rows = await master.ask_workers({**msg, "shared": False}, first={**msg, "shared": True})
        errors = [str(r["error"]) for r in rows if "error" in r]
        removed = sum(int(r.get("removed", 0)) for r in rows)  # type: ignore[call-overload]
        payload: dict[str, Any] = {"removed": removed, "workers": len(rows)}
        if errors:
            payload["errors"] = sorted(set(errors))
        return (200 if not errors else 502), payload

    admin.route("POST", "/cache/purge", purge)
