"""A loopback HTTP proxy that serves the fixture news site's virtual hosts from files.

Crawlers reach it the way they reach any forward proxy (``http_proxy=http://127.0.0.1:PORT``),
so request URLs keep their realistic fake hostnames (http://kwave.test/...). Nothing is ever
forwarded: a host without a folder under ``hosts/`` gets a 502, so no test can reach the internet.

Static pages live in ``hosts/<hostname>/``; ``hosts/<hostname>/_site.json`` declares routes,
redirects and per-file content types or charsets, ``hosts/_hosts.json`` declares host aliases.
Served text may hold date placeholders, ``{{date:-2d3h}}`` or ``{{date:-2d3h:FORMAT}}``, rendered
against the ``now`` fixed when the site object is built, so a server's pages never change while it
runs. ``faults.test`` adds the coded routes of the fault list (issue 7); see ``_FAULT_ROUTES``.

The benchmark serves its generated news web with the same server: ``add_page`` puts pages held
in memory on virtual hosts of their own, ``add_coded_host`` answers a host from code (its control
host), and the access log counts header and body bytes of every answer.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import posixpath
import random
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from . import aggregators

logger = logging.getLogger(__name__)

HOSTS_DIR = Path(__file__).parent / "hosts"
FAULTS_HOST = "faults.test"
KST = timezone(timedelta(hours=9), "KST")

_CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".json": "application/json",
}
_DATE_TOKEN = re.compile(r"\{\{date:([^}:]+)(?::([a-z0-9-]+))?\}\}")
_OFFSET = re.compile(r"^(?:now|0|([+-])(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?)$")
_TRAP_PAGE = re.compile(r"^/trap/page/(\d+)/?$")


def parse_offset(offset: str) -> timedelta:
    """Return the timedelta an offset token such as ``-2d3h``, ``+30m`` or ``now`` stands for."""
    match = _OFFSET.match(offset.strip())
    if match is None or (match.group(1) and not any(match.group(2, 3, 4))):
        raise ValueError(f"bad date offset {offset!r} (expected e.g. -2d, -5h, -1d6h30m, now)")
    sign, days, hours, minutes = match.groups()
    delta = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0))
    return -delta if sign == "-" else delta


def format_date(moment: datetime, fmt: str) -> str:
    """Render ``moment`` in one of the placeholder formats (see the module docstring)."""
    utc = moment.astimezone(UTC)
    kst = moment.astimezone(KST)
    formats: dict[str, Callable[[], str]] = {
        "rfc822": lambda: format_datetime(utc, usegmt=True),
        "rfc822-kst": lambda: format_datetime(kst),
        "iso": lambda: utc.isoformat(),
        "iso-z": lambda: utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "iso-kst": lambda: kst.isoformat(),
        "day": lambda: utc.strftime("%Y-%m-%d"),
        "human": lambda: f"{utc:%B} {utc.day}, {utc.year}",
        "human-time": lambda: f"{utc:%B} {utc.day}, {utc.year} {utc:%H:%M} UTC",
        "ko": lambda: kst.strftime("%Y.%m.%d %H:%M"),
        "human-12h": lambda: f"{utc:%B} {utc.day}, {utc.year} {utc.hour % 12 or 12}:{utc:%M %p}",
        "ko-byline": lambda: kst.strftime("%Y.%m.%d. %H:%M"),
        "ko-naive": lambda: kst.strftime("%Y-%m-%d %H:%M:%S"),
        "year": lambda: str(utc.year),
    }
    if fmt not in formats:
        raise ValueError(f"unknown date format {fmt!r}; known: {', '.join(sorted(formats))}")
    return formats[fmt]()


def render_dates(text: str, now: datetime, default_format: str) -> str:
    """Replace every ``{{date:OFFSET[:FORMAT]}}`` token in ``text`` relative to ``now``."""

    def one(match: re.Match[str]) -> str:
        return format_date(now + parse_offset(match.group(1)), match.group(2) or default_format)

    return _DATE_TOKEN.sub(one, text)


@dataclass(frozen=True)
class AccessRecord:
    """One request the site received; ``status`` is None when no response was sent (/never)."""

    method: str
    host: str
    target: str
    status: int | None
    bytes_sent: int
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    at: float
    header_bytes: int = 0  # the status line and headers; ``bytes_sent`` counts the body

    @property
    def url(self) -> str:
        """The absolute URL the client asked for."""
        return f"http://{self.host}{self.target}"


@dataclass
class _Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Page:
    """A page after rendering: what conditional GET and the handler need.

    ``gzipped`` is the body compressed, when the page offers it: clients that accept gzip get it
    with ``Content-Encoding: gzip`` (the fixture's files never offer it; the benchmark's pages do).
    """

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    gzipped: bytes | None = None


CodedHost = Callable[[str], tuple[int, str, bytes]]
"""Answers a GET of a path+query on a host served from code: (status, content type, body)."""


class _HostConfig:
    """One virtual host's folder and its ``_site.json`` (routes, redirects, file options)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        meta_path = root / "_site.json"
        meta = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
        self.routes: dict[str, str] = meta.get("routes", {})
        self.redirects: dict[str, list[int | str] | str] = meta.get("redirects", {})
        self.files: dict[str, dict[str, str]] = meta.get("files", {})

    def locate(self, target: str) -> str | None:
        """Return the file (relative to the host folder) that serves ``target``, if any.

        A route may name a full target with its query (``/view?id=3``) or a bare path; files are
        found by path alone: ``/a/b`` → ``a/b``, ``a/b.html`` or ``a/b/index.html``.
        """
        path = urlsplit(target).path or "/"
        for key in (target, path):
            if key in self.routes:
                return self.routes[key]
        clean = posixpath.normpath(unquote(path))
        parts = [part for part in clean.split("/") if part]
        if any(part.startswith((".", "_")) for part in parts):
            return None
        rel = "/".join(parts)
        if path.endswith("/") or not rel:
            candidates = [f"{rel}/index.html".lstrip("/"), f"{rel}.html"]
        else:
            candidates = [rel, f"{rel}.html", f"{rel}/index.html"]
        for candidate in candidates:
            if candidate != ".html" and (self.root / candidate).is_file():
                return candidate
        return None


