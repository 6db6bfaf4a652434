"""The `static` route action: answers from the memory cache when it can, from disk
(in a task, disk I/O in threads) when it must.

Three lanes, fastest first:
  hot()      called by the protocol's fast lane with no Request built: a cached file,
             a plain GET/HEAD (no conditionals, no Range), answered with pre-rendered
             bytes (head + body, Date per second) — the same path as `respond`;
  respond()  a cached file, any request: conditionals, ranges, encodings decided in
             memory, written without a task;
  stream()   everything else: stat/open/read in a thread, then the body from memory
             or with sendfile(2); returning None from respond() sends a request here.
A cached file is re-checked on disk at most once a second (then it goes through
stream(), which refreshes or replaces the entry). Files too big for memory are cached
too, as open descriptors (as nginx's open_file_cache): no lookup per request, and
their 304/412/416 answers come from respond().
"""

from __future__ import annotations

import asyncio
import binascii
import os
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from frontdesk.server.actions import _PATH_SAFE, Action
from frontdesk.server.response import FixedResponse, status_line
from frontdesk.server.sendfile import FileShrunk, send_file
from frontdesk.static import listing
from frontdesk.static.answer import NeedCoding, Plan, plan, request_fields
from frontdesk.static.mime import MimeTable, compressible
from frontdesk.static.resolve import Listing, Policy, Redirect, Refused
from frontdesk.static.resource import LoadOptions, Resource, compress, load
from frontdesk.static.rules import CacheRules

if TYPE_CHECKING:
    from frontdesk.config.static import Static
    from frontdesk.server.clock import Clock
    from frontdesk.server.exchange import BodyReader, ResponseWriter
    from frontdesk.server.request import Request

RECHECK = 1.0  # seconds a cached file is trusted before its stat is checked again
CHECK_CLAIM = 5.0  # seconds a request's claim to re-check a file holds
MAX_OPEN_FILES = 1000  # large files kept open per route (each holds 1-4 descriptors)
_MEMO = 16  # rendered answers kept per cached file (one per Accept-Encoding value seen)
_GET_HEAD = (b"GET", b"HEAD")

# The hot lane leaves any request with Range or a precondition to respond(): a cheap
# filter on first letter and length of the field name before lower-casing it.
_HOT_FIRST = bytes(1 if chr(i).lower() in "air" else 0 for i in range(256))
_HOT_LENGTHS = frozenset({5, 8, 13, 15, 17, 19})
_NOT_HOT = frozenset(
    {
        b"range",
        b"if-range",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
    }
)
# The fields hot() reads, as browsers and curl spell them and in lower case.
_SPELLED = {
    spelling: name.lower()
    for name in (
        b"Accept-Encoding",
        b"Range",
        b"If-Range",
        b"If-Match",
        b"If-None-Match",
        b"If-Modified-Since",
        b"If-Unmodified-Since",
    )
    for spelling in (name, name.lower())
}
_TEXT = b"text/plain; charset=utf-8"
_MEMO_ANSWERS = 64  # rendered conditional/range answers kept per cached file
_ANSWERS_ROOM = 4096  # and the bytes they may take besides the file's size
_NO_AE = b"\n"  # the key's mark for "no Accept-Encoding" (never in a field value)


