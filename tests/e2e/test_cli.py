"""The command line under bad input: one line on stderr, exit 2, never a traceback; and its
output under hostile text: no control or bidi characters, bounded, valid JSON (issue 7)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scraper.app.cli import main
from scraper.core import dedup
from scraper.core.text import display_text
from scraper.storage import articles
from scraper.storage import search as archive_search
from scraper.storage.articles import ArticleRecord, MentionRecord
from scraper.storage.engine import make_engine, session_factory, upgrade
from tests.conftest import dramawatch, make_config
from tests.site import FAULTS_CONFIG

# Unicode's bidirectional formatting characters: embeddings, overrides, isolates and marks.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _restored_logging() -> Iterator[None]:
    """``main`` installs its own root handlers; give pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)


def call_cli(config: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run ``dramawatch --config CONFIG ARGS`` in this process (fast: no interpreter start),
    with ``DRAMAWATCH_*`` taken from ``env`` only, as the subprocess helper does."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DRAMAWATCH_")}
    environ.update(env or {})
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, environ, clear=True),
        _restored_logging(),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = main(["--config", str(config), *args])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return CliResult(code, stdout.getvalue(), stderr.getvalue())


def assert_one_line_usage_error(result: CliResult, *expected: str) -> None:
    assert result.code == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dramawatch"), lines
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.stdout == ""


def assert_terminal_safe(text: str) -> None:
    """No C0/C1 control (but newline), no bidi formatting character, no lone surrogate."""
    for ch in text:
        assert ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cs"), repr(ch)
        assert ch not in BIDI_CONTROLS, repr(ch)


# ---------------------------------------------------------------- a small archive


def _record(n: int, title: str, text: str, source: str, entities: tuple[str, ...]) -> ArticleRecord:
    url = f"http://faults.test/cli/{n}"
    return ArticleRecord(
        canonical_url=url,
        urls=(url,),
        source=source,
        title=title,
        text=text,
        author=None,
        language="en",
        published_at=datetime(2026, 11, 20, 9, tzinfo=UTC) - timedelta(hours=n),
        mentions=tuple(MentionRecord(e, ((0, 4),)) for e in entities),
        signature=dedup.signature(text),
        content_hash=dedup.content_hash(title, text),
    )


def build_archive(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    records = [
        _record(
            1,
            "Queen of Tears soundtrack opens for pre-sale",
            "Kim Soo-hyun sings on the Queen of Tears soundtrack, a double album in a wedding "
            "photo book package, with a lyric booklet and photo cards for the fans.",
            "K-Wave Daily",
            ("Queen of Tears", "Kim Soo-hyun"),
        ),
        _record(
            2,
            "Kim Ji-won writes a farewell letter",
            "Kim Ji-won thanked viewers of Queen of Tears in a handwritten letter to the "
            "character she played, Hong Hae-in, posted after the finale aired.",
            "Slow Source",
            ("Queen of Tears", "Kim Ji-won"),
        ),
    ]
    with sessions.begin() as session:
        for rec in records:
            articles.store_article(session, rec, datetime(2026, 11, 20, 10, tzinfo=UTC))
    engine.dispose()


@pytest.fixture
def archive_config(database_url: str, tmp_path: Path) -> Path:
    """The faults config (its watch list and sources) over a two-article archive, on SQLite
    and on PostgreSQL."""
    build_archive(database_url)
    config = make_config(tmp_path, base=FAULTS_CONFIG)
    if not database_url.startswith("sqlite"):
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                f"sqlite:///{tmp_path / 'archive.db'}", database_url
            ),
            encoding="utf-8",
        )
    return config


# ---------------------------------------------------------------- search: bad input


MALFORMED_QUERIES = [
    ('"Queen of Tears', "unbalanced quote"),
    ('Kim "Soo-hyun', "unbalanced quote"),
    ('"', "unbalanced quote"),
    ("!!! ??? ...", "no words"),
    ("-", "no words"),
    ("OR", "no words"),
]
# FTS5 operators and column filters in the user's text are quoted as words, never run as syntax
ODD_BUT_VALID_QUERIES = [
    "NEAR(Kim Soo-hyun",
    "title:Kim",
    "Kim AND OR NOT",
    "^Kim",
    "Kim*",
    "((((Kim",
    "{Kim Ji-won}",
    "Kim -",
    "'Kim'",
    "김수현*",
]


