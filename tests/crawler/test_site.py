"""The fixture news site itself: proxy mechanics, conditional GET, faults, golden content."""

from __future__ import annotations

import gzip
import http.client
import itertools
import json
import re
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin
from urllib.robotparser import RobotFileParser

import feedparser
import pytest

from tests.site import CONFIG, EXPECTED, FAULTS_CONFIG, SITE_DIR, FixtureSite
from tests.site.server import Page, format_date, parse_offset, render_dates

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
GOLDEN: dict[str, Any] = json.loads(EXPECTED.read_text("utf-8"))
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


@pytest.fixture(autouse=True)
def _no_proxy_bypass(monkeypatch: pytest.MonkeyPatch) -> None:
    """A no_proxy in the environment must not send *.test requests around the proxy."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureSite]:
    with FixtureSite(now=NOW, slow_delay=0.3) as running:
        yield running


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def fetch(
    site: FixtureSite,
    target: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    timeout: float = 5,
) -> Reply:
    """One request through http.client, no redirect following (absolute URL = proxy style)."""
    conn = http.client.HTTPConnection(*site.address, timeout=timeout)
    try:
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def get(site: FixtureSite, url: str) -> tuple[str, bytes]:
    """GET through urllib's proxy support, following redirects: (final URL, body)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": site.proxy_url}))
    with opener.open(url, timeout=5) as resp:
        return resp.geturl(), resp.read()


# -- proxy mechanics -------------------------------------------------------------------------------


def test_absolute_uri_request_line_selects_the_virtual_host(site: FixtureSite) -> None:
    reply = fetch(site, "http://kwave.test/feed/")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert b"<title>K-Wave Daily</title>" in reply.body


def test_plain_path_with_host_header_selects_the_virtual_host(site: FixtureSite) -> None:
    reply = fetch(site, "/robots.txt", headers={"Host": "dramabeat.test:80"})
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert "Disallow: /api/" in reply.text


def test_unknown_host_is_never_forwarded(site: FixtureSite) -> None:
    reply = fetch(site, "http://example.com/")
    assert reply.status == 502
    assert "no internet" in reply.text


def test_mobile_host_serves_the_same_article_with_a_desktop_canonical(site: FixtureSite) -> None:
    path = "/news/kim-ji-won-says-goodbye-to-hong-hae-in/"
    mobile = fetch(site, f"http://m.kwave.test{path}")
    desktop = fetch(site, f"http://kwave.test{path}")
    assert mobile.status == desktop.status == 200
    assert mobile.body == desktop.body
    assert f'<link rel="canonical" href="http://kwave.test{path}">' in mobile.text


def test_query_and_trailing_slash_variants_serve_the_same_page(site: FixtureSite) -> None:
    canonical = "http://kwave.test/news/kim-soo-hyun-sings-for-queen-of-tears-ost/"
    bodies = {
        fetch(site, url).body
        for url in (canonical, canonical.rstrip("/"), canonical + "?utm_source=rss&utm_medium=rss")
    }
    assert len(bodies) == 1


def test_amp_page_points_back_at_the_article(site: FixtureSite) -> None:
    canonical = "http://kwave.test/news/park-sung-hoon-on-playing-yoon-eun-sung/"
    amp = fetch(site, canonical + "amp/")
    article = fetch(site, canonical)
    assert amp.status == 200 and amp.body != article.body
    assert f'<link rel="canonical" href="{canonical}">' in amp.text
    assert f'<link rel="amphtml" href="{canonical}amp/">' in article.text


def test_query_routes_identify_korean_cms_articles(site: FixtureSite) -> None:
    first = fetch(site, "http://yeonye.test/news/articleView.html?idxno=30211")
    second = fetch(site, "http://yeonye.test/news/articleView.html?idxno=30214")
    assert first.status == second.status == 200
    assert "김수현" in first.text and first.body != second.body
    assert fetch(site, "http://yeonye.test/news/articleView.html?idxno=1").status == 404


def test_private_files_and_path_escapes_are_not_served(site: FixtureSite) -> None:
    assert fetch(site, "http://kwave.test/_site.json").status == 404
    assert fetch(site, "http://kwave.test/../_hosts.json").status == 404


