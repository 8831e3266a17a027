"""Keep or reject: the one decision whether an article is stored, and for which watch entries.

The crawl's ``MatchPipeline``, ``dramawatch inspect`` and ``dramawatch rematch`` all call
:func:`judge`, so what the crawl stores, what inspect explains and what a rematch keeps can
never disagree.

An article is stored when at least one watch entry it names still counts after that entry's
rules:

- ``exclude``: the article names none of these phrases;
- ``context``: the article names one of these phrases, or another watch entry that counts;
- ``sources``: the article comes from one of these configured sources;
- ``languages``: the article's language (ISO 639-1, as extraction reports it) is listed. An
  article whose language was not detected passes: 27 of the 178 real pages of
  ``../shared/realpages`` that extract (15%, nearly all English) declare none, and a rule meant
  to drop other languages must not drop those.

Entries that pass exclude, sources and languages and need no context (or name a context phrase)
count first; an entry waiting for context then counts if any of those does, so two namesakes
that are each other's only context do not prop each other up. When an entry does not count,
the reported rule is the first that fails in the order above: what the article is about
explains more than where it comes from. Before any of that, two filters reject the article
whatever it names: a muted source, and a canonical URL on a muted domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from scraper.core.match import (
    Matcher,
    Mention,
    PhraseMatcher,
    WatchEntryLike,
    compile_phrases,
    compile_watchlist,
)
from scraper.core.urls import on_domains

__all__ = [
    "ArticleFacts",
    "Exclusion",
    "Rules",
    "Verdict",
    "WatchRuleLike",
    "compile_rules",
    "judge",
    "matched_text",
]

NO_MENTION = "no watched name in the title or article text"


class WatchRuleLike(WatchEntryLike, Protocol):
    """A watch entry with its rules (``config.WatchEntry`` qualifies)."""

    @property
    def context(self) -> Sequence[str]: ...

    @property
    def exclude(self) -> Sequence[str]: ...

    @property
    def sources(self) -> Sequence[str]: ...

    @property
    def languages(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class _EntryRules:
    name: str
    context: PhraseMatcher | None
    exclude: PhraseMatcher | None
    sources: tuple[str, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    """A compiled watch list with every entry's rules and the global filters."""

    matcher: Matcher
    entries: tuple[_EntryRules, ...]
    mute_sources: frozenset[str] = frozenset()
    mute_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArticleFacts:
    """What the decision looks at: the extracted title and text, where the article comes from
    (``source`` None: not known, as for ``inspect`` of a file), its language and canonical URL."""

    title: str
    text: str
    source: str | None
    language: str | None
    canonical_url: str | None


@dataclass(frozen=True)
class Exclusion:
    """A watch entry the article names that does not count: which rule, and why."""

    name: str
    rule: str  # sources | languages | exclude | context
    detail: str


@dataclass(frozen=True)
class Verdict:
    """The decision: ``counted`` are the mentions to store (the article's ``entities``);
    ``named`` every watch entry found, counted or not."""

    stored: bool
    reason: str
    named: tuple[Mention, ...]
    counted: tuple[Mention, ...]
    excluded: tuple[Exclusion, ...]


def matched_text(title: str, text: str) -> str:
    """Give the string watch-list spans index: the title, a blank line, the text."""
    return f"{title}\n\n{text}"


def compile_rules(
    watch: Iterable[WatchRuleLike],
    *,
    mute_sources: Iterable[str] = (),
    mute_domains: Iterable[str] = (),
) -> Rules:
    """Return the compiled Rules of a watch list and filters (domains already normalised).

    Raises ``match.WatchListError`` for a name or phrase with nothing to match."""
    entries = tuple(watch)
    return Rules(
        matcher=compile_watchlist(entries),
        entries=tuple(
            _EntryRules(
                name=entry.name,
                context=compile_phrases(entry.context) if entry.context else None,
                exclude=compile_phrases(entry.exclude) if entry.exclude else None,
                sources=tuple(entry.sources),
                languages=tuple(entry.languages),
            )
            for entry in entries
        ),
        mute_sources=frozenset(mute_sources),
        mute_domains=tuple(mute_domains),
    )


