"""Watch rules (issue 14): the one verdict, the crawl with and without rules, inspect, rematch."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digests.publish import mention_rows, story_rows
from scraper.app.rematch import rematch
from scraper.config import Config, WatchEntry, load_config
from scraper.core import dedup
from scraper.core.match import compile_watchlist
from scraper.core.verdict import ArticleFacts, compile_rules, judge
from scraper.storage import articles, browse
from scraper.storage import search as archive_search
from scraper.storage.engine import make_engine, session_factory, upgrade
from scraper.storage.models import Article
from tests.conftest import dramawatch, make_config
from tests.site import EXPECTED, SITE_DIR, FixtureSite
from web.app import create_app
from web.feeds import story_entry

RULES_CONFIG = SITE_DIR / "dramawatch.rules.toml"
GOLDEN: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))["rules"]
RULE_LINE = re.compile(
    r"(?m)^(?:(?:context|exclude|sources|languages|mute_sources|mute_domains) = .*|\[filters\])\n"
)
NAMESAKE = "http://goalpost.test/football/kim-ji-won-double-settles-the-derby"
MUTED_HOST = GOLDEN["muted_source_host"]


# ---------------------------------------------------------------- the verdict (pure)

JIWON = WatchEntry(
    "Kim Ji-won",
    "person",
    ("김지원",),
    context=("Queen of Tears", "Hong Hae-in", "tvN"),
    exclude=("Kim Ji-won (footballer)", "FC Seoul"),
    sources=("Drama Wire",),
    languages=("en", "ko"),
)
QUEEN = WatchEntry("Queen of Tears", "drama", ("눈물의 여왕",))
SOOHYUN = WatchEntry("Kim Soo-hyun", "person", ("김수현",))


def facts(
    text: str, source: str | None = "Drama Wire", language: str | None = "en"
) -> ArticleFacts:
    return ArticleFacts("", text, source, language, "http://dramawire.test/news/x")


def counted(text: str, **kwargs: Any) -> list[str]:
    rules = compile_rules([QUEEN, SOOHYUN, JIWON])
    return [m.entity for m in judge(rules, facts(text, **kwargs)).counted]


def test_a_namesake_without_context_does_not_count() -> None:
    rules = compile_rules([QUEEN, SOOHYUN, JIWON])
    verdict = judge(rules, facts("Kim Ji-won scored twice in the derby."))
    assert not verdict.stored and verdict.counted == ()
    assert [(e.name, e.rule) for e in verdict.excluded] == [("Kim Ji-won", "context")]
    assert verdict.excluded[0].detail == (
        "no context term (needs one of: Queen of Tears, Hong Hae-in, tvN, or another watch entry)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Kim Ji-won's letter to HONG HAEIN.",  # case, spacing, possessive: as names match
        "Kim Ji-won joins a TVN show.",
        "김지원이 「눈물의 여왕」 종영 소감을 전했다.",  # Hangul alias + the drama's Hangul alias
    ],
)
def test_context_phrases_match_the_way_names_do(text: str) -> None:
    assert "Kim Ji-won" in counted(text)


def test_another_watch_entry_is_context_and_only_counting_entries_are_listed() -> None:
    assert counted("Kim Soo-hyun and Kim Ji-won film a commercial.") == [
        "Kim Soo-hyun",
        "Kim Ji-won",
    ]
    # Kim Soo-hyun counts here, Kim Ji-won (wrong source) does not: entities lists only the first
    assert counted("Kim Soo-hyun and Kim Ji-won in Queen of Tears.", source="Goalpost") == [
        "Queen of Tears",
        "Kim Soo-hyun",
    ]


def test_two_namesakes_that_are_each_others_only_context_do_not_count() -> None:
    other = WatchEntry("Lee Min-ho", "person", context=("The King",))
    rules = compile_rules([JIWON, other])
    verdict = judge(rules, facts("Kim Ji-won and Lee Min-ho scored in the derby."))
    assert not verdict.stored
    assert [e.rule for e in verdict.excluded] == ["context", "context"]


def test_exclude_wins_over_context_and_needs_word_boundaries() -> None:
    rules = compile_rules([JIWON])
    verdict = judge(rules, facts("FC Seoul's Kim Ji-won joins a tvN show."))
    assert [e.rule for e in verdict.excluded] == ["exclude"]
    assert "'FC Seoul'" in verdict.excluded[0].detail
    assert judge(rules, facts("Kim Ji-won (footballer) on tvN.")).excluded[0].rule == "exclude"
    assert judge(rules, facts("ABCFC Seoulite Kim Ji-won on tvN.")).stored


def test_sources_and_languages() -> None:
    rules = compile_rules([JIWON])
    text = "Kim Ji-won remembers Hong Hae-in."
    assert judge(rules, facts(text)).stored
    assert judge(rules, facts(text, language="ko")).stored
    by_source = judge(rules, facts(text, source="Goalpost Sports")).excluded[0]
    assert (by_source.rule, by_source.detail) == (
        "sources",
        "source Goalpost Sports is not one of: Drama Wire",
    )
    assert judge(rules, facts(text, source=None)).excluded[0].rule == "sources"
    by_language = judge(rules, facts(text, language="es")).excluded[0]
    assert (by_language.rule, by_language.detail) == (
        "languages",
        "language es is not one of: en, ko",
    )
    assert judge(rules, facts(text, language=None)).stored  # undetected: benefit of the doubt


def test_muted_sources_and_domains_reject_whatever_the_article_names() -> None:
    rules = compile_rules([QUEEN], mute_sources=["Spam Wire"], mute_domains=["spam.example"])
    text = "Queen of Tears ending explained."
    assert not judge(rules, facts(text, source="Spam Wire")).stored
    for url in ("http://spam.example/a", "http://news.spam.example/a"):
        verdict = judge(rules, ArticleFacts("", text, "Drama Wire", "en", url))
        assert not verdict.stored and "spam.example" in verdict.reason
    assert judge(
        rules, ArticleFacts("", text, "Drama Wire", "en", "http://notspam.example/")
    ).stored


def test_entries_without_rules_behave_exactly_as_before() -> None:
    entries = [QUEEN, SOOHYUN, WatchEntry("Kim Ji-won", "person", ("김지원",))]
    matcher = compile_watchlist(entries)
    rules = compile_rules(entries)
    for text in (
        "Kim Ji-won scored twice.",
        "Queen of Tears, Kim Soo-hyun and 김지원.",
        "Nothing watched here.",
    ):
        verdict = judge(rules, facts(text, source=None, language=None))
        assert list(verdict.counted) == matcher.find(f"\n\n{text}")
        assert verdict.excluded == ()


# ---------------------------------------------------------------- the crawl, with and without


def config_without_rules(directory: Path) -> Path:
    """Give a copy of the rules config with every rule line removed."""
    directory.mkdir(parents=True, exist_ok=True)
    plain = directory / "plain.toml"
    plain.write_text(RULE_LINE.sub("", RULES_CONFIG.read_text(encoding="utf-8")), "utf-8")
    return make_config(directory, base=plain)


@dataclass(frozen=True)
class Crawled:
    config: Path
    db: Path
    hosts: frozenset[str]


@pytest.fixture(scope="module")
def crawls(
    fixture_site: FixtureSite, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Crawled]:
    """The rules pages crawled with tests/site/dramawatch.rules.toml and without its rules."""
    root = tmp_path_factory.mktemp("rules")
    (root / "with").mkdir()
    configs = {
        "with_rules": make_config(root / "with", base=RULES_CONFIG),
        "without_rules": config_without_rules(root / "without"),
    }
    done: dict[str, Crawled] = {}
    for name, config in configs.items():
        fixture_site.reset()
        fixture_site.clear_log()
        result = dramawatch(config, "crawl", site=fixture_site)
        assert result.returncode == 0, result.stderr[-3000:]
        hosts = frozenset(record.host for record in fixture_site.access_log)
        done[name] = Crawled(config, config.parent / "archive.db", hosts)
    return done


def stored(db: Path) -> dict[str, list[str]]:
    """Give the visible archived articles: canonical URL -> entities."""
    with session_factory(make_engine(f"sqlite:///{db}"))() as session:
        return {
            a.canonical_url: [m.entity for m in a.mentions]
            for a in session.scalars(select(Article).where(archive_search.VISIBLE))
        }


@pytest.mark.parametrize("run", ["with_rules", "without_rules"])
def test_the_crawl_stores_exactly_the_golden_articles(crawls: dict[str, Crawled], run: str) -> None:
    assert stored(crawls[run].db) == GOLDEN[run]["stored"]


def test_a_muted_source_is_never_fetched(crawls: dict[str, Crawled]) -> None:
    assert MUTED_HOST not in crawls["with_rules"].hosts
    assert MUTED_HOST in crawls["without_rules"].hosts
    # a muted domain's page is fetched (its canonical URL is only known then) but never stored
    assert "clickfarm.test" in crawls["with_rules"].hosts


# ---------------------------------------------------------------- inspect


def inspect_json(site: FixtureSite, url: str, *extra: str) -> dict[str, Any]:
    result = dramawatch(RULES_CONFIG, "inspect", url, "--format", "json", *extra, site=site)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize("url", sorted(GOLDEN["with_rules"]["not_stored"]))
def test_inspect_names_the_rule_that_rejects_each_page(site: FixtureSite, url: str) -> None:
    rule = GOLDEN["with_rules"]["not_stored"][url]["rule"]
    report = inspect_json(site, url)
    assert report["stored"] is False
    assert report["entities"] == []
    if rule == "mute_domains":
        assert "muted domain clickfarm.test" in report["reason"]
        assert report["excluded"] == []
    else:
        assert [(e["name"], e["rule"]) for e in report["excluded"]] == [("Kim Ji-won", rule)]
        assert set(report["excluded"][0]) >= {"name", "rule", "detail"}


@pytest.mark.parametrize("url", sorted(GOLDEN["with_rules"]["stored"]))
def test_inspect_lists_only_the_entries_that_count(site: FixtureSite, url: str) -> None:
    report = inspect_json(site, url)
    assert report["stored"] is True
    assert [e["name"] for e in report["entities"]] == GOLDEN["with_rules"]["stored"][url]
    named = {e["name"] for e in report["entities"]} | {e["name"] for e in report["excluded"]}
    assert named == set(GOLDEN["without_rules"]["stored"][url])


def test_inspect_text_explains_the_namesake(site: FixtureSite) -> None:
    result = dramawatch(RULES_CONFIG, "inspect", NAMESAKE, site=site)
    assert result.returncode == 0, result.stderr
    assert (
        "Kim Ji-won: named 2×, but no context term (needs one of: Queen of Tears, Hong Hae-in, "
        "tvN, or another watch entry) → does not count"
    ) in result.stdout
    assert "verdict:       not stored" in result.stdout


def test_inspect_source_option_decides_the_sources_rule(site: FixtureSite) -> None:
    url = "http://goalpost.test/culture/kim-ji-won-cheers-from-the-stands-at-the-cup-final"
    assert inspect_json(site, url)["excluded"][0]["rule"] == "sources"
    assert inspect_json(site, url, "--source", "drama wire")["stored"] is True
    result = dramawatch(RULES_CONFIG, "inspect", url, "--source", "Nope", site=site)
    assert result.returncode == 2 and "unknown source" in result.stderr


# ---------------------------------------------------------------- rematch on the crawled archive


def rematch_cli(config: Path, *args: str) -> dict[str, Any]:
    result = dramawatch(config, "rematch", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_rematch_dry_run_then_apply_then_back(crawls: dict[str, Crawled], tmp_path: Path) -> None:
    shutil.copy(crawls["without_rules"].db, tmp_path / "archive.db")
    with_rules = make_config(tmp_path, base=RULES_CONFIG)
    before = stored(tmp_path / "archive.db")
    assert before == GOLDEN["without_rules"]["stored"]
    hidden = set(GOLDEN["without_rules"]["stored"]) - set(GOLDEN["with_rules"]["stored"])

    dry = rematch_cli(with_rules)
    assert dry["applied"] is False and dry["checked"] == len(before)
    by_url = {change["url"]: change for change in dry["changes"]}
    assert {u for u, c in by_url.items() if c["change"] == "hide"} == hidden
    charity = by_url["http://goalpost.test/culture/queen-of-tears-cast-plays-a-charity-match"]
    assert (charity["change"], charity["lost"], charity["stored"]) == ("lose", ["Kim Ji-won"], True)
    assert dry["no_longer_stored"] == len(hidden) and dry["losing_entries"] == 1
    assert "no context term" in by_url[NAMESAKE]["reason"]
    assert stored(tmp_path / "archive.db") == before  # a dry run writes nothing

    table = dramawatch(with_rules, "rematch")
    assert table.returncode == 0, table.stderr
    assert f"{len(hidden)} no longer stored (hidden)" in table.stdout
    assert "nothing written" in table.stdout

    applied = rematch_cli(with_rules, "--apply")
    assert applied["applied"] is True and applied["changes"] == dry["changes"]
    assert stored(tmp_path / "archive.db") == GOLDEN["with_rules"]["stored"]
    search = dramawatch(with_rules, "search", "--format", "json", "--limit", "0")
    assert {row["url"] for row in json.loads(search.stdout)} == set(GOLDEN["with_rules"]["stored"])
    with session_factory(make_engine(f"sqlite:///{tmp_path / 'archive.db'}"))() as session:
        assert len(session.scalars(select(Article)).all()) == len(before)  # nothing deleted
    assert rematch_cli(with_rules)["changes"] == []  # the archive now agrees with the rules

    config_without_rules(tmp_path / "plain")
    plain = make_config(tmp_path, base=tmp_path / "plain" / "plain.toml")  # the same archive
    back = rematch_cli(plain, "--apply")
    assert back["stored_again"] == len(hidden) and back["gaining_entries"] == 1
    assert stored(tmp_path / "archive.db") == GOLDEN["without_rules"]["stored"]


# ---------------------------------------------------------------- hidden articles, every reader

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
TEXTS = {
    "kept": "Kim Ji-won remembers Hong Hae-in, the heiress she played, in a long interview about "
    "the last year of filming and the crew she worked with every night.",
    "namesake": "Kim Ji-won scored twice in the last ten minutes of the derby and sent the away "
    "end home in silence after an evening his side had spent losing.",
}


def test_hidden_articles_are_left_out_of_search_digests_web_and_feeds(database_url: str) -> None:
    config: Config = load_config(RULES_CONFIG, env={"DRAMAWATCH_DATABASE_URL": database_url})
    engine = make_engine(database_url)
    upgrade(engine)
    sessions: sessionmaker[Session] = session_factory(engine)
    ids: dict[str, int] = {}
    for key, text in TEXTS.items():
        record = articles.ArticleRecord(
            canonical_url=f"http://dramawire.test/news/{key}",
            urls=(),
            source="Drama Wire",
            title=key,
            text=text,
            author=None,
            language="en",
            published_at=NOW - timedelta(hours=2),
            mentions=(articles.MentionRecord("Kim Ji-won", ((len(key) + 2, len(key) + 12),)),),
            signature=dedup.signature(text),
            content_hash=dedup.content_hash(key, text),
        )
        with sessions.begin() as session:
            ids[key] = articles.store_article(session, record, NOW - timedelta(hours=1)).article_id
    report = rematch(config, sessions, apply=True, batch_size=1)
    assert [(c.article_id, c.kind) for c in report.changes] == [(ids["namesake"], "hide")]
    with sessions() as session:
        hits = archive_search.search(session, archive_search.SearchQuery(entity="Kim Ji-won"))
        assert [h.article.id for h in hits] == [ids["kept"]]
        text_hits = archive_search.search(session, archive_search.SearchQuery(text="derby"))
        assert text_hits == []
        stories = browse.latest_stories(session)
        assert [a.id for s in stories for a in s.articles] == [ids["kept"]]
        assert [
            a.id for s in browse.latest_stories(session, "Kim Ji-won") for a in s.articles
        ] == [ids["kept"]]
        namesake_story = session.get_one(Article, ids["namesake"]).story_id
        assert browse.story(session, namesake_story) is None
        day = NOW.date()
        per_day = browse.mentions_per_day(session, "Kim Ji-won", day, day, UTC)
        assert per_day == [(date(day.year, day.month, day.day), 1)]
        assert [
            o.article_id
            for os in browse.story_outlets(session, [namesake_story]).values()
            for o in os
        ] == []
        window = (NOW - timedelta(days=1), NOW)
        assert [a.url for s in story_rows(session, *window) for a in s.articles] == [
            "http://dramawire.test/news/kept"
        ]
        assert len(mention_rows(session, *window)) == 1
        entries = [story_entry(s, lambda i: f"http://x/{i}") for s in stories]
        assert [e.related for e in entries] == [("http://dramawire.test/news/kept",)]
    client = create_app(sessions, config, clock=lambda: NOW).test_client()
    api = client.get("/api/search?entity=Kim+Ji-won").get_json()
    assert [row["id"] for row in api] == [ids["kept"]]
    assert client.get(f"/stories/{namesake_story}").status_code == 404
    assert client.get(f"/api/stories/{namesake_story}").status_code == 404
    for page in ("/feed.atom", "/watch/Kim%20Ji-won/feed.atom", "/watch/Kim%20Ji-won", "/"):
        body = client.get(page).get_data(as_text=True)
        assert "dramawire.test/news/kept" in body or ">kept<" in body, page
        assert "namesake" not in body, page
    engine.dispose()


def test_the_rules_shown_in_the_shipped_config_are_valid(tmp_path: Path) -> None:
    shipped = (SITE_DIR.parent.parent / "dramawatch.toml").read_text(encoding="utf-8")
    pattern = r"(?m)^# (context|exclude|sources|languages|\[filters\]|mute_sources|mute_domains)"
    uncommented = re.sub(pattern, r"\1", shipped)
    assert uncommented != shipped
    (tmp_path / "dramawatch.toml").write_text(uncommented, encoding="utf-8")
    config = load_config(tmp_path / "dramawatch.toml", env={})
    jiwon = next(w for w in config.watch if w.name == "Kim Ji-won")
    assert jiwon.context and jiwon.exclude and jiwon.sources and jiwon.languages
    assert config.filters.mute_sources and config.filters.mute_domains


def test_a_hidden_article_the_crawl_stores_again_is_visible(
    sessions: sessionmaker[Session],
) -> None:
    text = TEXTS["kept"]
    record = articles.ArticleRecord(
        canonical_url="http://dramawire.test/news/again",
        urls=(),
        source="Drama Wire",
        title="again",
        text=text,
        author=None,
        language="en",
        published_at=None,
        mentions=(),
        signature=dedup.signature(text),
        content_hash=dedup.content_hash("again", text),
    )
    with sessions.begin() as session:
        article_id = articles.store_article(session, record, NOW).article_id
        session.get_one(Article, article_id).hidden = True
    with sessions.begin() as session:
        assert articles.store_article(session, record, NOW).status == "unchanged"
    with sessions() as session:
        assert session.get_one(Article, article_id).hidden is False
