"""Synthetic archives of N articles in the real schema, loaded in bulk, for the dedup and
search measurements.

The schema is made by ``scraper.storage.engine.upgrade`` (the Alembic migrations, FTS5 triggers or the
GIN index included). Loading 1M articles row by row through the ORM would take hours, so
rows go in with driver-level ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) through
SQLAlchemy connections. Full-text and band indexes are dropped for the load and recreated
at the end from the live schema's own definitions (``sqlite_master`` / ``pg_indexes``), so
the archive ends exactly as the migrations made it.

What an archive holds, per article: a title and a ~2.5 KB text made of the site generator's
sentences (so watched names, "fan meeting" and the like occur at realistic rates), one to
three mentions of watched names, one URL, a story (about 20% of articles are near-duplicate
copies of an earlier one, sharing its story and most of its MinHash values) and a synthetic
512-byte signature with its 64 LSH band rows (``dedup.band_hashes``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scraper.core import dedup  # noqa: E402
from scraper.storage.engine import make_engine, upgrade  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import newssite  # noqa: E402

logger = logging.getLogger("bench.archive")

CHUNK = 20_000
ARCHIVE_SPAN_DAYS = 730
DUPLICATE_SHARE = 0.2
SOURCES = tuple(o.name for o in newssite.OUTLETS) + ("Google News: Queen of Tears", "Yonhap")
# How often each watched name is mentioned by an archived article (each article names >= 1).
ENTITY_RATES = (
    ("Queen of Tears", 0.55),
    ("Kim Soo-hyun", 0.40),
    ("Kim Ji-won", 0.35),
    ("Park Sung-hoon", 0.12),
    ("Kwak Dong-yeon", 0.08),
    ("Lee Joo-bin", 0.07),
    ("Park Ji-eun", 0.06),
)
ENTITY_SENTENCES = {
    "Queen of Tears": "Queen of Tears remained the most-discussed series among viewers this week.",
    "Kim Soo-hyun": "Kim Soo-hyun thanked fans for their support during the long shoot.",
    "Kim Ji-won": "Kim Ji-won appeared at the event in a white suit and greeted reporters.",
    "Park Sung-hoon": "Park Sung-hoon joked about playing the villain everyone loves to hate.",
    "Kwak Dong-yeon": "Kwak Dong-yeon recalled rehearsals that ran late into the night.",
    "Lee Joo-bin": "Lee Joo-bin said the role opened doors to new kinds of characters.",
    "Park Ji-eun": "Writer Park Ji-eun said the story had been in her notebook for years.",
}

# Sentences that make the search phrases selective: (sentence, share of articles carrying it).
RARE_SENTENCES = (
    ("The cast gathered for a wrap-up party at a restaurant in Seoul after the last shoot.", 0.01),
    ("Scenes were shot at a hanok village that has since drawn tourists from abroad.", 0.002),
)


class _Corpus:
    """Sentence pools the synthetic texts are drawn from (generator vocabulary, seeded)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        sentences = []
        for number in range(6000):
            writer = newssite._Writer(
                random.Random(seed + number), on_topic=number % 5 == 0, korean=False
            )
            pool = newssite.ON_SENTENCES if number % 5 == 0 else newssite.SENTENCES
            sentences.append(writer.fill(rng.choice(pool)))
        sentences += [newssite.free_sentence(rng, False) for _ in range(12000)]
        self.sentences = sentences
        titles = []
        for number in range(3000):
            writer = newssite._Writer(random.Random(seed - number), on_topic=True, korean=False)
            titles.append(writer.title())
        self.titles = titles


@dataclass
class LoadReport:
    articles: int
    seconds: float
    backend: str


