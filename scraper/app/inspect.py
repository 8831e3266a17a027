"""``dramawatch inspect``: one page through extraction and matching, nothing stored."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from w3lib.encoding import html_to_unicode

from scraper.config import Config
from scraper.core.extract import Rejected, extract
from scraper.core.urls import same_site
from scraper.core.verdict import ArticleFacts, judge, matched_text
from scraper.crawler.pipelines import canonical_url, watch_rules
from scraper.crawler.settings import USER_AGENT


def fetch(target: str, timeout: float) -> tuple[str, str]:
    """Give (url, html) for a URL (honouring http_proxy) or a local file."""
    if target.startswith(("http://", "https://")):
        request = urllib.request.Request(target, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(8 * 1024 * 1024)
            content_type = response.headers.get("Content-Type")
            url = response.geturl()
    else:
        path = Path(target)
        body, content_type, url = path.read_bytes(), None, path.resolve().as_uri()
    return url, decode(body, content_type)


def decode(body: bytes, content_type: str | None) -> str:
    """Give a page's text, from its Content-Type charset, BOM or <meta charset>, as Scrapy does."""
    charset = None
    if content_type and "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip()
    _, html = html_to_unicode(f"charset={charset}" if charset else None, body)
    return html


def source_of(config: Config, url: str) -> str | None:
    """Give the configured source whose feeds, sitemaps or pages are on ``url``'s site."""
    for source in config.sources:
        if any(same_site(url, entry) for entry in (*source.feeds, *source.sitemaps, *source.pages)):
            return source.name
    return None


def inspect_target(
    config: Config, target: str, now: datetime | None = None, source: str | None = None
) -> dict[str, Any]:
    """Give the inspect report: extracted fields, matched names with spans, and the verdict.

    ``source`` is the configured source the page counts as coming from (default: the one on
    the page's site); watch rules with ``sources`` need it."""
    url, html = fetch(target, config.crawl.timeout_s)
    result = extract(html, url)
    report: dict[str, Any] = {
        "title": None,
        "published_at": None,
        "author": None,
        "language": None,
        "canonical_url": None,
        "text": None,
        "entities": [],
        "stored": False,
        "reason": "",
        "excluded": [],
    }
    if isinstance(result, Rejected):
        report["reason"] = f"not an article: {result.reason}"
        return report
    report.update(
        title=result.title,
        published_at=result.published_at.isoformat() if result.published_at else None,
        author=result.author,
        language=result.language,
        canonical_url=result.canonical_url,
        text=result.text,
    )
    combined = matched_text(result.title, result.text)
    verdict = judge(
        watch_rules(config),
        ArticleFacts(
            title=result.title,
            text=result.text,
            source=source or source_of(config, url),
            language=result.language,
            canonical_url=canonical_url(url, result.canonical_url),
        ),
    )
    report["entities"] = [
        {
            "name": m.entity,
            "spans": [{"start": a, "end": b, "text": combined[a:b]} for a, b in m.spans],
        }
        for m in verdict.counted
    ]
    named = {m.entity: len(m.spans) for m in verdict.named}
    report["excluded"] = [
        {"name": e.name, "rule": e.rule, "detail": e.detail, "named": named[e.name]}
        for e in verdict.excluded
    ]
    now = now or datetime.now(UTC)
    days = config.crawl.max_age_days
    if not verdict.stored:
        report["reason"] = verdict.reason
    elif days and result.published_at and result.published_at < now - timedelta(days=days):
        age = (now - result.published_at).days
        report["reason"] = f"published {age} days ago, older than max_age_days = {days}"
    else:
        report["stored"] = True
        report["reason"] = verdict.reason
    return report
