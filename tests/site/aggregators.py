"""The fake news.google.com's coded routes: article pages and the link-decoding endpoint.

They answer the way the real ones do (as the googlenewsdecoder package reads them): the RSS
article page ``/rss/articles/<id>`` carries ``data-n-a-sg`` (a signature) and ``data-n-a-ts``
(a timestamp) on a ``c-wiz > div[jscontroller]``; ``POST /_/DotsSplashUi/data/batchexecute``
with ``f.req=[[["Fbv4je", "[\\"garturlreq\\", ctx, id, ts, sg]", null, "generic"]]]`` answers
``)]}'``, a blank line and rows whose ``wrb.fr`` row holds ``["garturlres", URL, 1]``. Ids are
listed with their publisher URLs in ``hosts/news.google.com/_articles.json``; an unknown id's
page is a 404, and a wrong signature gets a row without a URL.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

GOOGLE_NEWS_HOST = "news.google.com"
ARTICLE_PREFIX = "/rss/articles/"
BATCHEXECUTE_PATH = "/_/DotsSplashUi/data/batchexecute"
TIMESTAMP = "1733212800"


def articles(hosts_dir: Path) -> dict[str, str]:
    """The fake's article ids and the publisher URLs they decode to."""
    path = hosts_dir / GOOGLE_NEWS_HOST / "_articles.json"
    return json.loads(path.read_text("utf-8")) if path.exists() else {}


def signature(article_id: str) -> str:
    return "AZ" + hashlib.sha1(f"fixture:{article_id}".encode()).hexdigest()[:30]


def article_page(target: str, known: dict[str, str]) -> tuple[int, str, str] | None:
    """(status, content type, body) for a GET of an article page; None for other targets."""
    path = urlsplit(target).path
    if not path.startswith(ARTICLE_PREFIX):
        return None
    article_id = path[len(ARTICLE_PREFIX) :].strip("/")
    if article_id not in known:
        return 404, "text/html; charset=utf-8", "<!doctype html><title>Error 404</title>\n"
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Google News</title>'
        '</head><body><c-wiz jsrenderer="ARwRbe" class="zQTmif"><div jscontroller="aLI87" '
        f'jsaction="rcuQ6b:npT2md" data-n-a-id="{article_id}" '
        f'data-n-a-sg="{signature(article_id)}" '
        f'data-n-a-ts="{TIMESTAMP}"><p>Opening the article...</p></div></c-wiz></body></html>\n'
    )
    return 200, "text/html; charset=utf-8", body


def batchexecute(target: str, body: bytes, known: dict[str, str]) -> tuple[int, str, str] | None:
    """(status, content type, body) for a POST of the decoding endpoint; None elsewhere."""
    if urlsplit(target).path != BATCHEXECUTE_PATH:
        return None
    try:
        form = parse_qs(body.decode("utf-8"))
        envelope = json.loads(form["f.req"][0])[0][0]
        _, ctx, article_id, timestamp, sg = json.loads(envelope[1])
    except (KeyError, IndexError, ValueError, TypeError, UnicodeDecodeError):
        return 400, "text/html; charset=utf-8", "<!doctype html><title>Error 400</title>\n"
    url = known.get(article_id)
    good = url is not None and sg == signature(article_id) and str(timestamp) == TIMESTAMP
    payload = json.dumps(["garturlres", url, 1]) if good else None
    rows = [
        ["wrb.fr", "Fbv4je", payload, None, None, None if good else [3], "generic"],
        ["di", 12],
        ["af.httprm", 11, "-5515397380465389126", 4],
    ]
    return 200, "application/json; charset=utf-8", ")]}'\n\n" + json.dumps(rows) + "\n"