class FixtureSite:
    """The fixture news site: start it, point crawlers at ``proxy_url``, read ``access_log``.

    ``now`` fixes the instant date placeholders are rendered against (default: the current time,
    to the second, when the object is built). ``slow_delay`` is how long ``faults.test/slow``
    waits; ``never_limit`` bounds how long ``faults.test/never`` holds a connection.
    """

    def __init__(
        self,
        *,
        now: datetime | None = None,
        bind: str = "127.0.0.1",
        port: int = 0,
        slow_delay: float = 3.0,
        never_limit: float = 120.0,
        hosts_dir: Path | None = HOSTS_DIR,
    ) -> None:
        moment = now or datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now = moment.astimezone(UTC).replace(microsecond=0)
        self.slow_delay = slow_delay
        self.never_limit = never_limit
        self._bind = bind
        self._port = port
        self._aliases: dict[str, str] = {}
        self._google_articles: dict[str, str] = {}
        self._hosts: dict[str, _HostConfig] = {}
        if hosts_dir is not None:  # None: only what add_page and add_coded_host put there
            aliases_path = hosts_dir / "_hosts.json"
            aliases = json.loads(aliases_path.read_text("utf-8")) if aliases_path.exists() else {}
            self._aliases = aliases.get("aliases", {})
            self._google_articles = aggregators.articles(hosts_dir)
            self._hosts = {
                entry.name: _HostConfig(entry)
                for entry in sorted(hosts_dir.iterdir())
                if entry.is_dir() and not entry.name.startswith((".", "_"))
            }
        self._memory: dict[tuple[str, str], Page] = {}
        self._memory_hosts: set[str] = set()
        self._coded: dict[str, CodedHost] = {}
        self._lock = threading.Lock()
        self._log: list[AccessRecord] = []
        self._rendered: dict[tuple[str, str], Page] = {}
        self._overrides: dict[tuple[str, str], Page] = {}
        self._statuses: dict[tuple[str, str], int] = {}
        self._revision = 0
        self._fault_counts: dict[str, int] = {}
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FixtureSite:
        """Bind and serve in a background thread; returns self (``FixtureSite().start()``)."""
        if self._server is not None:
            raise RuntimeError("FixtureSite already started")
        self._stopping.clear()
        server = _ProxyServer((self._bind, self._port), _Handler, self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        logger.info("fixture site serving on %s", self.proxy_url)
        return self

    def stop(self) -> None:
        """Stop serving; connections still open (keep-alive, /never, /huge) are cut, not awaited."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the proxy listens on."""
        if self._server is None:
            raise RuntimeError("FixtureSite is not running")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def proxy_url(self) -> str:
        """The value for ``http_proxy``: ``http://127.0.0.1:PORT``."""
        host, port = self.address
        return f"http://{host}:{port}"

    def proxy_env(self) -> dict[str, str]:
        """Environment variables that route a child process's HTTP through this site."""
        return {
            "http_proxy": self.proxy_url,
            "HTTP_PROXY": self.proxy_url,
            "no_proxy": "",
            "NO_PROXY": "",
        }

    @staticmethod
    def url(host: str, path: str = "/") -> str:
        """The absolute URL of ``path`` on a virtual host, e.g. ``url("kwave.test", "/feed/")``."""
        return f"http://{host}{path if path.startswith('/') else '/' + path}"

    @property
    def hosts(self) -> list[str]:
        """Every virtual host served, aliases included."""
        return sorted({*self._hosts, *self._aliases, *self._memory_hosts, *self._coded})

    def date(self, offset: str) -> datetime:
        """The instant a ``{{date:OFFSET}}`` placeholder renders to (UTC)."""
        return self.now + parse_offset(offset)

    # -- access log ------------------------------------------------------------------------------

    @property
    def access_log(self) -> list[AccessRecord]:
        """A snapshot of every request received so far, in the order their answers ended."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._log.clear()

    def hits(self, url: str) -> int:
        """How many requests asked for exactly this URL (host, path and query)."""
        host, target = _split_url(url)
        return sum(1 for rec in self.access_log if rec.host == host and rec.target == target)

    def _record(self, record: AccessRecord) -> None:
        with self._lock:
            self._log.append(record)

    # -- content held in memory ------------------------------------------------------------------

    def add_page(self, url: str, page: Page) -> None:
        """Serve ``page`` as it is at exactly ``url`` (host, path and query) until replaced.

        Its host becomes a virtual host if no folder serves it. Unlike ``set_page`` this is the
        site's content: ``reset()`` keeps it, and the page keeps the validators it comes with.
        """
        host, target = _split_url(url)
        with self._lock:
            self._memory[(host, target)] = page
            self._memory_hosts.add(host)

    def add_coded_host(self, host: str, answer: CodedHost) -> None:
        """Answer every GET and HEAD on ``host`` with ``answer(path_and_query)``."""
        with self._lock:
            self._coded[host.lower()] = answer

    # -- content changes during a test -----------------------------------------------------------

    def set_page(self, url: str, body: str, *, content_type: str | None = None) -> None:
        """Serve ``body`` (a template: date placeholders work) at ``url`` instead of the file.

        Each call gets a fresh ETag and a Last-Modified one second later than the previous
        change, so conditional GETs see the change.
        """
        host, target = _split_url(url)
        host = self._aliases.get(host, host)
        path = urlsplit(target).path
        ctype = content_type or _content_type_for(path if "." in path else "/index.html", None)
        with self._lock:
            self._revision += 1
            modified = self.now + timedelta(seconds=self._revision)
        payload = render_dates(body, self.now, _default_date_format(ctype)).encode("utf-8")
        page = Page(payload, ctype, _etag(payload), modified)
        with self._lock:
            self._overrides[(host, _override_key(target))] = page

    def set_status(self, url: str, status: int) -> None:
        """Answer ``url`` with a bare ``status`` (a 503, a 404...) until ``reset()``."""
        host, target = _split_url(url)
        with self._lock:
            self._statuses[(self._aliases.get(host, host), _override_key(target))] = status

    def replace_text(self, url: str, old: str, new: str) -> None:
        """Serve ``url``'s current page with ``old`` replaced by ``new`` (ValueError if absent)."""
        page = self._current_page(url)
        current = page.body.decode(_charset_of(page.content_type) or "utf-8")
        if old not in current:
            raise ValueError(f"{old!r} not found in {url}")
        self.set_page(url, current.replace(old, new), content_type=page.content_type)

    def page_text(self, url: str) -> str:
        """The text currently served at ``url`` (placeholders rendered). KeyError if none."""
        page = self._current_page(url)
        return page.body.decode(_charset_of(page.content_type) or "utf-8")

    def _current_page(self, url: str) -> Page:
        host, target = _split_url(url)
        page = self._page_for(self._aliases.get(host, host), target)
        if page is None:
            raise KeyError(url)
        return page

    def reset(self) -> None:
        """Drop ``set_page`` changes, fault counters and the access log."""
        with self._lock:
            self._overrides.clear()
            self._statuses.clear()
            self._fault_counts.clear()
            self._log.clear()

    def reset_faults(self) -> None:
        """Restart the per-server fault counters (``/flaky`` fails twice again)."""
        with self._lock:
            self._fault_counts.clear()

    # -- serving ---------------------------------------------------------------------------------

    def _count_fault(self, name: str) -> int:
        with self._lock:
            self._fault_counts[name] = self._fault_counts.get(name, 0) + 1
            return self._fault_counts[name]

    def _page_for(self, host: str, target: str) -> Page | None:
        """The page for ``target`` on a (de-aliased) host: an override, one in memory or a file."""
        path = urlsplit(target).path or "/"
        with self._lock:
            override = self._overrides.get((host, _override_key(target))) or self._overrides.get(
                (host, _override_key(path))
            )
            memory = self._memory.get((host, target))
        if override is not None or memory is not None:
            return override or memory
        config = self._hosts.get(host)
        if config is None:
            return None
        rel = config.locate(target)
        gzipped = False
        if rel is None and path.endswith(".gz"):
            rel = config.locate(path[: -len(".gz")])
            gzipped = rel is not None
        if rel is None:
            return None
        key = (host, rel + (".gz" if gzipped else ""))
        with self._lock:
            cached = self._rendered.get(key)
        if cached is not None:
            return cached
        page = self._render_file(config, rel, gzipped)
        with self._lock:
            self._rendered[key] = page
        return page

    def _render_file(self, config: _HostConfig, rel: str, gzipped: bool) -> Page:
        options = config.files.get(rel, {})
        charset = options.get("charset", "utf-8")
        ctype = _content_type_for(rel, options.get("content_type"), charset)
        raw = (config.root / rel).read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            body = raw
        else:
            body = render_dates(text, self.now, _default_date_format(ctype)).encode(charset)
        if gzipped:
            body = gzip.compress(body, mtime=0)
            ctype = "application/gzip"
        return Page(body, ctype, _etag(body), self.now)

    def _reply_for(self, host: str, target: str, headers: dict[str, str]) -> _Reply:
        """The reply to a GET on a virtual host (faults.test's coded routes excluded)."""
        real_host = self._aliases.get(host, host)
        config = self._hosts.get(real_host)
        with self._lock:
            in_memory = real_host in self._memory_hosts
        if config is None and not in_memory:
            return _text_reply(502, f"fixture proxy: unknown host {host!r} (no internet here)\n")
        path = urlsplit(target).path or "/"
        with self._lock:
            status = self._statuses.get((real_host, _override_key(target)))
        if status is not None:
            return _text_reply(status, f"fixture site: status {status} for http://{host}{target}\n")
        redirects = config.redirects if config is not None else {}
        redirect = redirects.get(target) or redirects.get(path)
        if redirect is not None:
            status, location = (301, redirect) if isinstance(redirect, str) else redirect
            target_url = location if "://" in location else f"http://{host}{location}"
            return _Reply(int(status), {"Location": target_url, "Content-Length": "0"})
        page = self._page_for(real_host, target)
        if page is None:
            return _text_reply(404, f"not found: http://{host}{target}\n", "text/html")
        validators = {"ETag": page.etag, "Last-Modified": format_datetime(page.last_modified, True)}
        if page.gzipped is not None:
            validators["Vary"] = "Accept-Encoding"
        if _not_modified(page, headers):
            return _Reply(304, validators)
        if page.gzipped is not None and "gzip" in headers.get("Accept-Encoding", ""):
            encoded = {"Content-Encoding": "gzip", **validators}
            return _Reply(200, {"Content-Type": page.content_type, **encoded}, page.gzipped)
        return _Reply(200, {"Content-Type": page.content_type, **validators}, page.body)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # a crawler opens many connections at once (the benchmark's)

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], site: FixtureSite
    ) -> None:
        self.site = site
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FixtureSite/1.0"
    timeout = 60  # an idle keep-alive connection is dropped after this many seconds

    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        with self.server.site._lock:
            self.server.site._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.site._lock:
            self.server.site._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def send_response_only(self, code: int, message: str | None = None) -> None:
        if message is None:
            message = self.responses[code][0] if code in self.responses else ""
        # the status line and the blank line that ends the headers
        self._header_bytes = len(f"{self.protocol_version} {code} {message}\r\n") + 2
        super().send_response_only(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        self._header_bytes += len(f"{keyword}: {value}\r\n".encode("latin-1", "replace"))
        super().send_header(keyword, value)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_CONNECT(self) -> None:
        self._recorded = True  # not a request for a page: nothing to log
        self._write(_text_reply(501, "fixture proxy: CONNECT (https) is not supported\n"), False)

    def do_POST(self) -> None:
        host, target = self._host_and_target()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = None
        if host == aggregators.GOOGLE_NEWS_HOST:
            answer = aggregators.batchexecute(target, body, self.server.site._google_articles)
        if answer is None:
            self._recorded = True
            self._write(_text_reply(405, "fixture site is read-only\n"), False)
            return
        self._host, self._target, self._sent, self._status = host, target, 0, None
        self._header_bytes = 0
        self._recorded = False
        try:
            self._write(_Reply(answer[0], {"Content-Type": answer[1]}, answer[2].encode()), False)
        finally:
            self._record()

    # -- per request -----------------------------------------------------------------------------

    def _serve(self, head: bool) -> None:
        site = self.server.site
        self._host, self._target = self._host_and_target()
        self._sent = 0
        self._header_bytes = 0
        self._status: int | None = None
        self._recorded = False
        try:
            google = (
                aggregators.article_page(self._target, site._google_articles)
                if self._host == aggregators.GOOGLE_NEWS_HOST
                else None
            )
            with site._lock:
                coded = site._coded.get(self._host)
            if coded is not None:
                status, content_type, body = coded(self._target)
                self._write(_Reply(status, {"Content-Type": content_type}, body), head)
            elif self._host == FAULTS_HOST:
                self._serve_fault(site, self._target, head)
            elif google is not None:
                reply = _Reply(google[0], {"Content-Type": google[1]}, google[2].encode())
                self._write(reply, head)
            else:
                reply = site._reply_for(self._host, self._target, self._conditional_headers())
                self._write(reply, head)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        finally:
            self._record()

    def _record(self) -> None:
        """Log this request once: as its answer is committed, or when the handler gives up.

        Answers with a known body are logged before their last byte leaves, so a client that has
        read a response always finds it in ``access_log``; streamed (/huge) and unanswered
        (/never) requests are logged when they end.
        """
        if self._recorded:
            return
        self._recorded = True
        self.server.site._record(
            AccessRecord(
                method=self.command,
                host=self._host,
                target=self._target,
                status=self._status,
                bytes_sent=self._sent,
                if_none_match=self.headers.get("If-None-Match"),
                if_modified_since=self.headers.get("If-Modified-Since"),
                user_agent=self.headers.get("User-Agent"),
                at=time.time(),
                header_bytes=self._header_bytes,
            )
        )

    def _host_and_target(self) -> tuple[str, str]:
        """Split an absolute-URI request line (proxy style) or a path plus Host header."""
        if "://" in self.path.split("?", 1)[0]:
            return _split_url(self.path)
        host = (self.headers.get("Host") or "").strip().lower()
        host = host.rsplit(":", 1)[0] if ":" in host and not host.endswith("]") else host
        return host, self.path or "/"

    def _conditional_headers(self) -> dict[str, str]:
        """The request headers an answer depends on: validators and the accepted encodings."""
        return {
            name: value
            for name in ("If-None-Match", "If-Modified-Since", "Accept-Encoding")
            if (value := self.headers.get(name)) is not None
        }

    def _write(self, reply: _Reply, head: bool) -> None:
        body = b"" if head or reply.status == 304 else reply.body
        self._status = reply.status
        self._sent = len(body)
        self.send_response(reply.status)
        headers = dict(reply.headers)
        if reply.status != 304:
            headers.setdefault("Content-Length", str(len(reply.body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self._record()  # headers are still buffered: the client cannot have the answer yet
        self.end_headers()
        if body:
            self.wfile.write(body)

    # -- faults.test -----------------------------------------------------------------------------

    def _serve_fault(self, site: FixtureSite, target: str, head: bool) -> None:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        path = parts.path or "/"
        delay = _float_param(query, "delay", site.slow_delay if path == "/slow" else 0.0)
        if delay > 0 and site._stopping.wait(delay):
            self.close_connection = True
            return
        route = _FAULT_ROUTES.get(path)
        if route is not None:
            route(self, site, query, head)
        elif (match := _TRAP_PAGE.match(path)) is not None:
            self._write(_trap_page(int(match.group(1))), head)
        else:
            self._write(site._reply_for(FAULTS_HOST, target, self._conditional_headers()), head)

    def _fault_never(self, site: FixtureSite, query: dict[str, list[str]], head: bool) -> None:
        """Accept and say nothing until the client hangs up, the site stops or the limit passes."""
        deadline = time.monotonic() + site.never_limit
        self.close_connection = True
        while not site._stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.1)
            if readable:
                return  # the client hung up (or sent more): this request is over either way

    def _fault_flaky(self, site: FixtureSite, query: dict[str, list[str]], head: bool) -> None:
        """500 for the first two requests per server (see reset_faults), then the real article."""
        if site._count_fault("flaky") <= 2:
            self._write(_text_reply(500, "temporary failure, try again\n", "text/html"), head)
        else:
            self._write(site._reply_for(FAULTS_HOST, "/flaky", {}), head)

    def _fault_huge(self, site: FixtureSite, query: dict[str, list[str]], head: bool) -> None:
        """A 15 MB (``?mb=N``) article page, streamed; ``?chunked=1`` omits Content-Length."""
        size = int(_float_param(query, "mb", 15.0) * 1024 * 1024)
        chunked = query.get("chunked", ["0"])[0] not in ("0", "")
        self._status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        if head:
            return
        *pieces, last = _huge_body(size)
        for piece in pieces:
            if site._stopping.is_set():
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            self._sent += len(piece)
        self._sent += len(last)
        if chunked:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(last), last))
            self._record()
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._record()
            self.wfile.write(last)

    def _fault_binary(self, site: FixtureSite, query: dict[str, list[str]], head: bool) -> None:
        """64 KiB of random (seeded, so repeatable) bytes claiming to be UTF-8 HTML."""
        body = random.Random(20240309).randbytes(64 * 1024)
        self._write(_Reply(200, {"Content-Type": "text/html; charset=utf-8"}, body), head)


_FaultRoute = Callable[[_Handler, FixtureSite, dict[str, list[str]], bool], None]
_FAULT_ROUTES: dict[str, _FaultRoute] = {
    "/never": _Handler._fault_never,
    "/flaky": _Handler._fault_flaky,
    "/huge": _Handler._fault_huge,
    "/binary": _Handler._fault_binary,
}

_HUGE_HEAD = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8">'
    b"<title>Queen of Tears fan archive, every episode transcribed</title></head><body><main>"
    b"<article><h1>Queen of Tears fan archive, every episode transcribed</h1>"
    b"<p>A fan page that never stops: Kim Soo-hyun and Kim Ji-won are named up front so that a "
    b"crawler which forgets to bound its downloads would store this page.</p>"
)
_HUGE_TAIL = b"</article></main></body></html>\n"
_HUGE_FILLER = (
    b"<p>Archive filler paragraph: the same line, again and again, to make the page heavy "
    b"enough that a sensible download limit stops reading it long before the end.</p>\n"
)


