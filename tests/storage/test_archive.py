"""The archive on SQLite and the real PostgreSQL: identity, updates, stories, search, races."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from scraper.core import dedup
from scraper.storage import articles
from scraper.storage import search as archive_search
from scraper.storage.articles import ArticleRecord, MentionRecord
from scraper.storage.engine import make_engine, session_factory
from scraper.storage.models import Article, ArticleUrl, Mention, Story
from scraper.storage.search import SearchQuery, SearchSyntaxError

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

OST_TEXT = (
    "The soundtrack album of Queen of Tears goes on pre-sale this week with a double-disc "
    "package. Kim Soo-hyun sings one of the twelve vocal tracks himself, his first recorded "
    "song in a decade, and the album design imitates a wedding photo book with the two leads "
    "in formal dress. The package adds a lyric booklet shaped like an accordion, photo cards "
    "in a magnetic case and a sheet of stickers that glow in the dark. Fans in Seoul lined up "
    "outside record shops before the announcement was even official, and online stores list "
    "the set among their most wished-for items of the month."
)
PARTY_TEXT = (
    "Cast and crew of Queen of Tears gathered for a wrap party after the finale broke the "
    "channel's ratings record. Kim Ji-won cut the cake beside her co-star while the director "
    "thanked the lighting team by name. Park Sung-hoon, who played the scheming villain, "
    "joked that he would finally be allowed to smile in public again. Guests stayed until "
    "late, trading stories from eleven months of filming in Seoul, Germany and the village "
    "set where the supermarket scenes were shot."
)


def record(
    url: str,
    text: str = OST_TEXT,
    title: str = "Queen of Tears soundtrack opens for pre-sale",
    source: str = "K-Wave Daily",
    urls: tuple[str, ...] = (),
    entities: tuple[str, ...] = ("Queen of Tears", "Kim Soo-hyun"),
    published_at: datetime | None = NOW - timedelta(hours=3),
) -> ArticleRecord:
    return ArticleRecord(
        canonical_url=url,
        urls=urls or (url,),
        source=source,
        title=title,
        text=text,
        author="Staff writer",
        language="en",
        published_at=published_at,
        mentions=tuple(MentionRecord(e, ((0, 5),)) for e in entities),
        signature=dedup.signature(text),
        content_hash=dedup.content_hash(title, text),
    )


def store(
    sessions: sessionmaker[Session], rec: ArticleRecord, now: datetime = NOW
) -> articles.StoreResult:
    with sessions.begin() as session:
        return articles.store_article(session, rec, now)


def count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_new_article_is_stored_with_its_urls_and_mentions(sessions: sessionmaker[Session]) -> None:
    result = store(sessions, record("https://kwave.example/ost-presale"))
    assert result.status == "new"
    with sessions() as session:
        article = session.get_one(Article, result.article_id)
        assert article.first_seen_at == NOW
        assert article.published_at == NOW - timedelta(hours=3)
        assert [u.url for u in article.urls] == ["https://kwave.example/ost-presale"]
        assert [m.entity for m in article.mentions] == ["Queen of Tears", "Kim Soo-hyun"]


def test_url_variants_are_one_article_with_every_url_kept(sessions: sessionmaker[Session]) -> None:
    first = store(sessions, record("https://kwave.example/ost-presale"))
    variants = (
        "https://kwave.example/ost-presale/?utm_source=rss&utm_medium=feed",
        "https://m.kwave.example/ost-presale",
        "https://kwave.example/ost-presale/amp/",
    )
    again = store(
        sessions,
        record("https://kwave.example/ost-presale", urls=variants),
        NOW + timedelta(hours=1),
    )
    assert again.article_id == first.article_id
    assert again.status == "unchanged"
    assert count(sessions, Article) == 1
    with sessions() as session:
        urls = set(session.scalars(select(ArticleUrl.url)))
    assert "https://m.kwave.example/ost-presale" in urls


def test_changed_text_updates_in_place(sessions: sessionmaker[Session]) -> None:
    first = store(sessions, record("https://kwave.example/ost-presale"))
    edited = OST_TEXT + " Update: the label added a bonus instrumental disc."
    later = NOW + timedelta(hours=2)
    result = store(sessions, record("https://kwave.example/ost-presale", text=edited), later)
    assert (result.article_id, result.status) == (first.article_id, "updated")
    with sessions() as session:
        article = session.get_one(Article, first.article_id)
        assert article.text == edited
        assert article.first_seen_at == NOW
        assert article.updated_at == later
    assert count(sessions, Article) == 1
    assert count(sessions, Mention) == 2


def test_syndicated_copy_shares_the_story_and_unrelated_does_not(
    sessions: sessionmaker[Session],
) -> None:
    original = store(sessions, record("https://kwave.example/ost-presale"))
    copy_text = OST_TEXT + " This story first appeared on K-Wave Daily."
    copy = store(
        sessions,
        record("https://dramabeat.example/news/ost", text=copy_text, source="Drama Beat"),
    )
    unrelated = store(
        sessions,
        record(
            "https://dramabeat.example/news/party",
            text=PARTY_TEXT,
            title="Wrap party",
            source="Drama Beat",
        ),
    )
    assert copy.article_id != original.article_id
    assert copy.story_id == original.story_id
    assert unrelated.story_id != original.story_id
    assert count(sessions, Story) == 2


def test_stories_are_found_across_runs_through_persisted_bands(database_url: str) -> None:
    first_engine = make_engine(database_url)
    from scraper.storage.engine import upgrade

    upgrade(first_engine)
    original = store(session_factory(first_engine), record("https://kwave.example/ost-presale"))
    first_engine.dispose()
    second_engine = make_engine(database_url)  # a later process: nothing in memory
    copy = store(
        session_factory(second_engine),
        record(
            "https://seoulscreen.example/a/1", text=OST_TEXT.replace("this week", "from Friday")
        ),
    )
    second_engine.dispose()
    assert copy.story_id == original.story_id


def test_concurrent_writers_store_one_article(sessions: sessionmaker[Session]) -> None:
    """Two workers storing the same article at once: one row, no crash."""
    barrier = threading.Barrier(4)
    results: list[articles.StoreResult] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        rec = record(
            "https://kwave.example/ost-presale",
            urls=(f"https://kwave.example/ost-presale?utm_source={i}",),
        )
        barrier.wait()
        try:
            results.append(store(sessions, rec))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len({r.article_id for r in results}) == 1
    assert count(sessions, Article) == 1
    assert count(sessions, Story) == 1


@pytest.fixture
def searchable(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    store(sessions, record("https://kwave.example/ost-presale"))
    store(
        sessions,
        record(
            "https://dramabeat.example/news/party",
            text=PARTY_TEXT,
            title="Queen of Tears cast celebrates at wrap party",
            source="Drama Beat",
            entities=("Queen of Tears", "Kim Ji-won", "Park Sung-hoon"),
            published_at=NOW - timedelta(days=2),
        ),
    )
    return sessions


def search(sessions: sessionmaker[Session], **kwargs: object) -> list[str]:
    with sessions() as session:
        hits = archive_search.search(session, SearchQuery(**kwargs))  # type: ignore[arg-type]
        return [h.article.canonical_url for h in hits]


def test_search_full_text_and_filters(searchable: sessionmaker[Session]) -> None:
    assert search(searchable, text="wrap party") == ["https://dramabeat.example/news/party"]
    assert search(searchable, text='"glow in the dark"') == ["https://kwave.example/ost-presale"]
    assert search(searchable, text="Soo-hyun") == ["https://kwave.example/ost-presale"]
    assert search(searchable, text="cake OR stickers") != []
    assert len(search(searchable, text="cake OR stickers")) == 2
    assert search(searchable, text="Seoul -cake") == ["https://kwave.example/ost-presale"]
    assert search(searchable, entity="Park Sung-hoon") == ["https://dramabeat.example/news/party"]
    assert search(searchable, source="K-Wave Daily") == ["https://kwave.example/ost-presale"]
    assert search(searchable) == [
        "https://kwave.example/ost-presale",
        "https://dramabeat.example/news/party",
    ]
    assert search(searchable, since=NOW - timedelta(days=1)) == [
        "https://kwave.example/ost-presale"
    ]
    assert search(searchable, until=NOW - timedelta(days=1)) == [
        "https://dramabeat.example/news/party"
    ]
    assert search(searchable, limit=1) == ["https://kwave.example/ost-presale"]


def test_search_ranks_best_match_first(searchable: sessionmaker[Session]) -> None:
    assert search(searchable, text="Queen of Tears wrap party cake")[0].endswith("/party")


@pytest.mark.parametrize("bad", ['"unbalanced', "---", '""'])
def test_malformed_search_text_is_a_syntax_error(
    searchable: sessionmaker[Session], bad: str
) -> None:
    with pytest.raises(SearchSyntaxError):
        search(searchable, text=bad)


def test_snippet_and_json_shape(searchable: sessionmaker[Session]) -> None:
    with searchable() as session:
        hit = archive_search.search(session, SearchQuery(text="stickers"))[0]
        data = archive_search.article_json(hit.article, hit.snippet)
    assert list(data) == [
        "id",
        "url",
        "urls",
        "title",
        "published_at",
        "first_seen_at",
        "source",
        "entities",
        "story_id",
        "snippet",
        "updated_at",
    ]
    assert data["updated_at"] is None  # never updated in place
    assert "stickers" in data["snippet"]
    assert data["published_at"].endswith("+00:00")


@pytest.fixture
def many_matches(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Four "stickers" articles archived in this order; the first archived matches best."""
    store(
        sessions,
        record(
            "https://kwave.example/stickers-0",
            text=OST_TEXT + " Stickers, stickers and more stickers fill the box.",
            source="Drama Beat",
            published_at=NOW - timedelta(days=1),
        ),
    )
    for number, filler in enumerate(("ninety", "harbour", "lantern"), start=1):
        store(
            sessions,
            record(
                f"https://kwave.example/stickers-{number}",
                text=f"{PARTY_TEXT} A {filler} sheet of stickers came with the invitation.",
                title=f"Wrap party keepsakes, part {number}",
                published_at=NOW - timedelta(days=3 - number),
            ),
        )
    return sessions


