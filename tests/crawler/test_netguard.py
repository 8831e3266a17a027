"""Links from the web cannot reach into the user's network (issue 11, item 8: SSRF).

The pure classification (scraper.core.netguard) is tested directly. The crawl tests run the
real command line on the fixture site's ``tipwire.test``, a public-looking aggregator served
through the loopback proxy whose feed links and redirects point at loopback, LAN, CGNAT and
metadata addresses: none of them may be fetched, and each is reported once. Nothing here ever
sends a byte to a non-loopback address: with the guard off, the links point at a loopback
server this module starts.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any, cast

import pytest
from scrapy.resolver import dnscache
from twisted.python.failure import Failure

from scraper.core.netguard import REFUSED_REASON, host_address, is_private_host, is_public_address
from scraper.crawler.netguard import GuardedResolver, PrivateAddressResolved
from tests.conftest import dramawatch, make_config
from tests.e2e.test_cli import call_cli
from tests.site import FAULTS_CONFIG, FixtureSite

T = "http://tipwire.test"
TIPWIRE_SOURCE = (
    f'[[sources]]\nname = "Tip Wire"\nfeeds = ["{T}/feed.xml"]\nsitemaps = ["{T}/sitemap.xml"]\n'
)
# every private link and redirect target of tipwire.test/feed.xml
REFUSED = {
    "http://127.0.0.1/admin/",
    "http://192.168.1.1/cgi-bin/status",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::ffff:127.0.0.1]/server-status",
    "http://2130706433/",
    "http://100.64.0.1/",
    "http://localhost/debug",
    "http://169.254.169.254/latest/user-data",
    "http://10.0.0.7/intranet/",
    "http://127.0.0.1:9/",
    # from its sitemap index and sitemap
    "http://10.0.0.8/sitemap-internal.xml",
    "http://172.16.5.5/wiki/",
    "http://[fd00::5]/notes",
}
ARTICLE = f"{T}/2026/queen-of-tears-table-read"
PUBLISHED = "Thu, 01 Jan 2026 00:00:00 GMT"  # the crawls here set no age limit


# ---------------------------------------------------------------- the pure classification


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.10",
        "0.0.0.0",
        "10.0.0.7",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # CGNAT
        "100.127.255.254",
        "192.0.0.8",
        "198.18.0.1",
        "192.0.2.1",
        "224.0.0.251",
        "255.255.255.255",
        "::1",
        "[::1]",
        "::",
        "::ffff:127.0.0.1",
        "[::ffff:169.254.169.254]",
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "[fe80::1%25eth0]",
        "ff02::1",
        "2001:db8::1",
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f000001",  # ... as one hex number
        "0177.0.0.1",  # ... in octal
        "0x7f.1",  # ... hex, two parts
        "127.1",
        "0xa9.0xfe.0xa9.0xfe",  # 169.254.169.254 in hex
        "3232235777",  # 192.168.1.1
        "127.0.0.1.",  # fully qualified
        "localhost",
        "LOCALHOST.",
        "admin.localhost",
    ],
)
def test_private_hosts_are_private(host: str) -> None:
    assert is_private_host(host) is True
    in_url = f"[{host}]" if ":" in host and not host.startswith("[") else host
    assert is_private_host(f"http://{in_url}:8080/path") is True


@pytest.mark.parametrize(
    "host",
    ["8.8.8.8", "93.184.216.34", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "134744072"],
)
def test_public_addresses_are_public(host: str) -> None:
    assert is_private_host(host) is False


@pytest.mark.parametrize(
    "host", ["kwave.test", "example.com", "1.2.3.4.5", "08.1.1.1", "localhost.example"]
)
def test_names_are_left_to_the_resolver(host: str) -> None:
    assert host_address(host) is None
    assert is_private_host(host) is None


def test_literal_forms_read_as_inet_aton_reads_them() -> None:
    for written, meant in [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("[::FFFF:7F00:1]", "::ffff:127.0.0.1"),
    ]:
        assert host_address(written) == ip_address(meant), written
    assert host_address("256.1.1.1") is None
    assert host_address("1.2.3.4294967296") is None


def test_resolved_addresses_are_judged_alike() -> None:
    assert not is_public_address(ip_address("127.0.0.1"))
    assert not is_public_address(ip_address("::ffff:192.168.0.10"))
    assert is_public_address(ip_address("2a00:1450:4001::200e"))


# ---------------------------------------------------------------- the resolver, when connecting


@pytest.fixture
def cached_names() -> Iterator[dict[str, str]]:
    """Answers put in Scrapy's DNS cache, the resolver's first source (removed afterwards)."""
    answers = {"rebound.test": "10.0.0.9", "lan-feed.test": "192.168.1.20", "cdn.test": "8.8.4.4"}
    for name, address in answers.items():
        dnscache[name] = address
    yield answers
    for name in answers:
        dnscache.pop(name, None)


def _answer(resolver: GuardedResolver, name: str) -> str | Failure:
    outcome: list[str | Failure] = []
    resolver.getHostByName(name).addBoth(outcome.append)  # a cache hit answers at once
    return outcome[0]


def test_a_name_resolving_privately_is_refused_when_connecting(
    cached_names: dict[str, str],
) -> None:
    resolver = GuardedResolver(cast(Any, None), 100, 5.0, approved={"lan-feed.test"})
    refused = _answer(resolver, "rebound.test")
    assert isinstance(refused, Failure) and refused.check(PrivateAddressResolved)
    assert resolver.refused == {"rebound.test"}
    assert _answer(resolver, "lan-feed.test") == "192.168.1.20"  # the guard let it through
    assert _answer(resolver, "cdn.test") == "8.8.4.4"
    resolver.approve("Rebound.test")
    assert _answer(resolver, "rebound.test") == "10.0.0.9"
    lifted = GuardedResolver(cast(Any, None), 100, 5.0, enabled=False)
    assert _answer(lifted, "rebound.test") == "10.0.0.9"


# ---------------------------------------------------------------- a loopback server of our own


@dataclass
class LoopbackServer:
    """A plain HTTP server on 127.0.0.1 (no proxy): a LAN outlet, reached directly."""

    server: ThreadingHTTPServer
    hits: list[str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _story(title: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        '<meta property="article:published_time" content="2026-01-01T00:00:00Z"></head>'
        f"<body><main><article><h1>{title}</h1>"
        "<p>Kim Soo-hyun and Kim Ji-won read the new Queen of Tears special together in a small "
        "rehearsal room, and the writer took notes on every line they changed.</p>"
        "<p>The crew said the special would be filmed in the same village as the series, with "
        "the same cast, over two weeks next spring, if the weather allows it.</p>"
        "</article></main></body></html>"
    )


@pytest.fixture(scope="module")
def lan() -> Iterator[LoopbackServer]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            port = self.server.server_address[1]
            pages = {
                "/stories/a": ("text/html", _story("Kim Soo-hyun reads the special, part one")),
                "/stories/b": ("text/html", _story("Kim Ji-won reads the special, part two")),
                "/feed.xml": ("application/rss+xml", _feed(f"http://127.0.0.1:{port}")),
            }
            if self.path == "/hop":
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{port}/stories/b")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path not in pages:
                self.send_error(404)
                return
            content_type, text = pages[self.path]
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LoopbackServer(server, hits)
    server.shutdown()
    server.server_close()


def _feed(base: str) -> str:
    """A feed linking one loopback story directly and one through a redirect to localhost."""
    items = "".join(
        f"<item><title>t</title><link>{link}</link><pubDate>{PUBLISHED}</pubDate></item>"
        for link in (f"{base}/stories/a", f"{base}/hop")
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>LAN</title>'
        f"<link>{base}/</link>{items}</channel></rss>"
    )


# ---------------------------------------------------------------- crawls


@dataclass(frozen=True)
class Crawl:
    database: Path
    stderr: str
    returncode: int
    requested_hosts: set[str]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database) as db:
            return db.execute(sql).fetchall()

    def refusals(self) -> list[str]:
        rows = self.query("SELECT url, reason FROM crawl_errors ORDER BY id")
        return [url for url, reason in rows if reason == REFUSED_REASON]


def _config(directory: Path, sources: str, **crawl: object) -> Path:
    config = make_config(
        directory, base=FAULTS_CONFIG, max_age_days=0, max_pages_per_source=50, **crawl
    )
    head = config.read_text(encoding="utf-8").split("[[sources]]")[0]
    config.write_text(head + sources, encoding="utf-8")
    return config


def _crawl(config: Path, site: FixtureSite, **env: str) -> Crawl:
    site.clear_log()
    result = dramawatch(config, "crawl", site=site, **env)
    return Crawl(
        config.parent / "archive.db",
        result.stderr,
        result.returncode,
        {record.host for record in site.access_log},
    )


def _own_name() -> str | None:
    """This machine's name, when it resolves here to a private address (loopback via
    /etc/hosts on most machines): a name the guard must resolve to refuse."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        return None
    private = all(not is_public_address(ip_address(str(a).split("%")[0])) for a in addresses)
    return name.lower() if private and is_private_host(name) is None else None


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Crawl, str | None]]:
    directory = tmp_path_factory.mktemp("netguard")
    with FixtureSite() as site:
        own = _own_name()
        if own is not None:
            item = f"<item><title>own</title><link>http://{own}/status</link></item>"
            site.replace_text(f"{T}/feed.xml", "</channel>", item + "</channel>")
        yield _crawl(_config(directory, TIPWIRE_SOURCE), site), own


