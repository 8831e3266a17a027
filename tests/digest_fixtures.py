"""Archive contents, configs and a loopback SMTP mailbox for the digest, mail and scheduler
tests (all text is our own)."""

from __future__ import annotations

import email
import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from scraper.config import Config, load_config
from scraper.core import dedup
from scraper.storage import articles
from scraper.storage.articles import ArticleRecord, MentionRecord

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

WATCH = (
    ("Queen of Tears", "drama", ("눈물의 여왕",)),
    ("Kim Soo-hyun", "person", ("김수현",)),
    ("Kim Ji-won", "person", ("김지원",)),
    ("Park Sung-hoon", "person", ("박성훈",)),
    ("Kwak Dong-yeon", "person", ("곽동연",)),
)

HOSTILE_TITLE = (
    "<script>alert('title')</script>Kwak Dong-yeon <img src=x onerror=alert(1)> "
    "\u202eyalp ot thgir\u202c talks about his next role " + "very " * 2000
)
HOSTILE_TEXT = (
    "Kwak Dong-yeon spoke about his next role "
    "<script>document.location='http://evil.test'</script> "
    "in a long interview <b onmouseover=alert(2)>about</b> the weeks after the finale of the "
    "drama, saying he wanted a quieter part after playing the younger brother of the chaebol "
    "family. \u202eHe added that he reads every script twice before answering."
)


@dataclass(frozen=True)
class Piece:
    """One fixture article: what it says, where, and when it was first seen."""

    url: str
    source: str
    title: str
    text: str
    entities: tuple[str, ...]
    seen: datetime
    published: datetime | None = None


def pieces(now: datetime = NOW) -> list[Piece]:
    """Give the fixture articles, first seen within the six hours before ``now``."""
    finale = (
        "The director's cut of Queen of Tears reaches streaming next month with twenty minutes "
        "of scenes that never aired, the production company said on Tuesday. Kim Soo-hyun "
        "recorded a new commentary track for the final episode, and the extra footage follows "
        "the couple through the hospital chapters that viewers found rushed on broadcast. The "
        "release adds subtitles in nine languages and a making-of film about the Germany shoot."
    )
    return [
        Piece(
            "https://kwave.example/2026/11/queen-of-tears-directors-cut",
            "K-Wave Daily",
            "Queen of Tears director's cut adds twenty unseen minutes",
            finale,
            ("Queen of Tears", "Kim Soo-hyun"),
            now - timedelta(hours=5),
            now - timedelta(hours=6),
        ),
        Piece(
            "https://hallyu-wire.example/news/8812",
            "Hallyu Wire",
            "Queen of Tears director's cut adds twenty unseen minutes | Hallyu Wire",
            finale + " Reporting by the Hallyu Wire desk.",
            ("Queen of Tears", "Kim Soo-hyun"),
            now - timedelta(hours=4),
            now - timedelta(hours=5),
        ),
        Piece(
            "https://seoulscreen.example/people/kim-ji-won-cover",
            "Seoul Screen",
            "Kim Ji-won fronts a winter magazine issue in hanbok-inspired coats",
            "Kim Ji-won appears on the cover of a fashion monthly's winter issue, photographed "
            "in coats that borrow the lines of hanbok. In the interview she says the role of the "
            "department store heiress taught her to enjoy quiet scenes, and that she keeps the "
            "script of the last episode on her desk.",
            ("Kim Ji-won",),
            now - timedelta(hours=3),
            now - timedelta(hours=3, minutes=30),
        ),
        Piece(
            "https://seoulscreen.example/people/park-sung-hoon-film",
            "Seoul Screen",
            "Park Sung-hoon signs on for a heist film shooting in Busan",
            "Park Sung-hoon will lead a heist film that starts shooting in Busan in spring. The "
            "actor, remembered for the cold schemer of the hit drama, plays a retired safecracker "
            "pulled back for one last job, and trained with a locksmith for two months.",
            ("Park Sung-hoon",),
            now - timedelta(hours=2),
            None,
        ),
        Piece(
            "javascript:alert('outlet')",
            "Odd <Outlet> & Co",
            HOSTILE_TITLE,
            HOSTILE_TEXT,
            ("Kwak Dong-yeon",),
            now - timedelta(hours=1),
            now - timedelta(hours=1),
        ),
    ]


def record(piece: Piece) -> ArticleRecord:
    """Give the archive record of a fixture article (mention spans found in title + text)."""
    body = f"{piece.title}\n\n{piece.text}"
    mentions = []
    for entity in piece.entities:
        at = body.find(entity)
        mentions.append(MentionRecord(entity, ((at, at + len(entity)),) if at >= 0 else ()))
    return ArticleRecord(
        canonical_url=piece.url,
        urls=(piece.url,),
        source=piece.source,
        title=piece.title,
        text=piece.text,
        author=None,
        language="en",
        published_at=piece.published,
        mentions=tuple(mentions),
        signature=dedup.signature(piece.text),
        content_hash=dedup.content_hash(piece.title, piece.text),
    )


def store(sessions: sessionmaker[Session], items: Sequence[Piece]) -> None:
    """Store fixture articles, each committed on its own as the pipeline does."""
    for piece in items:
        with sessions.begin() as session:
            articles.store_article(session, record(piece), piece.seen)


def write_config(
    directory: Path,
    database_url: str,
    *,
    recipients: Sequence[str] = (),
    crawl_schedule: str = "0 * * * *",
    digest_schedule: str = "0 8 * * *",
    sources: Sequence[dict[str, object]] = (),
    extra_digest: str = "",
) -> Path:
    """Write a dramawatch.toml for the tests and give its path."""
    lines = [
        "[database]",
        f"url = {json.dumps(database_url)}",
        "[crawl]",
        f"schedule = {json.dumps(crawl_schedule)}",
        "obey_robots = false",
        "timeout_s = 5",
        "retries = 0",
        "max_age_days = 0",
        "[digest]",
        f"schedule = {json.dumps(digest_schedule)}",
        'timezone = "Asia/Seoul"',
        'output_dir = "digests"',
        f"recipients = {json.dumps(list(recipients))}",
        'sender = "dramawatch@example.org"',
        extra_digest,
    ]
    for name, kind, aliases in WATCH:
        lines += [
            "[[watch]]",
            f"name = {json.dumps(name)}",
            f'kind = "{kind}"',
            f"aliases = {json.dumps(list(aliases), ensure_ascii=False)}",
        ]
    for source in sources or ({"name": "Nowhere", "feeds": ["http://127.0.0.1:9/feed"]},):
        lines.append("[[sources]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in source.items()]
    path = directory / "dramawatch.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_config(
    directory: Path,
    database_url: str,
    *,
    recipients: Sequence[str] = (),
    smtp_url: str | None = None,
    extra_digest: str = "",
) -> Config:
    """Give a loaded config (SMTP from the environment mapping, as in production)."""
    path = write_config(directory, database_url, recipients=recipients, extra_digest=extra_digest)
    env = {"DRAMAWATCH_SMTP_URL": smtp_url} if smtp_url else {}
    return load_config(path, env)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What the loopback SMTP server received; ``refuse`` answers the next DATA with 451."""

    port: int = 0
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: int = 0
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Queued"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(content, policy=default_policy)  # type: ignore[misc]
            for _, _, content in self.received
        ]
