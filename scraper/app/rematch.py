"""``dramawatch rematch``: every archived article judged again under today's watch rules.

Runs on the stored title and text (no re-crawl) through the same ``core.verdict.judge`` the
crawl uses. Without ``apply`` nothing is written; with it each batch is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from scraper.config import Config
from scraper.core.verdict import ArticleFacts, Rules, judge
from scraper.crawler.pipelines import watch_rules
from scraper.storage import rematch as archive_rematch
from scraper.storage.articles import MentionRecord
from scraper.storage.engine import Sessions

ChangeKind = Literal["hide", "show", "lose", "gain", "change", "spans"]


@dataclass(frozen=True)
class Change:
    """What today's rules change for one article."""

    article_id: int
    url: str
    source: str
    title: str
    kind: ChangeKind
    before: tuple[str, ...]
    after: tuple[str, ...]
    reason: str
    update: archive_rematch.Rematched

    @property
    def lost(self) -> tuple[str, ...]:
        return tuple(name for name in self.before if name not in self.after)

    @property
    def gained(self) -> tuple[str, ...]:
        return tuple(name for name in self.after if name not in self.before)


@dataclass(frozen=True)
class RematchReport:
    checked: int
    changes: tuple[Change, ...]
    applied: bool

    def count(self, *kinds: ChangeKind) -> int:
        return sum(1 for change in self.changes if change.kind in kinds)


def rematch_article(rules: Rules, article: archive_rematch.ArchivedArticle) -> Change | None:
    """Give what today's rules change for ``article``, or None when its verdict stands."""
    verdict = judge(
        rules,
        ArticleFacts(
            title=article.title,
            text=article.text,
            source=article.source,
            language=article.language,
            canonical_url=article.canonical_url,
        ),
    )
    mentions = tuple(MentionRecord(m.entity, m.spans) for m in verdict.counted)
    before = tuple(m.entity for m in article.mentions)  # a hidden article keeps its own
    after = tuple(m.entity for m in mentions)
    kind: ChangeKind
    if not verdict.stored:
        if article.hidden:
            return None
        kind = "hide"
    elif article.hidden:
        kind = "show"
    elif mentions == article.mentions:
        return None
    elif set(after) < set(before):
        kind = "lose"
    elif set(after) > set(before):
        kind = "gain"
    elif set(after) != set(before):
        kind = "change"
    else:
        kind = "spans"  # same names, other spans (an alias added, say): rewritten silently
    return Change(
        article_id=article.id,
        url=article.canonical_url,
        source=article.source,
        title=article.title,
        kind=kind,
        before=before,
        after=after,
        reason=verdict.reason,
        update=archive_rematch.Rematched(article.id, not verdict.stored, mentions),
    )


def rematch(
    config: Config,
    sessions: Sessions,
    *,
    apply: bool = False,
    batch_size: int = archive_rematch.DEFAULT_BATCH,
) -> RematchReport:
    """Judge every archived article again; with ``apply``, write the changes batch by batch."""
    rules = watch_rules(config)
    changes: list[Change] = []
    checked = 0
    after_id = 0
    while True:
        with sessions.begin() as session:
            batch = archive_rematch.archived_batch(session, after_id, batch_size)
            found = [c for c in (rematch_article(rules, a) for a in batch) if c is not None]
            if apply and found:
                archive_rematch.apply_rematch(session, [change.update for change in found])
        if not batch:
            break
        checked += len(batch)
        after_id = batch[-1].id
        changes.extend(found)
    return RematchReport(checked, tuple(changes), apply)


def change_json(change: Change) -> dict[str, Any]:
    """Give the JSON object of one change (``rematch --format json``)."""
    return {
        "id": change.article_id,
        "url": change.url,
        "source": change.source,
        "title": change.title,
        "change": change.kind,
        "entities_before": list(change.before),
        "entities_after": list(change.after),
        "lost": list(change.lost),
        "gained": list(change.gained),
        "stored": change.kind != "hide",
        "reason": change.reason,
    }


def report_json(report: RematchReport) -> dict[str, Any]:
    """Give the JSON document of a rematch: counts, then one object per changed article."""
    return {
        "applied": report.applied,
        "checked": report.checked,
        "losing_entries": report.count("lose", "change"),
        "gaining_entries": report.count("gain", "change"),
        "no_longer_stored": report.count("hide"),
        "stored_again": report.count("show"),
        "changes": [change_json(change) for change in report.changes],
    }
