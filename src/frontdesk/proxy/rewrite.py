"""The request-target sent to a backend (pure: strings in, bytes out).

Routing decided on the normalised path (http/target.py), so that is the path the
backend must see: when the raw target means the same path once percent-decoded, it is
forwarded byte for byte (keeping encodings such as %2F the app may rely on); when it
does not (dot-segments, merged slashes), the normalised path is sent, re-encoded.
Rewrites (strip a prefix, replace a prefix, regex) apply to the normalised path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

# RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@", plus "/"
# between segments. Everything else (including a decoded "?" or "#") is re-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class PathRewrite:
    """One route's rewrite, built at config load. All None: no rewrite."""

    strip_prefix: str | None = None
    replace_from: str | None = None
    replace_to: str = ""
    regex: re.Pattern[str] | None = None
    regex_to: str = ""

    @property
    def active(self) -> bool:
        return (
            self.strip_prefix is not None or self.replace_from is not None or self.regex is not None
        )

    def apply(self, path: str) -> str:
        """The rewritten path; always starts with "/"."""
        if self.strip_prefix is not None:
            if path.startswith(self.strip_prefix):
                path = path[len(self.strip_prefix) :]
        elif self.replace_from is not None:
            if path.startswith(self.replace_from):
                path = self.replace_to + path[len(self.replace_from) :]
        elif self.regex is not None:
            path = self.regex.sub(self.regex_to, path)
        return path if path.startswith("/") else "/" + path


NO_REWRITE = PathRewrite()


def upstream_target(raw: bytes, path: str, query: str, rewrite: PathRewrite) -> bytes:
    """The request-target for the backend, in origin-form (RFC 9112 §3.2.1).

    `raw` is the target as the client sent it, `path` its normalised path and `query`
    its raw query ("" when absent). An asterisk-form target (OPTIONS *) stays "*".
    """
    if raw == b"*":
        return raw
    if not rewrite.active and raw[:1] == b"/":
        raw_path = raw.split(b"?", 1)[0]
        # llhttp allows only visible ASCII in the target, so this decode cannot fail.
        if unquote(raw_path.decode("ascii"), errors="surrogateescape") == path:
            return raw
    new_path = rewrite.apply(path) if rewrite.active else path
    quoted = quote(new_path, safe=_PATH_SAFE)
    if query:
        quoted += "?" + query
    return quoted.encode("ascii")
