"""The one helper per job in scraper.core (issue 12): redaction, display text, the link
guard, absolutising, same-site, process identity."""

from __future__ import annotations

import os
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scraper.core.identity import process_gone, process_identity
from scraper.core.text import BIDI_CONTROLS, display_text, redact
from scraper.core.urls import absolute_http_url, http_link, same_site

PASSWORD = "s3:cr/e#t@pw"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("REDIS://:pw@host:6379/0", "REDIS://:***@host:6379/0"),
        ("redis://:pw@host", "redis://:***@host"),
        ("Postgresql+Psycopg://dw:pw@db/x", "Postgresql+Psycopg://dw:***@db/x"),
        (f"smtps://me:{PASSWORD}@mail.test:465", "smtps://me:***@mail.test:465"),
        (f"redis://:{PASSWORD}@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("cannot reach redis://:pw@h:1/0: refused", "cannot reach redis://:***@h:1/0: refused"),
        ("a smtp://u:p@h b redis://:q@r c", "a smtp://u:***@h b redis://:***@r c"),
        ("redis://10.0.0.5:6379/0", "redis://10.0.0.5:6379/0"),
        ("smtp://user@host:25", "smtp://user@host:25"),
        ("https://mastodon.example/@kim", "https://mastodon.example/@kim"),
        ("https://x.example/a?mail=a:b@c", "https://x.example/a?mail=a:b@c"),
        ("no url here: a:b@c", "no url here: a:b@c"),
    ],
)
def test_redact_hides_every_password(text: str, expected: str) -> None:
    assert redact(text) == expected


@given(
    scheme=st.sampled_from(["redis", "REDIS", "smtp", "Smtps", "postgresql+psycopg", "rediss"]),
    password=st.text(alphabet=st.sampled_from("abcXYZ019@:/#?%!"), min_size=1, max_size=20).filter(
        lambda p: any(c.isalnum() for c in p)
    ),
)
def test_no_part_of_a_password_survives(scheme: str, password: str) -> None:
    shown = redact(f"failed: {scheme}://user:{password}@db.example:5432/x (retrying)")
    assert shown == f"failed: {scheme}://user:***@db.example:5432/x (retrying)"


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        (None, 10, ""),
        ("  a\n\tb  ", 10, "a b"),
        ("a\x00b\x1fc\x7fd\x85e", 20, "a b c d e"),
        ("abc\u202edef\u202c", 20, "abcdef"),
        ("Kim\u061c \u200eSoo\u200f-hyun", 30, "Kim Soo-hyun"),
        ("lone \ud800 surrogate", 30, "lone surrogate"),
        ("one two three four", 12, "one two…"),
        ("x" * 50, 10, "x" * 9 + "…"),
        ("x" * 50, None, "x" * 50),
        ("김수현이 출연한 드라마", 30, "김수현이 출연한 드라마"),
    ],
)
def test_display_text(value: str | None, limit: int | None, expected: str) -> None:
    assert display_text(value, limit) == expected


@given(text=st.text(max_size=300), limit=st.integers(min_value=2, max_value=200))
def test_display_text_is_one_bounded_clean_line(text: str, limit: int) -> None:
    shown = display_text(text, limit)
    assert len(shown) <= limit
    assert "\n" not in shown and not BIDI_CONTROLS & set(shown)
    assert all(ord(c) >= 32 and not 0x7F <= ord(c) < 0xA0 for c in shown)
    assert all(not 0xD800 <= ord(c) <= 0xDFFF for c in shown)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://kwave.example/a", "https://kwave.example/a"),
        ("HTTPS://ok.test/a", "HTTPS://ok.test/a"),
        (None, None),
        ("", None),
        ("javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("//kwave.example/a", None),
        ("https://kwave.example/a b", None),
        ("https://kwave.example/\u202eevil", None),
        ("https://kwave.example/a\x85b", None),
        ('https://kwave.example/"onmouseover="x', None),
        ("https://kwave.example/a\\b", None),
        ("https://kwave.example/odd?x=<b>", "https://kwave.example/odd?x=<b>"),
    ],
)
def test_http_link(url: str | None, expected: str | None) -> None:
    assert http_link(url) == expected


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        ("/a/b", "https://kwave.test/list/", "https://kwave.test/a/b"),
        ("c#comments", "https://kwave.test/list/", "https://kwave.test/list/c"),
        ("https://other.test/x", "https://kwave.test/", "https://other.test/x"),
        (" /a\t/b\n", "https://kwave.test/", "https://kwave.test/a/b"),
        ("#top", "https://kwave.test/", None),
        ("mailto:a@b.test", "https://kwave.test/", None),
        ("javascript:void(0)", "https://kwave.test/", None),
        ("http://[::1", "https://kwave.test/", None),
        ("/a b", "https://kwave.test/", None),
        (None, "https://kwave.test/", None),
    ],
)
def test_absolute_http_url(href: str | None, base: str, expected: str | None) -> None:
    assert absolute_http_url(href, base) == expected


def test_same_site_ignores_rendering_prefixes_only() -> None:
    assert same_site("https://www.kwave.test/a", "http://m.kwave.test/b")
    assert not same_site("https://news.kwave.test/a", "https://kwave.test/b")
    assert not same_site("https://kwave.test/a", "not a url")


def test_process_identity_is_host_and_pid() -> None:
    assert process_identity() == f"{socket.gethostname()}:{os.getpid()}"
    assert not process_gone(process_identity())
    assert not process_gone("another-host.invalid:1")