def test_private_links_and_redirect_targets_are_never_requested(
    guarded: tuple[Crawl, str | None],
) -> None:
    crawl, own = guarded
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    # through the proxy, only the aggregator itself was asked for anything
    assert crawl.requested_hosts == {"tipwire.test"}
    stored = {url for (url,) in crawl.query("SELECT canonical_url FROM articles")}
    assert stored == {ARTICLE}


def test_each_refusal_is_reported_once(guarded: tuple[Crawl, str | None]) -> None:
    crawl, own = guarded
    expected = REFUSED | ({f"http://{own}/status"} if own else set())
    refusals = crawl.refusals()
    assert sorted(refusals) == sorted(expected)  # a list: a URL reported twice would show
    log = (crawl.database.parent / "data" / "dramawatch.log").read_text(encoding="utf-8")
    assert log.count(f"{REFUSED_REASON}: ") == len(expected)
    runs = call_cli(crawl.database.parent / "dramawatch.toml", "runs", "--format", "json")
    assert runs.code == 0, runs
    errors = json.loads(runs.stdout)[0]["errors"]
    assert sorted(e["url"] for e in errors if e["reason"] == REFUSED_REASON) == sorted(expected)


def test_a_lan_source_may_link_to_its_own_network(
    lan: LoopbackServer, tmp_path: Path, site: FixtureSite
) -> None:
    lan.hits.clear()
    source = f'[[sources]]\nname = "LAN Wire"\nfeeds = ["{lan.base}/feed.xml"]\n'
    crawl = _crawl(
        _config(tmp_path, source),
        site,
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    assert {"/robots.txt", "/feed.xml", "/stories/a", "/hop", "/stories/b"} <= set(lan.hits)
    assert crawl.refusals() == []
    log = (tmp_path / "data" / "dramawatch.log").read_text(encoding="utf-8")
    assert REFUSED_REASON not in log


def test_allow_private_networks_lifts_the_guard(
    lan: LoopbackServer, tmp_path: Path, site: FixtureSite
) -> None:
    lan.hits.clear()
    site.set_page(
        f"{T}/feed.xml",
        _feed(lan.base),
        content_type="application/rss+xml; charset=utf-8",
    )
    config = _config(tmp_path, TIPWIRE_SOURCE, allow_private_networks=True)
    crawl = _crawl(config, site, no_proxy="127.0.0.1,localhost", NO_PROXY="127.0.0.1,localhost")
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    assert {"/stories/a", "/hop", "/stories/b"} <= set(lan.hits)
    assert crawl.refusals() == []