def test_head_sends_headers_without_body(site: FixtureSite) -> None:
    reply = fetch(site, "http://dramabeat.test/feeds/latest.atom", method="HEAD")
    assert reply.status == 200 and reply.body == b""
    assert int(reply.headers["content-length"]) > 1000


def test_gzip_sitemap_is_the_plain_sitemap_compressed(site: FixtureSite) -> None:
    packed = fetch(site, "http://seoulscreen.test/sitemaps/pages.xml.gz")
    plain = fetch(site, "http://seoulscreen.test/sitemaps/pages.xml")
    assert packed.headers["content-type"] == "application/gzip"
    assert gzip.decompress(packed.body) == plain.body


# -- conditional GET -------------------------------------------------------------------------------


def test_every_static_response_has_validators_and_answers_304(site: FixtureSite) -> None:
    url = "http://seoulscreen.test/sitemap.xml"
    first = fetch(site, url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert parsedate_to_datetime(modified) == NOW

    by_etag = fetch(site, url, {"If-None-Match": etag})
    assert (by_etag.status, by_etag.body, by_etag.headers["etag"]) == (304, b"", etag)
    assert fetch(site, url, {"If-None-Match": f'W/"x", {etag}'}).status == 304
    assert fetch(site, url, {"If-Modified-Since": modified}).status == 304
    earlier = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert fetch(site, url, {"If-Modified-Since": earlier}).status == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110).
    assert (
        fetch(site, url, {"If-None-Match": '"stale"', "If-Modified-Since": modified}).status == 200
    )


def test_set_page_changes_validators_so_conditional_gets_see_the_change() -> None:
    url = "http://dramabeat.test/articles/20430-kim-soo-hyun-shares-unseen-yongdu-ri-photos"
    with FixtureSite(now=NOW) as fresh:
        before = fetch(fresh, url)
        fresh.replace_text(url, "a peace sign", "a thumbs-up")
        after = fetch(fresh, url, {"If-None-Match": before.headers["etag"]})
        assert after.status == 200 and "a thumbs-up" in after.text
        assert after.headers["etag"] != before.headers["etag"]
        assert parsedate_to_datetime(after.headers["last-modified"]) > NOW
        assert fetch(fresh, url, {"If-None-Match": after.headers["etag"]}).status == 304
        fresh.reset()
        assert fetch(fresh, url).body == before.body
        with pytest.raises(ValueError):
            fresh.replace_text(url, "not in the page", "x")


# -- dates -----------------------------------------------------------------------------------------


def test_offsets_and_formats() -> None:
    assert parse_offset("-2d3h") == -timedelta(days=2, hours=3)
    assert parse_offset("+90m") == timedelta(minutes=90)
    assert parse_offset("now") == timedelta(0)
    with pytest.raises(ValueError):
        parse_offset("-")
    assert format_date(NOW, "rfc822") == "Mon, 04 May 2026 09:30:00 GMT"
    assert format_date(NOW, "rfc822-kst") == "Mon, 04 May 2026 18:30:00 +0900"
    assert format_date(NOW, "iso") == "2026-05-04T09:30:00+00:00"
    assert format_date(NOW, "iso-kst") == "2026-05-04T18:30:00+09:00"
    assert format_date(NOW, "human") == "May 4, 2026"
    assert render_dates("<d>{{date:-1d}}</d>", NOW, "iso") == "<d>2026-05-03T09:30:00+00:00</d>"
    with pytest.raises(ValueError):
        format_date(NOW, "nope")


def test_served_files_carry_no_unrendered_placeholders(site: FixtureSite) -> None:
    hosts = SITE_DIR / "hosts"
    for path in sorted(hosts.glob("*/**/*")):
        if not path.is_file() or path.name.startswith("_"):
            continue
        host, rel = path.relative_to(hosts).parts[0], "/".join(path.relative_to(hosts).parts[1:])
        reply = fetch(site, f"http://{host}/{rel}")
        assert reply.status == 200, rel
        assert b"{{" not in reply.body, rel


