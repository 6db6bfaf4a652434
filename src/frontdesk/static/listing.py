"""The HTML page listing a directory (when `listing = true`).

Every name is escaped for HTML and percent-encoded in its link: a file called
`<script>` or `a"b` is shown as text, never interpreted.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import quote


def render(url_path: str, entries: list[tuple[str, bool, int, float]], parent: bool) -> bytes:
    """The page for the directory at `url_path` (decoded, ends with "/")."""
    title = html.escape(f"Index of {url_path}")
    rows = []
    if parent:
        rows.append('<tr><td><a href="../">../</a></td><td></td><td></td></tr>')
    for name, is_dir, size, mtime in entries:
        shown = name + "/" if is_dir else name
        href = quote(name, safe="") + ("/" if is_dir else "")
        when = datetime.fromtimestamp(int(mtime), tz=UTC).strftime("%Y-%m-%d %H:%M")
        rows.append(
            f'<tr><td><a href="{html.escape(href)}">{html.escape(shown)}</a></td>'
            f"<td>{'-' if is_dir else size}</td><td>{when}</td></tr>"
        )
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n<table>\n"
        "<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
    )
    return page.encode("utf-8")
