"""The config reference (docs/config.md), generated from the model's field docstrings.

The docstrings are the one source of truth; `python -m frontdesk.config.reference`
prints the Markdown, and a test checks that docs/config.md is up to date.
"""

from __future__ import annotations

from pydantic import BaseModel

from frontdesk.config.access import Access, ForwardAuth, RateLimit, Signed
from frontdesk.config.admin import Admin
from frontdesk.config.apps import App
from frontdesk.config.cache import Cache, Disk, Key, Redis
from frontdesk.config.http2 import Http2
from frontdesk.config.model import Match, Redirect, Respond, Route, ServerConfig
from frontdesk.config.proxy import (
    Health,
    Passive,
    Pool,
    PrefixReplace,
    Proxy,
    Rewrite,
    Server,
    Sticky,
)
from frontdesk.config.static import Static
from frontdesk.config.tls import Acme, Certificate, Listener, Tls
from frontdesk.config.upstream_tls import UpstreamTls

SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("[server]", ServerConfig),
    ("[[route]]", Route),
    ("[[route]] match = { ... }", Match),
    ("[[route]] respond = { ... }", Respond),
    ("[[route]] redirect = { ... }", Redirect),
    ("[[route]] static = { ... }", Static),
    ("[[route]] rate_limit = { ... }", RateLimit),
    ("[[route]] proxy = { ... }", Proxy),
    ("[[route]] proxy = { replace_prefix = { ... } }", PrefixReplace),
    ("[[route]] proxy = { rewrite = { ... } }", Rewrite),
    ("[pool.NAME]", Pool),
    ("[pool.NAME] servers = [{ ... }]", Server),
    ("[pool.NAME] health = { ... }", Health),
    ("[pool.NAME] health = { passive = { ... } }", Passive),
    ("[pool.NAME] sticky = { ... }", Sticky),
    ("[pool.NAME] tls = { ... }", UpstreamTls),
    ("[app.NAME]", App),
    ("[cache.NAME]", Cache),
    ("[cache.NAME.disk]", Disk),
    ("[cache.NAME.redis]", Redis),
    ("[cache.NAME.key]", Key),
    ("[access.NAME] (or [auth.NAME])", Access),
    ("[access.NAME] signed = { ... }", Signed),
    ("[access.NAME] forward = { ... }", ForwardAuth),
    ("[admin]", Admin),
    ("[server] listen = [{ ... }]", Listener),
    ("[tls]", Tls),
    ("[tls] certificates = [{ ... }]", Certificate),
    ("[tls] acme = { ... }", Acme),
    ("[http2]", Http2),
)


def render() -> str:
    out = [
        "# frontdesk config reference",
        "",
        "Generated from the field docstrings in `src/frontdesk/config/model.py` by",
        "`python -m frontdesk.config.reference`; do not edit by hand.",
        "",
        'Sizes: `"64KB"`, `"10MB"`, `"1GB"` (K = 1024) or a number of bytes. Durations:',
        '`"250ms"`, `"5s"`, `"1m30s"`, `"2h"`, `"1d"` or a number of seconds.',
    ]
    for title, model in SECTIONS:
        out += ["", f"## `{title}`", ""]
        if model.__doc__:
            out += [" ".join(model.__doc__.split()), ""]
        out += ["| key | meaning |", "|---|---|"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            text = (
                " ".join((field.description or "").split()).replace("|", "\\|").replace("<", "&lt;")
            )
            out.append(f"| `{key}` | {text} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