def _huge_body(size: int) -> list[bytes]:
    """Exactly ``size`` bytes of HTML in pieces of at most 64 KiB, the closing tags last."""
    head = _HUGE_HEAD[:size]
    tail = _HUGE_TAIL[: max(size - len(head), 0)]
    middle = size - len(head) - len(tail)
    block = (_HUGE_FILLER * (65536 // len(_HUGE_FILLER) + 1))[:65536]
    filler = [block] * (middle // len(block)) + [block[: middle % len(block)]]
    return [piece for piece in (head, *filler, tail) if piece] or [b""]


def _trap_page(number: int) -> _Reply:
    """Page N of an archive that never ends: each page links to page N+1."""
    nxt = f"/trap/page/{number + 1}"
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Archive, page {number} :: Calendar Trap</title>"
        f'<link rel="next" href="http://{FAULTS_HOST}{nxt}"></head><body><main>'
        f"<h1>Archive, page {number}</h1><p>Nothing was published on this day.</p>"
        f'<nav class="pagination"><a rel="next" href="{nxt}">Older posts</a></nav>'
        f"</main></body></html>\n"
    )
    return _Reply(200, {"Content-Type": "text/html; charset=utf-8"}, html.encode())


def _split_url(url: str) -> tuple[str, str]:
    """(lower-cased host without port, path+query) of an absolute URL."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return host, target


def _override_key(target: str) -> str:
    """Overrides ignore a trailing slash on the path but keep the query."""
    parts = urlsplit(target)
    return (parts.path.rstrip("/") or "/") + (f"?{parts.query}" if parts.query else "")


def _content_type_for(rel: str, declared: str | None, charset: str = "utf-8") -> str:
    if declared is None:
        declared = _CONTENT_TYPES.get(
            posixpath.splitext(rel)[1].lower(), "application/octet-stream"
        )
    if "charset=" in declared:
        return declared
    if declared.startswith("text/") or declared.endswith("xml") or declared.endswith("json"):
        return f"{declared}; charset={charset}"
    return declared


def _charset_of(content_type: str) -> str | None:
    match = re.search(r"charset=([\w-]+)", content_type)
    return match.group(1) if match else None


def _default_date_format(content_type: str) -> str:
    """RSS speaks RFC 822 dates; Atom, sitemaps and HTML metadata speak ISO 8601."""
    return "rfc822" if "rss" in content_type else "iso"


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:20] + '"'


def _not_modified(page: Page, headers: dict[str, str]) -> bool:
    """RFC 9110 precedence: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or page.etag in tags
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return page.last_modified <= since


def _text_reply(status: int, text: str, content_type: str = "text/plain") -> _Reply:
    return _Reply(status, {"Content-Type": f"{content_type}; charset=utf-8"}, text.encode())


def _float_param(query: dict[str, list[str]], name: str, default: float) -> float:
    try:
        return float(query[name][0])
    except (KeyError, IndexError, ValueError):
        return default


def main(argv: list[str] | None = None) -> int:
    """Serve the fixture site in the foreground until Ctrl-C (``python -m tests.site.server``)."""
    parser = argparse.ArgumentParser(description="Serve the dramawatch fixture news site.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any)")
    parser.add_argument("--now", help="ISO 8601 instant for date placeholders (default: now)")
    parser.add_argument("--slow-delay", type=float, default=3.0, help="seconds /slow waits")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else None
    site = FixtureSite(now=now, port=args.port, slow_delay=args.slow_delay)
    with site:
        print(f"fixture site: export http_proxy={site.proxy_url}", flush=True)
        print(f"now = {site.now.isoformat()}; hosts: {', '.join(site.hosts)}", flush=True)
        print(f"try: curl -x {site.proxy_url} http://kwave.test/feed/", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