def _signatures(
    rng: np.random.Generator,
    count: int,
    previous: np.ndarray | None,
    duplicate: np.ndarray,
    sources: np.ndarray,
) -> np.ndarray:
    """Random MinHash-like signatures; a duplicate copies 80% of its source's values."""
    sigs = rng.integers(0, 2**32 - 1, size=(count, dedup.NUM_PERM), dtype=np.uint32)
    if previous is not None and duplicate.any():
        keep = rng.random((int(duplicate.sum()), dedup.NUM_PERM)) < 0.8
        copied = previous[sources[duplicate]]
        sigs[duplicate] = np.where(keep, copied, sigs[duplicate])
    return sigs


def _rows(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """Yield column batches (lists of tuples) of ``n`` articles, ``CHUNK`` at a time."""
    corpus = _Corpus(seed)
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(days=ARCHIVE_SPAN_DAYS)
    step = timedelta(days=ARCHIVE_SPAN_DAYS) / max(n, 1)
    story_of: list[int] = []  # article id - 1 -> story id
    all_sigs = np.empty((n, dedup.NUM_PERM), dtype=np.uint32)
    next_story = 1
    for first in range(0, n, CHUNK):
        count = min(CHUNK, n - first)
        ids = range(first + 1, first + count + 1)
        duplicate = np.zeros(count, dtype=bool)
        sources = np.zeros(count, dtype=np.int64)
        if first:
            duplicate = nprng.random(count) < DUPLICATE_SHARE
            # copies come from the recent past (up to ~2000 articles before this batch), as
            # syndication does; only rows already generated can be copied
            back = nprng.integers(1, 2000, size=count)
            sources = np.maximum(first - back, 0)
        sigs = _signatures(nprng, count, all_sigs if first else None, duplicate, sources)
        all_sigs[first : first + count] = sigs
        stories, articles, urls, mentions = [], [], [], []
        for offset, article_id in enumerate(ids):
            published = start + step * (article_id - 1) + timedelta(minutes=rng.randint(0, 90))
            seen = published + timedelta(minutes=rng.randint(5, 240))
            title = rng.choice(corpus.titles)
            if duplicate[offset]:
                story_id = story_of[int(sources[offset])]
            else:
                story_id = next_story
                next_story += 1
                stories.append((story_id, title, seen))
            story_of.append(story_id)
            named = [name for name, rate in ENTITY_RATES if rng.random() < rate]
            if not named:
                named = [rng.choice(ENTITY_RATES[:3])[0]]
            body = rng.choices(corpus.sentences, k=rng.randint(14, 26))
            for name in named:
                body.insert(rng.randint(0, len(body)), ENTITY_SENTENCES[name])
            for sentence, share in RARE_SENTENCES:
                if rng.random() < share:
                    body.insert(rng.randint(0, len(body)), sentence)
            paragraphs = [" ".join(body[i : i + 4]) for i in range(0, len(body), 4)]
            text_value = "\n".join(paragraphs)
            source = SOURCES[article_id % len(SOURCES)]
            host = source.lower().replace(" ", "").replace(":", "")[:20]
            url = f"https://{host}.test/news/{article_id}/{title[:40].lower().replace(' ', '-')}"
            key = f"https://{host}.test/news/{article_id}/{title[:40].lower().replace(' ', '-')}"
            signature = sigs[offset].astype("<u4").tobytes()
            content = hashlib.sha256(f"{title}\n{text_value}".encode()).hexdigest()
            articles.append(
                (
                    article_id,
                    url,
                    key,
                    source,
                    title,
                    text_value,
                    "Hana Lee",
                    "en",
                    published,
                    seen,
                    seen,
                    content,
                    signature,
                    story_id,
                )
            )
            urls.append((article_id, article_id, url, key, seen))
            full = f"{title}\n\n{text_value}"
            for name in named:
                at = full.find(name)
                mentions.append(
                    (article_id, name, json.dumps([[at, at + len(name)]] if at >= 0 else []))
                )
        yield {
            "stories": stories,
            "articles": articles,
            "urls": urls,
            "mentions": mentions,
            "signatures": sigs,
            "first_id": first + 1,
        }


def _band_chunk(args: tuple[int, bytes]) -> tuple[int, np.ndarray]:
    """Band hashes (``dedup.band_hashes``, the real function) of a block of signatures."""
    first_id, packed = args
    sigs = np.frombuffer(packed, dtype=np.uint32).reshape(-1, dedup.NUM_PERM)
    out = np.empty((len(sigs), dedup.BANDS), dtype=np.int64)
    for row, sig in enumerate(sigs):
        out[row] = dedup.band_hashes(sig.astype("<u4").tobytes())
    return first_id, out


class BandCollector:
    """Collects every article's band hashes (hashed in a process pool), then gives them back
    sorted by the primary key (band, hash, article_id): sorted inserts keep the B-tree load
    sequential instead of random."""

    def __init__(self, n: int, workers: int) -> None:
        import multiprocessing

        self.hashes = np.empty((n, dedup.BANDS), dtype=np.int64)
        self.pool = multiprocessing.get_context("fork").Pool(workers)
        self.pending: list[Any] = []

    def add(self, first_id: int, sigs: np.ndarray) -> None:
        self.pending.append(self.pool.apply_async(_band_chunk, ((first_id, sigs.tobytes()),)))

    def sorted_chunks(
        self, size: int = 1_000_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for pending in self.pending:
            first_id, out = pending.get()
            self.hashes[first_id - 1 : first_id - 1 + len(out)] = out
        self.pool.close()
        n = len(self.hashes)
        band = np.tile(np.arange(dedup.BANDS, dtype=np.int8), n)
        article = np.repeat(np.arange(1, n + 1, dtype=np.int32), dedup.BANDS)
        value = self.hashes.reshape(-1)
        order = np.lexsort((article, value, band))
        for start in range(0, len(order), size):
            part = order[start : start + size]
            yield band[part], value[part], article[part]


ARTICLE_COLUMNS = (
    "id, canonical_url, canonical_key, source, title, text, author, language, published_at, "
    "first_seen_at, updated_at, content_hash, signature, story_id"
)


def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (what the ORM writes and reads back)
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(url: str, n: int, seed: int, workers: int = 2) -> LoadReport:
    """Create the schema with the migrations and bulk-load ``n`` articles into it."""
    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    # A plain engine (no BEGIN IMMEDIATE hook) whose connection we tune for a bulk load.
    bulk = create_engine(url)
    with bulk.connect() as conn:
        raw = conn.connection.dbapi_connection
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute("PRAGMA cache_size=-4000000")  # 4 GB page cache for the load only
        # the FTS insert trigger and the secondary band index, dropped for the load and
        # recreated from the schema's own definitions (whatever the migrations made them)
        recreate = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name IN "
                "('articles_fts_ai', 'ix_lsh_bands_article_id') AND sql IS NOT NULL"
            )
        ]
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS articles_fts_ai")
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_lsh_bands_article_id")
        conn.commit()
        collector = BandCollector(n, workers)
        for batch in _rows(n, seed):
            collector.add(batch["first_id"], batch["signatures"])
            conn.exec_driver_sql(
                "INSERT INTO stories (id, title, first_seen_at) VALUES (?, ?, ?)",
                [(s, t, _sqlite_time(f)) for s, t, f in batch["stories"]],
            )
            conn.exec_driver_sql(
                f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                [
                    (*a[:8], _sqlite_time(a[8]), _sqlite_time(a[9]), _sqlite_time(a[10]), *a[11:])
                    for a in batch["articles"]
                ],
            )
            conn.exec_driver_sql(
                "INSERT INTO article_urls (id, article_id, url, url_key, first_seen_at) VALUES (?, ?, ?, ?, ?)",
                [(*u[:4], _sqlite_time(u[4])) for u in batch["urls"]],
            )
            conn.exec_driver_sql(
                "INSERT INTO mentions (article_id, entity, spans) VALUES (?, ?, ?)",
                batch["mentions"],
            )
            conn.commit()
        for band, value, article in collector.sorted_chunks():
            conn.exec_driver_sql(
                "INSERT INTO lsh_bands (band, hash, article_id) VALUES (?, ?, ?)",
                list(zip(band.tolist(), value.tolist(), article.tolist(), strict=False)),
            )
            conn.commit()
        for statement in recreate:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("INSERT INTO articles_fts(articles_fts) VALUES('rebuild')")
        conn.commit()
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    bulk.dispose()
    return LoadReport(n, time.perf_counter() - started, "sqlite")