def answer_key(method: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[bytes, ...] | None:
    """The key of a conditional or range request's answer in `Resource.answers`, as
    hot() builds it inline; None for a plain request or a repeated Accept-Encoding
    (whose lines respond() joins, RFC 9110 §5.3)."""
    ae = None
    key: list[bytes] | None = None
    for name, value in headers:
        lname = name.lower()
        if lname == b"accept-encoding":
            if ae is not None:
                return None
            ae = value
        elif lname in _NOT_HOT:
            if key is None:
                key = [method, lname, value]
            else:
                key += (lname, value)
    if key is None:
        return None
    key.append(_NO_AE if ae is None else ae)
    return tuple(key)


class StaticFiles(Action):
    """Serve the files under `root` for one route."""

    hot_lane = True

    def __init__(self, cfg: Static, prefix: str | None, server: str) -> None:
        self.root = cfg.root
        self.prefix = prefix or "/"
        self.server_line = f"Server: {server}\r\n".encode("latin-1") if server else b""
        self.policy = Policy(
            symlinks=cfg.symlinks,
            hide_dotfiles=cfg.dotfiles == "hide",
            index=cfg.index,
            listing=cfg.listing,
            fallback=cfg.fallback,
        )
        self.mime = MimeTable(cfg.types, cfg.default_type, cfg.charset)
        self.rules = CacheRules(cfg.cache_rules, cfg.cache_control, cfg.default_cache_control)
        self.cfg = cfg
        self.max_in_memory = cfg.memory_cache_max_file if cfg.memory_cache > 0 else 0
        self.budget = cfg.memory_cache
        self.max_ranges = cfg.max_ranges
        self.use_sendfile = cfg.sendfile
        # RFC 2046 §5.1.1: the boundary must not occur in the parts; 20 random hex
        # digits make that a non-event.
        self.boundary = binascii.hexlify(os.urandom(10))
        self.memory: dict[str, Resource] = {}
        self.charged = 0
        self.open_files = 0  # cached entries holding descriptors of files not in memory
        self.not_allowed = self._fixed_text(405, "Method Not Allowed", [(b"Allow", b"GET, HEAD")])

    # ------------------------------------------------------------------- lanes

    def hot(
        self,
        method: bytes,
        url: bytes,
        path: str,
        raw_host: bytes | None,
        headers: list[tuple[bytes, bytes]],
        clock: Clock,
    ) -> bytes | tuple[bytes, int, int] | None:
        res = self.memory.get(path)
        if res is None or clock.now >= res.expires:
            return None
        # The fields an answer depends on, raw, in the order sent: a plain request is
        # answered by its Accept-Encoding alone; any other shape by the whole key, a
        # lookup in the answers respond() rendered for the same fields before.
        ae = None
        key: tuple[bytes, ...] | None = None
        for name, value in headers:
            if _HOT_FIRST[name[0]] and len(name) in _HOT_LENGTHS:
                # The name as commonly spelled: looked up by the hash the protocol's
                # field scan computed already (a lower-cased copy needs its own).
                lname = _SPELLED.get(name)
                if lname is None:
                    lname = name.lower()
                if lname == b"accept-encoding":
                    if ae is not None:
                        return None  # repeated: respond() joins the lines
                    ae = value
                elif lname in _NOT_HOT:
                    if key is None:
                        key = (method, lname, value)
                    else:
                        key += (lname, value)
        if method != b"GET" and method != b"HEAD":
            return None
        date_line = clock.date_line
        if key is not None:
            key += (_NO_AE if ae is None else ae,)
            # The last shape answered first: compared, not hashed (hashing the fields'
            # values, new bytes each request, costs more than the rest of the lookup).
            last = res.last_answer
            if last is not None and last[0] == key:
                resp = last[1]
                cell = last[2]
            else:
                found = res.answers.get(key)
                if found is None:
                    return None
                resp = found
                status = resp.status
                # What the counts add: nothing for a 200 to a GET (the runs count it).
                cell = None
                if status != 200 or method != b"GET":
                    cell = self.fast_cell(method, status)
                res.last_answer = (key, resp, cell)
            res.used = True
            if cell is not None:  # 304, 206, 412, 416, a HEAD (fast_counts)
                cell[0] += 1
                if method == b"HEAD":
                    return resp.head + date_line + b"\r\n"
            if resp._date is date_line:  # rendered this second already (inlined call)
                return resp._rendered
            return resp.rendered(date_line)
        plain = res.responses.get(ae)
        if plain is None:
            return None
        resp = plain
        res.used = True
        if method == b"HEAD":
            self.fast_head += 1
            return resp.head + date_line + b"\r\n"
        fd = res.sendfile_fd
        if fd is not None and resp.body is res.variants[""].body:
            # A big body: the head from memory, the body with sendfile(2) (zero-copy
            # beats copying it out of memory above sendfile_min_size).
            return (resp.head + date_line + b"\r\n", fd, len(resp.body))
        if resp._date is date_line:  # rendered this second already (inlined call)
            return resp._rendered
        return resp.rendered(date_line)

    def respond(self, req: Request) -> FixedResponse | None:
        if req.method not in _GET_HEAD:
            return self.not_allowed  # RFC 9110 §15.5.6: 405 with Allow
        res = self.memory.get(req.path)
        if res is None:
            return None
        if req.start >= res.expires:
            if req.start - res.checking > CHECK_CLAIM:
                # The first request after a second re-checks the file on disk (in
                # stream()); the others meanwhile are answered from memory, so a busy
                # file costs one stat a second, not one thread hop per request. (A
                # claim whose request died before its task ran lapses.)
                res.checking = req.start
                return None
        res.used = True
        fields = request_fields(req.headers)
        # An If-Range without Range changes nothing, but hot() looks such a request up
        # by its key like any other shape, so it is remembered by key too.
        cond = fields.conditions
        plain = fields.range is None and not cond.any and cond.if_range is None
        key = None
        if plain:
            memo = res.responses.get(fields.accept_encoding)
            if memo is not None:
                return memo
        else:
            key = answer_key(req.method, req.headers)
            if key is not None:
                memo = res.answers.get(key)
                if memo is not None:
                    return memo
        p = plan(req.method, fields, res, self.max_ranges, self.boundary)
        if isinstance(p, NeedCoding) or (p.variant is not None and p.variant.body is None):
            return None  # to compress first, or bytes to send from disk
        if plain and p.status == 200:
            # Every Accept-Encoding value that chooses this variant gets the same answer
            # object: each one holds a rendered copy of the body (FixedResponse), which
            # per value would be up to _MEMO copies outside the cache's byte budget.
            body = p.content()
            resp = next((r for r in res.responses.values() if r.body is body), None)
            if resp is None:
                resp = self._fixed(p)
            if len(res.responses) >= _MEMO:
                res.responses.clear()
            res.responses[fields.accept_encoding] = resp
            return resp
        resp = self._fixed(p)
        if key is not None:
            # The plan is a function of the method, these fields and the file (a
            # changed file is a new Resource): the same request gets the same bytes.
            # Bounded in count and in bytes (keys, heads, bodies: a 206 is a slice of
            # its own), to about the file's size: requests of ever new shapes cannot
            # make a file hold much more memory than its own bytes.
            size = sum(map(len, key)) + len(resp.head) + len(resp.body)
            if len(res.answers) >= _MEMO_ANSWERS or size > res.answers_room:
                res.answers.clear()
                res.answers_room = _ANSWERS_ROOM + res.identity.size
            if size <= res.answers_room:
                res.answers[key] = resp
                res.answers_room -= size
        return resp

    async def stream(self, req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        loop = asyncio.get_running_loop()
        path = req.path
        res = self.memory.get(path)
        now = time.monotonic()
        if res is None or res.checking or now >= res.expires:
            try:
                found = await loop.run_in_executor(
                    None, load, self.root, self._rel(path), self.policy, self._options, res
                )
            finally:
                if res is not None:
                    res.checking = 0.0
            if not isinstance(found, Resource):
                self._forget(path)
                self._answer_other(req, found, out)
                return
            if found is res:
                res.expires = now + RECHECK
            else:
                self._forget(path)
                res = found
                res.content_type = self.mime.content_type(res.rel).encode("latin-1")
                res.cache_control = self.rules.value_for(res.rel).encode("latin-1")
                res.expires = now + RECHECK
                self._remember(path, res)
        try:
            fields = request_fields(req.headers)
            p = plan(req.method, fields, res, self.max_ranges, self.boundary)
            if isinstance(p, NeedCoding):
                variant = await loop.run_in_executor(None, compress, res.identity, p.coding)
                if p.coding not in res.variants:
                    res.variants[p.coding] = variant
                    if variant is not res.identity and path in self.memory:
                        self._charge(res, len(variant.body or b""))
                p = plan(req.method, fields, res, self.max_ranges, self.boundary)
                assert not isinstance(p, NeedCoding)
            await self._send(req, p, out)
        except FileShrunk:
            req.keep_alive = False  # Content-Length promised more: close to say so
        finally:
            if self.memory.get(path) is not res:
                res.close()  # not cached (or replaced meanwhile): its files are ours

    # ----------------------------------------------------------------- helpers

    def _rel(self, path: str) -> str:
        # The route prefix is stripped (as nginx `alias`): /static/app.css → app.css.
        if path.startswith(self.prefix):
            path = path[len(self.prefix) :]
        return path.lstrip("/")

    def _options(self, rel: str) -> LoadOptions:
        cfg = self.cfg
        return LoadOptions(
            symlinks=cfg.symlinks,
            precompressed=cfg.precompressed,
            etag=cfg.etag,
            max_in_memory=self.max_in_memory,
            keep_fd_from=cfg.sendfile_min_size if cfg.sendfile else 0,
            compressible=compressible(self.mime.content_type(rel)),
            compress_min_size=cfg.compress_min_size,
            compress=cfg.compress,
        )

    async def _send(self, req: Request, p: Plan, out: ResponseWriter) -> None:
        v = p.variant
        if v is None or v.body is not None:
            out.start(p.status, p.headers, None if p.status == 304 else p.length)
            out.write(p.content())
            return
        assert v.fd is not None
        # Our own descriptor: the cache may close its copy (file changed, evicted)
        # while this answer is still being sent.
        fd = os.dup(v.fd)
        try:
            out.start(p.status, p.headers, p.length)
            if p.ranges is None:
                await send_file(out, fd, 0, v.size, self.use_sendfile)
                return
            heads, tail = p.parts if p.parts is not None else ([b""], b"")
            for head, r in zip(heads, p.ranges, strict=True):
                out.write(head)
                await send_file(out, fd, r.start, r.length, self.use_sendfile)
            out.write(tail)
        finally:
            os.close(fd)

    def _answer_other(
        self, req: Request, found: Redirect | Listing | Refused, out: ResponseWriter
    ) -> None:
        if isinstance(found, Redirect):
            # As nginx: a directory without its trailing slash gets 301 to the slash
            # form, so relative links inside it resolve against the directory.
            location = quote(req.path + "/", safe=_PATH_SAFE)
            if req.query:
                location += "?" + req.query
            body = f'<a href="{location}">{location}</a>\n'.encode()
            headers = [
                (b"Location", location.encode("ascii")),
                (b"Content-Type", b"text/html; charset=utf-8"),
            ]
            out.start(301, headers, len(body))
            out.write(body)
        elif isinstance(found, Listing):
            page = listing.render(req.path, found.entries, parent=bool(self._rel(req.path)))
            out.start(200, [(b"Content-Type", b"text/html; charset=utf-8")], len(page))
            out.write(page)
        else:
            text = b"404 Not Found\n" if found.status == 404 else b"403 Forbidden\n"
            out.start(found.status, [(b"Content-Type", _TEXT)], len(text))
            out.write(text)

    def _fixed(self, p: Plan) -> FixedResponse:
        parts = [status_line(p.status), self.server_line]
        for name, value in p.headers:
            parts += (name, b": ", value, b"\r\n")
        if p.status != 304:
            parts.append(b"Content-Length: %d\r\n" % p.length)
            return FixedResponse(p.status, b"".join(parts), p.content())
        return FixedResponse(p.status, b"".join(parts), b"")

    def _fixed_text(
        self, status: int, text: str, extra: list[tuple[bytes, bytes]]
    ) -> FixedResponse:
        body = f"{status} {text}\n".encode()
        headers = [(b"Content-Type", _TEXT), *extra]
        return self._fixed(Plan(status, headers, body=body, length=len(body)))

    # ------------------------------------------------------------ memory cache

    def _remember(self, path: str, res: Resource) -> None:
        """Keep `res` for the requests to come: small files with their bodies, larger
        ones as open descriptors (as nginx's open_file_cache), at most MAX_OPEN_FILES."""
        size = sum(len(v.body or b"") for v in res.variants.values()) + len(path) + 512
        if size > self.budget:
            return
        if not res.in_memory:
            if self.open_files >= MAX_OPEN_FILES:
                return
            self.open_files += 1
        self.memory[path] = res
        res.charge = 0
        self._charge(res, size)

    def _charge(self, res: Resource, size: int) -> None:
        res.charge += size
        self.charged += size
        if self.charged > self.budget:
            self._evict()

    def _forget(self, path: str) -> None:
        res = self.memory.pop(path, None)
        if res is not None:
            self.charged -= res.charge
            if not res.in_memory:
                self.open_files -= 1
            res.close()  # a hot-lane send still in progress holds its own dup()

    def _evict(self) -> None:
        """CLOCK: recently used entries get a second chance, the others go, until the
        cache is within budget (hits only set a flag: no reordering on the hot path)."""
        for _ in range(2):
            for path in list(self.memory):
                if self.charged <= self.budget:
                    return
                res = self.memory[path]
                if res.used:
                    res.used = False
                else:
                    self._forget(path)
        while self.charged > self.budget and self.memory:
            self._forget(next(iter(self.memory)))