def test_dates_render_against_the_fixed_now(site: FixtureSite) -> None:
    rss = feedparser.parse(fetch(site, "http://kwave.test/feed/").body)
    pub = {e.link.split("?")[0]: parsedate_to_datetime(e.published) for e in rss.entries}
    assert pub["http://kwave.test/news/kim-soo-hyun-sings-for-queen-of-tears-ost/"] == site.date(
        "-1d2h"
    )
    atom = fetch(site, "http://dramabeat.test/feeds/latest.atom").text
    assert f"<published>{site.date('-2d2h'):%Y-%m-%dT%H:%M:%SZ}</published>" in atom
    news = ET.fromstring(fetch(site, "http://seoulscreen.test/sitemaps/news.xml").body)
    stamp = news.find(f"{SITEMAP_NS}url/{NEWS_NS}news/{NEWS_NS}publication_date")
    assert stamp is not None and stamp.text is not None
    assert datetime.fromisoformat(stamp.text) == site.date("-1d")
    assert stamp.text.endswith("+09:00")
    assert (
        fetch(site, "http://kwave.test/feed/").body == fetch(site, "http://kwave.test/feed/").body
    )


# -- robots and redirects --------------------------------------------------------------------------


def test_robots_disallows_exactly_one_article(site: FixtureSite) -> None:
    robots = RobotFileParser()
    robots.parse(fetch(site, "http://seoulscreen.test/robots.txt").text.splitlines())
    blocked = [e["url"] for e in GOLDEN["not_stored"] if e["reason"] == "robots"]
    assert blocked == ["http://seoulscreen.test/stories/park-sung-hoon-photo-diary"]
    assert not robots.can_fetch("dramawatch", blocked[0])
    allowed = [
        a["canonical_url"] for a in GOLDEN["articles"] if "seoulscreen" in a["canonical_url"]
    ]
    assert allowed and all(robots.can_fetch("dramawatch", url) for url in allowed)


def test_redirects(site: FixtureSite) -> None:
    old = fetch(site, "http://hallyupost.test/news/2024/05/lee-joo-bin-interview.html")
    assert old.status == 301
    assert old.headers["location"] == (
        "http://hallyupost.test/story/lee-joobin-da-hye-was-never-just-the-villain"
    )
    by_id = fetch(site, "http://kwave.test/?p=2041")
    assert by_id.status == 301
    assert by_id.headers["location"].endswith("/news/kim-soo-hyun-sings-for-queen-of-tears-ost/")
    loop_a = fetch(site, "http://faults.test/loop-a")
    loop_b = fetch(site, "http://faults.test/loop-b")
    assert (loop_a.status, loop_a.headers["location"]) == (302, "http://faults.test/loop-b")
    assert (loop_b.status, loop_b.headers["location"]) == (302, "http://faults.test/loop-a")
    with pytest.raises(urllib.error.HTTPError):
        get(site, "http://faults.test/loop-a")


# -- faults.test -----------------------------------------------------------------------------------


def test_flaky_fails_twice_per_server_then_serves_an_article() -> None:
    with FixtureSite(now=NOW) as fresh:
        statuses = [fetch(fresh, "http://faults.test/flaky").status for _ in range(4)]
        assert statuses == [500, 500, 200, 200]
        assert "Kim Ji-won" in fetch(fresh, "http://faults.test/flaky").text
        fresh.reset_faults()
        assert fetch(fresh, "http://faults.test/flaky").status == 500


def test_simple_faults(site: FixtureSite) -> None:
    assert fetch(site, "http://faults.test/missing").status == 404
    empty = fetch(site, "http://faults.test/empty")
    assert (empty.status, empty.body, empty.headers["content-length"]) == (200, b"", "0")
    binary = fetch(site, "http://faults.test/binary")
    assert binary.headers["content-type"].startswith("text/html")
    assert (
        len(binary.body) == 64 * 1024
        and binary.body == fetch(site, "http://faults.test/binary").body
    )
    with pytest.raises(UnicodeDecodeError):
        binary.body.decode("utf-8")


def test_broken_feeds(site: FixtureSite) -> None:
    notxml = fetch(site, "http://faults.test/notxml-feed")
    assert notxml.headers["content-type"].startswith("application/rss+xml")
    assert notxml.body.lstrip().startswith(b"<!DOCTYPE html>")
    truncated = fetch(site, "http://faults.test/truncated-feed.xml")
    with pytest.raises(ET.ParseError):
        ET.fromstring(truncated.body)
    assert feedparser.parse(truncated.body).bozo