def load_postgres(url: str, n: int, seed: int, workers: int = 2) -> LoadReport:
    """Create the schema with the migrations and COPY ``n`` articles into it."""
    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        # full-text and secondary band indexes and the band primary key are dropped for the
        # load and recreated from their live definitions (whatever the migrations made them)
        indexes = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND "
            "((tablename = 'articles' AND indexdef ILIKE '%% USING gin %%') OR "
            "(tablename = 'lsh_bands' AND indexname <> 'pk_lsh_bands'))"
        ).all()
        primary_key = conn.exec_driver_sql(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_lsh_bands'"
        ).scalar_one()
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        conn.exec_driver_sql("ALTER TABLE lsh_bands DROP CONSTRAINT pk_lsh_bands")
        conn.commit()
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cursor:
            # foreign keys are not checked row by row during the load (they hold by construction)
            cursor.execute("SET session_replication_role = replica")
            collector = BandCollector(n, workers)
            for batch in _rows(n, seed):
                collector.add(batch["first_id"], batch["signatures"])
                _copy(cursor, "stories (id, title, first_seen_at)", batch["stories"])
                _copy(cursor, f"articles ({ARTICLE_COLUMNS})", batch["articles"])
                _copy(
                    cursor,
                    "article_urls (id, article_id, url, url_key, first_seen_at)",
                    batch["urls"],
                )
                _copy(cursor, "mentions (article_id, entity, spans)", batch["mentions"])
                raw.commit()
            for band, value, article in collector.sorted_chunks():
                with cursor.copy("COPY lsh_bands (band, hash, article_id) FROM STDIN") as copy:
                    copy.write(
                        "".join(
                            f"{b}\t{h}\t{a}\n"
                            for b, h, a in zip(band.tolist(), value.tolist(), article.tolist(), strict=False)
                        )
                    )
                raw.commit()
            cursor.execute("SET session_replication_role = origin")
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute(f"ALTER TABLE lsh_bands ADD CONSTRAINT pk_lsh_bands {primary_key}")
            for _, definition in indexes:
                cursor.execute(definition)
            for table, column in (
                ("stories", "id"),
                ("articles", "id"),
                ("article_urls", "id"),
                ("mentions", "id"),
            ):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"(SELECT coalesce(max({column}), 1) FROM {table}))"
                )
            raw.commit()
        raw.autocommit = True
        with raw.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        raw.autocommit = False
    engine.dispose()
    return LoadReport(n, time.perf_counter() - started, "postgresql")


def _copy(cursor: Any, target: str, rows: list[tuple[Any, ...]]) -> None:
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def pg_admin_engine(admin_url: str) -> Engine:
    return create_engine(admin_url, isolation_level="AUTOCOMMIT")


def pg_create(admin_url: str, name: str) -> str:
    engine = pg_admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def pg_drop(admin_url: str, name: str) -> None:
    engine = pg_admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def pg_comment(admin_url: str, name: str) -> str | None:
    """The comment on a database (the bench marks complete loads with it), or None."""
    engine = pg_admin_engine(admin_url)
    with engine.connect() as conn:
        value = conn.execute(
            text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"
            ),
            {"n": name},
        ).scalar()
    engine.dispose()
    return value


def pg_set_comment(admin_url: str, name: str, comment: str) -> None:
    engine = pg_admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'"))
    engine.dispose()
