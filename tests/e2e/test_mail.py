"""Mailing digests to a real SMTP server (aiosmtpd on loopback), exactly once per window,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digests.publish import EPOCH, run_digest
from digests.send import DeliveryError, parse_smtp_url, transmit
from scraper.core.text import redact as redact_url
from scraper.storage.models import Digest
from tests.digest_fixtures import NOW, Mailbox, Piece, free_port, make_config, pieces, store

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = ("fan@example.org", "editor@example.org")
USER, PASSWORD = "digest-bot", "s3cr3t-Pa55word"


def _authenticate(mailbox: Mailbox) -> Any:
    def check(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        if ok:
            mailbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    return check


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=_authenticate(box),
        auth_require_tls=False,
    )
    controller.start()
    yield box
    controller.stop()


def digest_rows(sessions: sessionmaker[Session]) -> list[Digest]:
    with sessions() as session:
        return list(session.scalars(select(Digest).order_by(Digest.id)))


def only_message(box: Mailbox) -> EmailMessage:
    messages = box.messages()
    assert len(messages) == 1, f"expected one message, got {len(messages)}"
    return messages[0]


# ---------------------------------------------------------------- what arrives


def test_digest_arrives_as_one_multipart_alternative_message(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    store(sessions, pieces())
    config = make_config(tmp_path, database_url, recipients=RECIPIENTS, smtp_url=mailbox.url)
    result = run_digest(config, sessions, send=True, now=NOW)
    assert result.sent and result.story_count == 4

    message = only_message(mailbox)
    mail_from, rcpt_tos, _ = mailbox.received[0]
    assert mail_from == "dramawatch@example.org"
    assert sorted(rcpt_tos) == sorted(RECIPIENTS)
    assert message["From"] == "dramawatch@example.org"
    assert message["To"] == "fan@example.org, editor@example.org"
    assert message["Subject"] == "Queen of Tears digest, 20 Nov 2026: 4 new stories"
    assert parsedate_to_datetime(message["Date"]) == NOW
    assert re.fullmatch(
        r"<dramawatch\.digest\.\d+\.20261120T090000Z@example\.org>", message["Message-ID"]
    )
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)

    text, html = (p.get_content() for p in parts)  # type: ignore[attr-defined]
    assert "Queen of Tears director's cut adds twenty unseen minutes" in text
    assert "- Hallyu Wire: https://hallyu-wire.example/news/8812" in text
    assert "Kwak Dong-yeon" in text and "<script>alert('title')</script>" in text
    # the HTML part: CSS inlined, article markup escaped, only http(s) links
    assert 'style="' in html and "<link" not in html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert('title')&lt;/script&gt;" in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    assert "javascript:" not in "".join(hrefs)
    assert "Mentions per day" in html

    (row,) = digest_rows(sessions)
    assert (row.window_start, row.window_end) == (EPOCH, NOW)
    assert row.delivered_at == NOW and row.attempts == 1 and row.last_error is None
    assert sorted(row.recipients) == sorted(RECIPIENTS)
    assert Path(row.html_path) == result.html_path and result.html_path.exists()


def test_a_window_is_mailed_once_and_again_only_when_forced(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    store(sessions, pieces())
    config = make_config(tmp_path, database_url, recipients=RECIPIENTS, smtp_url=mailbox.url)
    first = run_digest(config, sessions, send=True, now=NOW)
    assert first.sent
    # the same window again: recorded as mailed, so not mailed
    again = run_digest(
        config, sessions, since=EPOCH, until=NOW, send=True, now=NOW + timedelta(minutes=5)
    )
    assert not again.sent and again.html_path == first.html_path
    # the default window now starts where the mailed one ended: nothing new, nothing mailed
    empty = run_digest(config, sessions, send=True, now=NOW + timedelta(hours=1))
    assert (empty.window_start, empty.story_count, empty.sent) == (NOW, 0, False)
    assert len(mailbox.received) == 1
    # --force mails the window again, under its own Message-ID
    forced = run_digest(
        config,
        sessions,
        since=EPOCH,
        until=NOW,
        send=True,
        force=True,
        now=NOW + timedelta(hours=2),
    )
    assert forced.sent
    first_id, forced_id = (m["Message-ID"] for m in mailbox.messages())
    assert first_id != forced_id
    # a new story later is mailed alone in the next window
    late = Piece(
        "https://kwave.example/2026/11/late-news",
        "K-Wave Daily",
        "Kim Ji-won to host a year-end awards show",
        "Kim Ji-won will host the broadcaster's year-end awards show alongside a comedian, "
        "the network said, her first time hosting a live ceremony since her debut.",
        ("Kim Ji-won",),
        NOW + timedelta(hours=2, minutes=30),
    )
    store(sessions, [late])
    nxt = run_digest(config, sessions, send=True, now=NOW + timedelta(hours=3))
    assert nxt.sent and nxt.story_count == 1
    latest = mailbox.messages()[-1]
    assert latest["Subject"] == "Queen of Tears digest, 20 Nov 2026: 1 new story"
    body = latest.get_body(("plain",))
    assert body is not None and "Kim Ji-won to host a year-end awards show" in body.get_content()
    assert "director's cut" not in body.get_content()
    assert len(mailbox.received) == 3


def test_refused_send_is_recorded_and_delivered_by_the_next_run(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    store(sessions, pieces())
    config = make_config(tmp_path, database_url, recipients=RECIPIENTS, smtp_url=mailbox.url)
    mailbox.refuse = 1
    with pytest.raises(DeliveryError, match="451 4.3.0 Mailbox busy"):
        run_digest(config, sessions, send=True, now=NOW)
    assert mailbox.received == []
    (row,) = digest_rows(sessions)
    assert row.delivered_at is None and row.attempts == 1
    assert row.last_error is not None and "451" in row.last_error
    failed_html = Path(row.html_path)
    assert failed_html.exists()  # written even though not mailed

    retry = run_digest(config, sessions, send=True, now=NOW + timedelta(hours=1))
    assert retry.sent and retry.story_count == 4
    assert retry.window_start == EPOCH and retry.window_end == NOW + timedelta(hours=1)
    only_message(mailbox)
    (row,) = digest_rows(sessions)  # the undelivered row was extended, not duplicated
    assert (
        row.delivered_at == NOW + timedelta(hours=1)
        and row.attempts == 2
        and row.last_error is None
    )
    # the extended window's files replace the failed run's
    assert failed_html != retry.html_path and not failed_html.exists()
    assert list(retry.html_path.parent.glob("digest-*.html")) == [retry.html_path]


def test_crash_between_render_and_send_then_restart_mails_once(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    """A `digest --send` killed (SIGKILL) while it waits on the SMTP server, then run again."""
    store(sessions, pieces())
    config = make_config(tmp_path, database_url, recipients=RECIPIENTS)
    # a server that accepts the connection and never answers: the sender hangs mid-send
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    connected = threading.Event()

    def hold() -> None:
        conn, _ = silent.accept()
        connected.set()
        time.sleep(30)
        conn.close()

    threading.Thread(target=hold, daemon=True).start()
    env = {**os.environ, "DRAMAWATCH_SMTP_URL": f"smtp://127.0.0.1:{silent.getsockname()[1]}"}
    env["PYTHONPATH"] = str(ROOT)
    child = subprocess.Popen(
        [sys.executable, "-m", "scraper.app.cli", "--config", str(config.path), "digest", "--send"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert connected.wait(60), "the digest never tried to mail"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        silent.close()
    (row,) = digest_rows(sessions)
    assert row.delivered_at is None and Path(row.html_path).exists()
    assert row.attempts == 0  # the claim died with the process

    restarted = make_config(tmp_path, database_url, recipients=RECIPIENTS, smtp_url=mailbox.url)
    assert run_digest(restarted, sessions, send=True, now=NOW + timedelta(minutes=1)).sent
    assert not run_digest(restarted, sessions, send=True, now=NOW + timedelta(minutes=2)).sent
    message = only_message(mailbox)
    assert message["Subject"] == "Queen of Tears digest, 20 Nov 2026: 4 new stories"


def test_two_concurrent_senders_mail_once(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    store(sessions, pieces())
    config = make_config(tmp_path, database_url, recipients=RECIPIENTS, smtp_url=mailbox.url)
    results: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def send(offset: int) -> None:
        start.wait()
        try:
            results.append(
                run_digest(config, sessions, send=True, now=NOW + timedelta(seconds=offset)).sent
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(results) == [False, True]
    message = only_message(mailbox)
    assert "4 new stories" in message["Subject"]


# ---------------------------------------------------------------- what is not mailed


def test_without_recipients_written_is_delivered(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    store(sessions, pieces())
    config = make_config(tmp_path, database_url, smtp_url=mailbox.url)
    first = run_digest(config, sessions, send=True, now=NOW)
    assert not first.sent and first.story_count == 4
    second = run_digest(config, sessions, now=NOW + timedelta(hours=1))
    assert second.window_start == NOW and second.story_count == 0
    assert mailbox.received == []
    assert all(row.delivered_at is not None for row in digest_rows(sessions))


def test_nothing_new_is_not_mailed_unless_configured(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    quiet = make_config(tmp_path, database_url, recipients=RECIPIENTS, smtp_url=mailbox.url)
    assert not run_digest(quiet, sessions, send=True, now=NOW).sent
    assert mailbox.received == []
    chatty = make_config(
        tmp_path,
        database_url,
        recipients=RECIPIENTS,
        smtp_url=mailbox.url,
        extra_digest="send_empty = true",
    )
    assert run_digest(chatty, sessions, send=True, now=NOW + timedelta(hours=1)).sent
    assert only_message(mailbox)["Subject"] == "Queen of Tears digest, 20 Nov 2026: 0 new stories"


def test_recipients_without_smtp_url_is_one_clear_error(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    config = make_config(tmp_path, database_url, recipients=RECIPIENTS)
    store(sessions, pieces()[:1])
    with pytest.raises(DeliveryError, match="DRAMAWATCH_SMTP_URL is not set"):
        run_digest(config, sessions, send=True, now=NOW)
    (row,) = digest_rows(sessions)
    assert row.delivered_at is None


def test_index_lists_digests_newest_first(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    config = make_config(tmp_path, database_url)
    store(sessions, pieces())
    first = run_digest(config, sessions, now=NOW)
    second = run_digest(config, sessions, now=NOW + timedelta(days=1))
    index = (config.digest.output_dir / "index.html").read_text(encoding="utf-8")
    links = list(dict.fromkeys(re.findall(r'<a href="([^"]+\.html)"', index)))
    assert links == [second.html_path.name, first.html_path.name]
    assert all((config.digest.output_dir / name).exists() for name in links)


# ---------------------------------------------------------------- SMTP URLs and secrets


def test_login_works_and_passwords_never_show(
    sessions: sessionmaker[Session],
    database_url: str,
    tmp_path: Path,
    mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    store(sessions, pieces()[:2])
    wrong = f"smtp://{USER}:not-{PASSWORD}@127.0.0.1:{mailbox.port}"
    config = make_config(tmp_path, database_url, recipients=RECIPIENTS, smtp_url=wrong)
    with pytest.raises(DeliveryError) as refused:
        run_digest(config, sessions, send=True, now=NOW)
    assert "535" in str(refused.value)
    right = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{mailbox.port}"
    config = make_config(tmp_path, database_url, recipients=RECIPIENTS, smtp_url=right)
    assert run_digest(config, sessions, send=True, now=NOW + timedelta(minutes=1)).sent
    assert mailbox.logins == [USER]
    out = capsys.readouterr()
    stored = " ".join(str(row.last_error) for row in digest_rows(sessions))
    for shown in (caplog.text, out.out, out.err, str(refused.value), stored):
        assert PASSWORD not in shown


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", ("mail.example.org", 25, False, False, None, None)),
        (
            "smtp://u:p@mail.example.org:2525?starttls=1",
            ("mail.example.org", 2525, False, True, "u", "p"),
        ),
        (
            "smtps://me%40example.org:p%3Aw%40rd@mail.example.org",
            ("mail.example.org", 465, True, False, "me@example.org", "p:w@rd"),
        ),
        (
            "smtps://mail.example.org:2465?starttls=1",
            ("mail.example.org", 2465, True, False, None, None),
        ),
    ],
)
def test_parse_smtp_url(url: str, expected: tuple[Any, ...]) -> None:
    settings = parse_smtp_url(url)
    assert (
        settings.host,
        settings.port,
        settings.implicit_tls,
        settings.starttls,
        settings.username,
        settings.password,
    ) == expected
    assert "p:w@rd" not in repr(settings)


def test_bad_smtp_url_errors_hide_the_password() -> None:
    with pytest.raises(DeliveryError) as bad:
        parse_smtp_url(f"smtp://{USER}:{PASSWORD}@mail.example.org:notaport")
    assert PASSWORD not in str(bad.value)
    assert (
        redact_url(f"smtps://{USER}:{PASSWORD}@h:465/?starttls=1")
        == f"smtps://{USER}:***@h:465/?starttls=1"
    )
    assert redact_url("smtp://h:25") == "smtp://h:25"


# ---------------------------------------------------------------- TLS


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_modes(tmp_path: Path, mode: str) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    box = Mailbox(port=free_port())
    options: dict[str, Any] = (
        {"tls_context": server_tls, "require_starttls": True}
        if mode == "starttls"
        else {"ssl_context": server_tls}
    )
    controller = Controller(box, hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    try:
        url = (
            f"smtp://127.0.0.1:{box.port}?starttls=1"
            if mode == "starttls"
            else f"smtps://127.0.0.1:{box.port}"
        )
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", "tls"
        message.set_content("over TLS")
        client_tls = ssl.create_default_context(cafile=str(cert))
        transmit(message, parse_smtp_url(url), ssl_context=client_tls)
        # without trusting the certificate the send fails, with one reason
        with pytest.raises(
            DeliveryError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"
        ):
            transmit(message, parse_smtp_url(url))
    finally:
        controller.stop()
    assert len(box.received) == 1