def test_euc_kr_page_is_encoded_as_declared(site: FixtureSite) -> None:
    reply = fetch(site, "http://faults.test/euc-kr")
    assert reply.headers["content-type"] == "text/html; charset=euc-kr"
    with pytest.raises(UnicodeDecodeError):
        reply.body.decode("utf-8")
    text = reply.body.decode("euc-kr")
    assert '<meta charset="euc-kr">' in text and "김수현" in text and "눈물의 여왕" in text


def test_huge_page_is_exactly_sized_and_streamed(site: FixtureSite) -> None:
    head = fetch(site, "http://faults.test/huge", method="HEAD")
    assert head.headers["content-length"] == str(15 * 1024 * 1024)
    sized = fetch(site, "http://faults.test/huge?mb=1")
    assert len(sized.body) == 1024 * 1024 and sized.body.endswith(b"</html>\n")
    chunked = fetch(site, "http://faults.test/huge?mb=1&chunked=1")
    assert "content-length" not in chunked.headers and chunked.body == sized.body
    conn = http.client.HTTPConnection(*site.address, timeout=5)
    conn.request("GET", "http://faults.test/huge")
    start = conn.getresponse().read(65536)
    conn.close()
    assert b"Kim Soo-hyun" in start


def test_trap_pages_never_end(site: FixtureSite) -> None:
    for number in (1, 2, 41):
        reply = fetch(site, f"http://faults.test/trap/page/{number}")
        assert reply.status == 200
        assert f'<a rel="next" href="/trap/page/{number + 1}">' in reply.text


def test_slow_and_delay_parameter(site: FixtureSite) -> None:
    started = time.monotonic()
    assert fetch(site, "http://faults.test/slow").status == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert fetch(site, "http://faults.test/slow-feed.xml?delay=0.2").status == 200
    assert 0.2 <= time.monotonic() - started < 2


def test_never_times_the_client_out_and_does_not_block_shutdown() -> None:
    fresh = FixtureSite(now=NOW).start()
    address = fresh.address
    with pytest.raises(TimeoutError):
        fetch(fresh, "http://faults.test/never", timeout=0.3)
    outcome: list[str] = []

    def wait_forever() -> None:
        try:
            fetch(fresh, "http://faults.test/never", timeout=30)
            outcome.append("answered")
        except (http.client.HTTPException, OSError) as exc:
            outcome.append(type(exc).__name__)

    waiter = threading.Thread(target=wait_forever)
    waiter.start()
    time.sleep(0.3)
    started = time.monotonic()
    fresh.stop()
    assert time.monotonic() - started < 2
    waiter.join(timeout=5)
    assert outcome and outcome != ["answered"]
    never = [rec for rec in fresh.access_log if rec.target == "/never"]
    assert never and all(rec.status is None for rec in never)
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=0.5)


# -- access log ------------------------------------------------------------------------------------


def test_access_log_records_requests() -> None:
    with FixtureSite(now=NOW) as fresh:
        url = "http://dramabeat.test/feeds/latest.atom"
        first = fetch(fresh, url, {"User-Agent": "dramawatch-test/1.0"})
        fetch(fresh, url, {"If-None-Match": first.headers["etag"]})
        fetch(fresh, "/robots.txt", {"Host": "yeonye.test"})
        fetch(fresh, "http://kwave.test/feed/?utm_source=x")
        log = fresh.access_log
        assert [(r.host, r.target, r.status) for r in log] == [
            ("dramabeat.test", "/feeds/latest.atom", 200),
            ("dramabeat.test", "/feeds/latest.atom", 304),
            ("yeonye.test", "/robots.txt", 200),
            ("kwave.test", "/feed/?utm_source=x", 200),
        ]
        assert log[0].bytes_sent == len(first.body) and log[1].bytes_sent == 0
        assert log[0].user_agent == "dramawatch-test/1.0"
        assert log[1].if_none_match == first.headers["etag"]
        assert log[0].url == url
        assert fresh.hits(url) == 2
        assert fresh.hits("http://kwave.test/feed/") == 0
        assert fresh.hits("http://kwave.test/feed/?utm_source=x") == 1
        fresh.clear_log()
        assert fresh.access_log == [] and fresh.hits(url) == 0