def test_text_search_ranks_every_match_within_the_window(
    many_matches: sessionmaker[Session],
) -> None:
    ranked = search(many_matches, text="stickers")
    assert ranked[0] == "https://kwave.example/stickers-0"
    assert sorted(ranked) == [f"https://kwave.example/stickers-{n}" for n in range(4)]


def test_text_search_ranks_only_the_newest_archived_matches(
    many_matches: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = search(many_matches, text="stickers", limit=None)
    monkeypatch.setattr(archive_search, "RANK_WINDOW", 2)
    windowed = search(many_matches, text="stickers")
    # the two most recently archived matches, in the order the full ranking gives them
    newest = {"https://kwave.example/stickers-2", "https://kwave.example/stickers-3"}
    assert windowed == [url for url in everything if url in newest]
    assert search(many_matches, text="stickers", offset=2) == []
    # no limit: every match is ranked, the best (and oldest) first
    assert search(many_matches, text="stickers", limit=None) == everything
    assert everything[0] == "https://kwave.example/stickers-0"
    # filters choose the window's matches, so narrowing reaches older articles
    assert search(many_matches, text="stickers", source="Drama Beat") == [
        "https://kwave.example/stickers-0"
    ]
    assert search(many_matches, text="stickers", until=NOW - timedelta(hours=30)) == [
        "https://kwave.example/stickers-1"
    ]


def test_a_watched_name_as_text_is_the_mention_filter(searchable: sessionmaker[Session]) -> None:
    # mentioned through an alias: the name's words are not in the text
    store(
        searchable,
        record(
            "https://kwave.example/hangul",
            text="김수현 팬미팅 소식. " + PARTY_TEXT.replace("Kim Ji-won", "she"),
            title="Fan meeting news",
            entities=("Kim Soo-hyun",),
            published_at=NOW - timedelta(hours=1),
        ),
    )
    newest_first = ["https://kwave.example/hangul", "https://kwave.example/ost-presale"]
    assert search(searchable, text="Kim Soo-hyun") == newest_first
    assert search(searchable, text=' "Kim Soo-hyun" ') == newest_first
    assert search(searchable, text="Kim Soo-hyun") == search(searchable, entity="Kim Soo-hyun")
    # not exactly a watched name: full-text search over the words, as before
    assert search(searchable, text="kim soo-hyun") == ["https://kwave.example/ost-presale"]
    assert search(searchable, text="Kim Soo-hyun album") == ["https://kwave.example/ost-presale"]
    with searchable() as session:
        hit = archive_search.search(session, SearchQuery(text="Kim Soo-hyun"))[1]
    assert "Kim Soo-hyun" in hit.snippet