def test_search_with_malformed_text_is_a_one_line_usage_error(archive_config: Path) -> None:
    for query, reason in MALFORMED_QUERIES:
        assert_one_line_usage_error(call_cli(archive_config, "search", query), reason)


def test_search_never_runs_the_users_text_as_engine_syntax(archive_config: Path) -> None:
    for query in ODD_BUT_VALID_QUERIES:
        result = call_cli(archive_config, "search", query, "--format", "json")
        assert result.code == 0, (query, result)
        assert isinstance(json.loads(result.stdout), list)


def test_nul_in_search_text_is_ignored_on_every_backend(database_url: str) -> None:
    """A shell cannot pass NUL in an argument, but the web app's query string can
    (``?q=Kim%00Ji-won``), and PostgreSQL refuses NUL in text parameters."""
    build_archive(database_url)
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            hits = archive_search.search(session, archive_search.SearchQuery(text="Kim\x00Ji-won"))
            assert [hit.article.title for hit in hits] == ["Kim Ji-won writes a farewell letter"]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--entity", "Park Bo-gum"], ("--entity", "unknown watch name", "'Park Bo-gum'")),
        (["--entity", ""], ("--entity", "unknown watch name")),
        (["--source", "Nowhere Daily"], ("--source", "unknown source", "'Nowhere Daily'")),
        (["--since", "yesterday"], ("--since", "not an ISO 8601")),
        (["--until", "2024-13-01"], ("--until", "not an ISO 8601")),
        (["--since", "2024-02-30"], ("--since", "not an ISO 8601")),
        (["--since", "2024-04-01T25:00"], ("--since", "not an ISO 8601")),
        (["--limit", "-1"], ("--limit",)),
        (["--limit", "ten"], ("--limit",)),
        (["--format", "xml"], ("--format",)),
        (["--bogus"], ("unrecognized arguments",)),
    ],
)
def test_search_with_bad_options_is_a_one_line_usage_error(
    tmp_path: Path, args: list[str], expected: tuple[str, ...]
) -> None:
    config = make_config(tmp_path, base=FAULTS_CONFIG)
    assert_one_line_usage_error(call_cli(config, "search", "Kim", *args), *expected)


def test_known_names_are_matched_whatever_their_case(archive_config: Path) -> None:
    result = call_cli(
        archive_config,
        "search",
        "--entity",
        "kim ji-won",
        "--source",
        "slow source",
        "--format",
        "json",
    )
    assert result.code == 0, result
    assert [hit["title"] for hit in json.loads(result.stdout)] == [
        "Kim Ji-won writes a farewell letter"
    ]


def test_bad_input_in_a_real_process_leaves_no_traceback(tmp_path: Path) -> None:
    """The same contract through the installed entry point, as a shell or cron sees it."""
    config = make_config(tmp_path, base=FAULTS_CONFIG)
    result = dramawatch(config, "search", '"Queen of Tears', "--since", "2024-04-01")
    assert result.returncode == 2, result
    assert result.stderr.strip() == "dramawatch: unbalanced quote in search text"
    assert result.stdout == ""


# ---------------------------------------------------------------- output safety


HOSTILE_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(
            sorted(BIDI_CONTROLS) + ["\x00", "\x1b", "\x9b", "\r", "\u2028", "\ufeff", "\ud800"]
        ),
    ),
    max_size=400,
)


@given(text=HOSTILE_TEXT, limit=st.integers(min_value=2, max_value=300))
@example(text="Kim\u061c \u200eSoo\u200f-hyun\ud800", limit=80)  # bidi marks, a lone surrogate
@settings(max_examples=300)
def test_display_text_removes_controls_and_bidi_and_bounds_length(text: str, limit: int) -> None:
    safe = display_text(text, limit)
    assert "\n" not in safe
    assert_terminal_safe(safe)
    assert len(safe) <= limit


def test_display_text_keeps_ordinary_text_and_marks_a_cut() -> None:
    assert display_text("“Queen of Tears” 눈물의 여왕 — Kim Soo-hyun's OST") == (
        "“Queen of Tears” 눈물의 여왕 — Kim Soo-hyun's OST"
    )
    # cut at a word boundary
    assert display_text("Kim Ji-won " * 1000, 90) == " ".join(["Kim Ji-won"] * 8) + "…"