def judge(rules: Rules, article: ArticleFacts) -> Verdict:
    """Return whether ``article`` is stored, the mentions that count, and why others do not."""
    if article.source is not None and article.source in rules.mute_sources:
        return Verdict(False, f"source {article.source!r} is muted", (), (), ())
    url = article.canonical_url
    muted = [domain for domain in rules.mute_domains if url and on_domains(url, [domain])]
    if muted:
        return Verdict(False, f"the canonical URL is on the muted domain {muted[0]}", (), (), ())
    combined = matched_text(article.title, article.text)
    named = tuple(rules.matcher.find(combined))
    if not named:
        return Verdict(False, NO_MENTION, (), (), ())
    found = {mention.entity for mention in named}
    entries = [entry for entry in rules.entries if entry.name in found]
    rejected = {entry.name: _rejection(entry, article, combined) for entry in entries}
    passing = [entry for entry in entries if rejected[entry.name] is None]
    counted = {
        entry.name
        for entry in passing
        if entry.context is None or entry.context.first(combined) is not None
    }
    if counted:  # any entry counting already is "another watch entry" for the rest
        counted.update(entry.name for entry in passing)
    excluded: dict[str, Exclusion] = {}
    for entry in entries:
        if entry.name in counted:
            continue
        exclusion = rejected[entry.name]
        if exclusion is None or exclusion.rule != "exclude":
            # what the article is about is the first thing to explain, then where it is from
            exclusion = _missing_context(entry, combined, bool(counted)) or exclusion
        if exclusion is not None:
            excluded[entry.name] = exclusion
    kept = tuple(mention for mention in named if mention.entity in counted)
    dropped = tuple(excluded[m.entity] for m in named if m.entity in excluded)
    if not kept:
        why = "; ".join(f"{e.name}: {e.detail}" for e in dropped)
        return Verdict(False, f"no watch entry counts after its rules ({why})", named, (), dropped)
    reason = "mentions " + ", ".join(mention.entity for mention in kept)
    return Verdict(True, reason, named, kept, dropped)


def _missing_context(entry: _EntryRules, combined: str, others: bool) -> Exclusion | None:
    """Give the context Exclusion of ``entry`` when it needs context the article lacks."""
    if entry.context is None or others or entry.context.first(combined) is not None:
        return None
    terms = ", ".join(entry.context.phrases)
    return Exclusion(
        entry.name, "context", f"no context term (needs one of: {terms}, or another watch entry)"
    )


def _rejection(entry: _EntryRules, article: ArticleFacts, combined: str) -> Exclusion | None:
    """Give the Exclusion of the first of exclude, sources, languages that ``entry`` fails."""
    if entry.exclude is not None:
        hit = entry.exclude.first(combined)
        if hit is not None:
            phrase, (start, end) = hit
            return Exclusion(
                entry.name,
                "exclude",
                f"names the excluded {phrase!r} ({combined[start:end]!r} at {start})",
            )
    if entry.sources and article.source not in entry.sources:
        return _not_listed(entry.name, "sources", "source", article.source, entry.sources)
    if entry.languages and article.language and article.language not in entry.languages:
        return _not_listed(entry.name, "languages", "language", article.language, entry.languages)
    return None


def _not_listed(
    name: str, rule: str, what: str, value: str | None, wanted: Sequence[str]
) -> Exclusion:
    """Give the Exclusion of an article whose source or language is not among ``wanted``."""
    listed = ", ".join(wanted)
    if value:
        return Exclusion(name, rule, f"{what} {value} is not one of: {listed}")
    return Exclusion(name, rule, f"{what} unknown (needs one of: {listed})")