def test_access_log_counts_the_header_bytes_of_every_answer() -> None:
    with FixtureSite(now=NOW) as fresh:
        conn = socket.create_connection(fresh.address, timeout=5)
        try:
            conn.sendall(b"GET http://dramabeat.test/robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = b""
            while b"\r\n\r\n" not in raw:
                raw += conn.recv(65536)
        finally:
            conn.close()
        (record,) = fresh.access_log
        assert record.header_bytes == raw.index(b"\r\n\r\n") + 4


# -- pages held in memory and hosts answered from code (what the benchmark serves) ---------------


def _memory_page(body: bytes, *, gzipped: bool) -> Page:
    modified = NOW - timedelta(hours=1)
    return Page(
        body, "text/html; charset=utf-8", '"v1"', modified, gzip.compress(body) if gzipped else None
    )


def test_pages_in_memory_are_served_on_hosts_of_their_own() -> None:
    with FixtureSite(now=NOW, hosts_dir=None) as bare:
        bare.add_page(
            "http://bench.test/view.php?idxno=7", _memory_page(b"<p>seven</p>", gzipped=False)
        )
        assert fetch(bare, "http://bench.test/view.php?idxno=7").body == b"<p>seven</p>"
        assert fetch(bare, "http://bench.test/view.php?idxno=8").status == 404
        assert fetch(bare, "http://kwave.test/feed/").status == 502  # no folders served
        again = fetch(bare, "http://bench.test/view.php?idxno=7", {"If-None-Match": '"v1"'})
        assert again.status == 304
        bare.reset()  # memory pages are the site's content, not a test's change
        assert fetch(bare, "http://bench.test/view.php?idxno=7").status == 200
        assert "bench.test" in bare.hosts


def test_a_page_offering_gzip_is_sent_compressed_only_to_clients_that_accept_it() -> None:
    body = b"<p>" + b"compressible " * 200 + b"</p>"
    with FixtureSite(now=NOW, hosts_dir=None) as bare:
        bare.add_page("http://bench.test/a", _memory_page(body, gzipped=True))
        plain = fetch(bare, "http://bench.test/a")
        packed = fetch(bare, "http://bench.test/a", {"Accept-Encoding": "gzip, deflate"})
        assert "content-encoding" not in plain.headers and plain.body == body
        assert packed.headers["content-encoding"] == "gzip" and gzip.decompress(packed.body) == body
        assert packed.headers["vary"] == "Accept-Encoding"
        assert [r.bytes_sent for r in bare.access_log] == [len(body), len(packed.body)]


def test_file_pages_are_never_sent_compressed(site: FixtureSite) -> None:
    reply = fetch(site, "http://kwave.test/feed/", {"Accept-Encoding": "gzip"})
    assert "content-encoding" not in reply.headers and b"<rss" in reply.body


def test_a_coded_host_answers_from_code_and_is_logged() -> None:
    asked: list[str] = []

    def answer(target: str) -> tuple[int, str, bytes]:
        asked.append(target)
        return 200, "application/json", b'{"ok": true}'

    with FixtureSite(now=NOW) as fresh:
        fresh.add_coded_host("Control.Test", answer)
        reply = fetch(fresh, "http://control.test/stats?x=1")
        assert (reply.status, reply.body) == (200, b'{"ok": true}')
        assert asked == ["/stats?x=1"]
        assert [(r.host, r.status) for r in fresh.access_log] == [("control.test", 200)]


def test_module_runs_as_a_command() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.site.server", "--now", NOW.isoformat()],
        cwd=SITE_DIR.parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.search(r"http_proxy=http://127\.0\.0\.1:\d+", line), line
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# -- content ---------------------------------------------------------------------------------------


def golden_urls() -> Iterator[str]:
    for article in GOLDEN["articles"]:
        yield article["canonical_url"]
        yield from article["seen_urls"]
        yield from article["variant_urls"]
        yield from article["redirect_urls"]
    for page in GOLDEN["not_stored"]:
        yield page["url"]


def test_every_golden_url_is_served(site: FixtureSite) -> None:
    for url in golden_urls():
        _, body = get(site, url)
        assert body, url
    for article in GOLDEN["articles"]:
        for url in article["seen_urls"] + article["variant_urls"]:
            _, body = get(site, url)
            link = re.search(rb'<link[^>]*rel="canonical"[^>]*>', body)
            assert link is not None, url
            href = re.search(rb'href="([^"]+)"', link.group(0))
            assert href is not None, url
            assert href.group(1).decode().replace("&amp;", "&") == article["canonical_url"], url
        for url in article["redirect_urls"]:
            assert fetch(site, url).status == 301, url
            assert get(site, url)[0] == article["canonical_url"], url


def discovered_urls(site: FixtureSite, source: dict[str, Any]) -> set[str]:
    """Every link a source's feeds, sitemaps and listing pages (main content) point at."""
    found: set[str] = set()
    for feed_url in source.get("feeds", []):
        parsed = feedparser.parse(fetch(site, feed_url).body)
        assert not parsed.bozo, (feed_url, parsed.get("bozo_exception"))
        found.update(entry.link for entry in parsed.entries)
    queue = list(source.get("sitemaps", []))
    while queue:
        body = fetch(site, queue.pop()).body
        root = ET.fromstring(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
        locs = [loc.text or "" for loc in root.iter(f"{SITEMAP_NS}loc")]
        if root.tag == f"{SITEMAP_NS}sitemapindex":
            queue.extend(locs)
        else:
            found.update(locs)
    follow = re.compile(source["follow"]) if "follow" in source else None
    pages, seen = list(source.get("pages", [])), set()
    while pages:
        page = pages.pop()
        seen.add(page)
        html = fetch(site, page).text
        main = html.split('<div class="main section" id="main">')[1].split("column-right-inner")[0]
        for href in re.findall(r'href="([^"]+)"', main):
            url = urljoin(page, href)
            if follow and follow.search(url):
                pages.extend([] if url in seen else [url])
            elif url not in seen and "/k-drama/" not in url:
                found.add(url)
    return found


def test_sources_discover_exactly_the_golden_pages(site: FixtureSite) -> None:
    by_source: dict[str, set[str]] = {
        s["name"]: discovered_urls(site, s) for s in GOLDEN["sources"]
    }
    for article in GOLDEN["articles"]:
        assert article["seen_urls"][0] in by_source[article["source"]], article["key"]
    for page in GOLDEN["not_stored"]:
        found = any(page["url"] in urls or page["url"] + "/" in urls for urls in by_source.values())
        if page["reason"] == "not-discovered":
            assert not found, page["key"]
        elif page["reason"] != "listing-page":
            assert found or any(page["url"] + "?" in u for u in by_source[page["source"]]), page


def test_feeds_parse(site: FixtureSite) -> None:
    for url in ("http://faults.test/feed.xml", "http://faults.test/slow-feed.xml"):
        assert not feedparser.parse(fetch(site, url).body).bozo
    kwave = feedparser.parse(fetch(site, "http://kwave.test/feed/").body)
    titles = [entry.title for entry in kwave.entries]
    assert any("“Queen of Tears”" in title for title in titles)
    assert all("utm_source=rss" in entry.link for entry in kwave.entries)
    atom = feedparser.parse(fetch(site, "http://dramabeat.test/feeds/latest.atom").body)
    assert atom.version == "atom10" and len(atom.entries) == 6
    assert sum("published" not in entry for entry in atom.entries) == 1


def test_sitemaps_are_well_formed(site: FixtureSite) -> None:
    index = ET.fromstring(fetch(site, "http://seoulscreen.test/sitemap.xml").body)
    assert index.tag == f"{SITEMAP_NS}sitemapindex"
    children = [loc.text or "" for loc in index.iter(f"{SITEMAP_NS}loc")]
    assert len(children) == 2
    for child in children:
        body = fetch(site, child).body
        root = ET.fromstring(gzip.decompress(body) if child.endswith(".gz") else body)
        assert root.tag == f"{SITEMAP_NS}urlset" and len(root) > 0


def test_golden_file_and_config_agree() -> None:
    watch_names = [w["name"] for w in GOLDEN["watch"]]
    assert watch_names == [
        "Queen of Tears",
        "Kim Soo-hyun",
        "Kim Ji-won",
        "Park Sung-hoon",
        "Kwak Dong-yeon",
        "Lee Joo-bin",
        "Park Ji-eun",
    ]
    articles = GOLDEN["articles"]
    assert len({a["canonical_url"] for a in articles}) == len(articles)
    assert all(a["entities"] and set(a["entities"]) <= set(watch_names) for a in articles)
    assert GOLDEN["counts"]["articles_stored"] == len(articles)
    assert GOLDEN["counts"]["stories"] == len(GOLDEN["stories"])
    assert {k for keys in GOLDEN["stories"].values() for k in keys} == {a["key"] for a in articles}
    assert all(parse_offset(a["published_offset"]) > -timedelta(days=6) for a in articles)
    config = tomllib.loads(CONFIG.read_text("utf-8"))
    assert [w["name"] for w in config["watch"]] == watch_names
    assert [w["aliases"] for w in config["watch"]] == [w["aliases"] for w in GOLDEN["watch"]]
    assert config["crawl"]["max_age_days"] == 7 and config["crawl"]["obey_robots"] is True
    assert "faults.test" not in CONFIG.read_text("utf-8")
    golden_sources = [
        {k: v for k, v in s.items() if k not in ("host", "exposes")} for s in GOLDEN["sources"]
    ]
    assert config["sources"] == golden_sources
    faults = tomllib.loads(FAULTS_CONFIG.read_text("utf-8"))
    assert any("faults.test" in url for s in faults["sources"] for url in s.get("feeds", []))


# -- the golden truth is reachable with the pipeline's extractor -----------------------------------

SEPARATORS = r"[\s\-\u2010-\u2015\u00a0\u200b]*"


def mention_patterns() -> list[tuple[str, list[re.Pattern[str]]]]:
    """A small stand-in for scraper/core/match.py's rules, enough to check the golden entities."""

    def pattern(name: str) -> re.Pattern[str]:
        if re.search(r"[\uac00-\ud7a3]", name):
            return re.compile(r"(?<![\uac00-\ud7a3])" + re.escape(name))
        words = SEPARATORS.join(re.escape(part) for part in re.split(r"[\s-]+", name))
        return re.compile(r"(?<!\w)" + words + r"(?:['’]s)?(?!\w)", re.IGNORECASE)

    return [(w["name"], [pattern(w["name"]), *map(pattern, w["aliases"])]) for w in GOLDEN["watch"]]


def shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


def test_golden_entities_and_stories_hold_under_trafilatura(site: FixtureSite) -> None:
    trafilatura = pytest.importorskip("trafilatura")
    patterns = mention_patterns()
    texts: dict[str, str] = {}
    pages = [(a["key"], a["canonical_url"], a["entities"]) for a in GOLDEN["articles"]]
    pages += [
        (p["key"], p["url"], p["text_mentions"])
        for p in GOLDEN["not_stored"]
        if p["text_mentions"] is not None
    ]
    for key, url, expected in pages:
        doc = trafilatura.bare_extraction(
            fetch(site, url).text,
            url=url,
            with_metadata=True,
            include_comments=False,
            deduplicate=False,
            include_tables=False,
        )
        assert doc is not None, key
        title, text = doc.title or "", doc.text or ""
        texts[key] = text
        found = [name for name, pats in patterns if any(p.search(f"{title}\n{text}") for p in pats)]
        assert found == expected, key
    stored = GOLDEN["articles"]
    for keys in GOLDEN["stories"].values():
        for a, b in itertools.combinations(keys, 2):
            assert jaccard(shingles(texts[a]), shingles(texts[b])) >= 0.75, (a, b)
    for a, b in itertools.combinations(stored, 2):
        if a["story"] != b["story"]:
            similarity = jaccard(shingles(texts[a["key"]]), shingles(texts[b["key"]]))
            assert similarity <= 0.1, (a["key"], b["key"])
