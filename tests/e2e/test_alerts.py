"""Push alerts (issue 15): real apprise ``json://`` posting to a loopback receiver the test
starts, which keeps every payload; the archive on SQLite and PostgreSQL; run-once on the
fixture site end to end."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scraper.alerts.build import build_message
from scraper.alerts.deliver import deliver_alerts
from scraper.alerts.send import mask_secrets
from scraper.app.service import Service, status_lines
from scraper.config import Config, ConfigError, load_config
from scraper.core import dedup
from scraper.storage import alerts as deliveries
from scraper.storage import articles
from scraper.storage.alerts import AlertStory
from scraper.storage.articles import ArticleRecord, MentionRecord
from scraper.storage.engine import make_engine, session_factory, upgrade
from scraper.storage.models import AlertDelivery
from tests.conftest import dramawatch, make_config
from tests.site import FixtureSite
from web.app import create_app

# the secret parts of the receiver's URL: a password and a token in the path
PASSWORD = "pw-Zq8SECRET"
TOKEN = "tok-7Hk2SECRET"
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


@dataclass
class Receiver:
    """A loopback webhook: answers each POST with the next of ``statuses`` (then 200) and
    keeps the JSON payloads apprise posted."""

    server: ThreadingHTTPServer
    delay_s: float = 0.0
    payloads: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def url(self, name: str = "phone") -> str:
        port = self.server.server_address[1]
        return f"json://alerts:{PASSWORD}@127.0.0.1:{port}/{name}/{TOKEN}"

    def posted(self, name: str) -> list[dict[str, Any]]:
        return [p for p, path in zip(self.payloads, self.paths, strict=True) if f"/{name}/" in path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = Receiver(server)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(state.delay_s)
            status = state.statuses.pop(0) if state.statuses else 200
            if status == 200:
                state.payloads.append(json.loads(body))
                state.paths.append(self.path)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def alerts_toml(*alerts: dict[str, Any]) -> str:
    blocks = []
    for alert in alerts:
        lines = ["[[alerts]]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in alert.items()]
        blocks.append("\n".join(lines))
    return "\n\n" + "\n\n".join(blocks) + "\n"


def config_with(directory: Path, *alerts: dict[str, Any], sources: int | None = None) -> Path:
    """The fixture site's config (its first ``sources`` outlets) plus these [[alerts]]."""
    path = make_config(directory)
    text = path.read_text(encoding="utf-8")
    if sources is not None:
        head, *rest = text.split("[[sources]]")
        text = head + "".join("[[sources]]" + block for block in rest[:sources])
    path.write_text(text + alerts_toml(*alerts), encoding="utf-8")
    return path


def env_for(receiver: Receiver, *names: str) -> dict[str, str]:
    env = {f"DRAMAWATCH_ALERT_{name.upper()}": receiver.url(name) for name in names}
    # apprise posts through requests, which honours the fixture site's http_proxy
    return {**env, "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1"}


# ---------------------------------------------------------------- building a message (pure)


def story(n: int, title: str, outlets: tuple[str, ...], entities: tuple[str, ...]) -> AlertStory:
    return AlertStory(
        story_id=n,
        title=title,
        when=NOW - timedelta(hours=n),
        outlets=outlets,
        url=f"https://kwave.example/news/{n}",
        entities=entities,
    )


def test_one_message_lists_stories_newest_first_one_line_each() -> None:
    stories = [
        story(3, "Third", ("DramaBeat",), ("Kim Ji-won",)),
        story(1, "First", ("K-Wave Daily", "DramaBeat"), ("Kim Soo-hyun", "Queen of Tears")),
        story(2, "Second", ("Seoul Screen",), ("Queen of Tears",)),
    ]
    message = build_message(
        stories,
        label="Queen of Tears",
        watch_order=["Queen of Tears", "Kim Soo-hyun", "Kim Ji-won"],
        max_items=10,
        body_format="markdown",
    )
    assert message.title == "Queen of Tears: 3 new stories"
    assert message.body.splitlines() == [
        "- [First](https://kwave.example/news/1) · K-Wave Daily, DramaBeat · "
        "Queen of Tears, Kim Soo-hyun",
        "- [Second](https://kwave.example/news/2) · Seoul Screen · Queen of Tears",
        "- [Third](https://kwave.example/news/3) · DramaBeat · Kim Ji-won",
    ]
    text = build_message(
        stories[:1], label="Kim Ji-won", watch_order=[], max_items=10, body_format="text"
    )
    assert text.title == "Kim Ji-won: 1 new story"
    assert text.body == "- Third | DramaBeat | https://kwave.example/news/3 | Kim Ji-won"


def test_max_items_then_and_n_more() -> None:
    stories = [story(n, f"Story {n}", ("DramaBeat",), ("Kim Ji-won",)) for n in range(1, 8)]
    message = build_message(
        stories, label="Kim Ji-won", watch_order=[], max_items=3, body_format="text"
    )
    lines = message.body.splitlines()
    assert [line.split(" | ")[0] for line in lines[:3]] == ["- Story 1", "- Story 2", "- Story 3"]
    assert lines[3:] == ["and 4 more"]
    assert message.title == "Kim Ji-won: 7 new stories"
    assert len(message.story_ids) == 7


def test_a_hostile_title_cannot_make_links_or_break_lines() -> None:
    hostile = story(1, "Click [here](http://evil.test)\n<b>*now*</b>\u202e", ("X_Y",), ())
    hostile = AlertStory(**{**hostile.__dict__, "url": "javascript:alert(1)"})
    message = build_message(
        [hostile], label="L", watch_order=[], max_items=5, body_format="markdown"
    )
    assert message.body == r"- Click \[here\](http://evil.test) \*now\* · X\_Y"
    assert "\u202e" not in message.body and "javascript" not in message.body


def test_masking_covers_the_url_and_each_of_its_parts() -> None:
    url = f"tgram://123456:{TOKEN}/98765432/?format=markdown"
    text = f"failed for {url}; bot 123456:{TOKEN}; chat 98765432; token {TOKEN}"
    masked = mask_secrets(text, [url])
    assert TOKEN not in masked and "98765432" not in masked and "123456" not in masked
    assert masked.startswith("failed for ***")


# ---------------------------------------------------------------- deliveries on both backends


def record(n: int, title: str, source: str, entities: tuple[str, ...]) -> ArticleRecord:
    text = (
        (f"{title}. " + " ".join(f"{e} was mentioned in report {n} of the week." for e in entities))
        + f" Words that make report {n} its own: "
        + " ".join(f"w{n}x{i}" for i in range(40))
    )
    url = f"http://kwave.test/news/alert-{n}/"
    return ArticleRecord(
        canonical_url=url,
        urls=(url,),
        source=source,
        title=title,
        text=text,
        author=None,
        language="en",
        published_at=NOW - timedelta(hours=10 - n),
        mentions=tuple(MentionRecord(e, ((0, 4),)) for e in entities),
        signature=dedup.signature(text),
        content_hash=dedup.content_hash(title, text),
    )


def store(sessions: sessionmaker[Session], *records: ArticleRecord, at: datetime = NOW) -> None:
    with sessions.begin() as session:
        for item in records:
            articles.store_article(session, item, at)


def in_process_config(tmp_path: Path, receiver: Receiver, *alerts: dict[str, Any]) -> Config:
    path = config_with(tmp_path, *alerts)
    return load_config(path, env=env_for(receiver, *(a["name"] for a in alerts)))


def phone(**extra: Any) -> dict[str, Any]:
    return {"name": "phone", "url_env": "DRAMAWATCH_ALERT_PHONE", **extra}


def test_a_failing_service_keeps_the_backlog_which_then_arrives_once(
    tmp_path: Path, receiver: Receiver, sessions: sessionmaker[Session]
) -> None:
    config = in_process_config(tmp_path, receiver, phone())
    since = NOW - timedelta(minutes=5)
    store(
        sessions,
        record(1, "Kim Soo-hyun records a ballad", "K-Wave Daily", ("Kim Soo-hyun",)),
        record(2, "Queen of Tears tops the chart", "DramaBeat", ("Queen of Tears",)),
    )
    receiver.statuses = [500]
    [failed] = deliver_alerts(config, sessions, "run", since=since, now=NOW + timedelta(minutes=1))
    assert not failed.delivered and failed.stories == 2
    assert failed.reason is not None and "500" in failed.reason
    assert receiver.payloads == []
    with sessions() as session:
        rows = session.scalars(select(AlertDelivery)).all()
        assert {(r.state, r.attempts) for r in rows} == {("failed", 1)}
        assert all(r.last_error and "500" in r.last_error for r in rows)
    lines = status_lines(config, sessions)
    assert any("alert phone: no delivery yet; last failure" in line for line in lines), lines
    assert any("2 stories waiting for the next run" in line for line in lines), lines

    store(
        sessions,
        record(3, "Kim Ji-won thanks the fans", "Seoul Screen", ("Kim Ji-won",)),
        at=NOW + timedelta(minutes=30),
    )
    [sent] = deliver_alerts(config, sessions, "run", now=NOW + timedelta(minutes=31))
    assert sent.delivered and sent.stories == 3
    [payload] = receiver.payloads
    assert payload["title"] == "Queen of Tears: 3 new stories"
    assert [line.split("](")[0] for line in payload["message"].splitlines()] == [
        "- [Kim Ji-won thanks the fans",
        "- [Queen of Tears tops the chart",
        "- [Kim Soo-hyun records a ballad",
    ]
    # a rerun, a restart or a second scheduler finds nothing left to send
    assert deliver_alerts(config, sessions, "run", now=NOW + timedelta(minutes=40)) == []
    assert len(receiver.payloads) == 1
    with sessions() as session:
        assert {r.state for r in session.scalars(select(AlertDelivery))} == {"delivered"}
    lines = status_lines(config, sessions)
    assert any(
        re.search(r"alert phone: last delivery .* \(3 stories\); last failure", line)
        for line in lines
    ), lines
    page = create_app(sessions, config).test_client().get("/sources")
    assert page.status_code == 200
    [row] = lxml.html.fromstring(page.data).xpath("//table[@class='alerts']/tbody/tr")
    cells = [cell.text_content().strip() for cell in row]
    assert cells[0] == "phone" and cells[1] == "ok" and "3 stories" in cells[2]
    assert "500" in cells[3] and cells[4:] == ["3", "0", "0"]


def test_an_unreachable_service_is_a_failure_with_its_reason(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()
    url = f"json://alerts:{PASSWORD}@127.0.0.1:{port}/phone/{TOKEN}"
    config = load_config(config_with(tmp_path, phone()), env={"DRAMAWATCH_ALERT_PHONE": url})
    store(sessions, record(1, "Kim Soo-hyun records a ballad", "K-Wave Daily", ("Kim Soo-hyun",)))
    [outcome] = deliver_alerts(config, sessions, "run", since=NOW - timedelta(hours=1))
    assert not outcome.delivered
    assert outcome.reason is not None and "connection error" in outcome.reason.lower()
    assert TOKEN not in outcome.reason and PASSWORD not in outcome.reason


def test_a_service_that_times_out_is_a_failure_and_the_stories_wait(
    tmp_path: Path, receiver: Receiver, sessions: sessionmaker[Session]
) -> None:
    env = {"DRAMAWATCH_ALERT_PHONE": receiver.url() + "?rto=0.5"}  # apprise's read timeout
    config = load_config(config_with(tmp_path, phone()), env=env)
    store(sessions, record(1, "Kim Soo-hyun records a ballad", "K-Wave Daily", ("Kim Soo-hyun",)))
    receiver.delay_s = 2.0
    [outcome] = deliver_alerts(config, sessions, "run", since=NOW - timedelta(hours=1))
    assert not outcome.delivered and outcome.reason
    assert "timeout" in outcome.reason.lower() or "timed out" in outcome.reason.lower()
    receiver.delay_s = 0.0
    receiver.payloads.clear()  # the late answer to the timed-out post
    receiver.paths.clear()
    [outcome] = deliver_alerts(config, sessions, "run")
    assert outcome.delivered and len(receiver.payloads) == 1


def test_concurrent_runs_send_each_story_once(
    tmp_path: Path, receiver: Receiver, sessions: sessionmaker[Session]
) -> None:
    config = in_process_config(tmp_path, receiver, phone())
    titles = [f"Kim Soo-hyun story number {n}" for n in range(1, 7)]
    store(
        sessions,
        *(record(n, t, "K-Wave Daily", ("Kim Soo-hyun",)) for n, t in enumerate(titles, 1)),
    )
    with sessions.begin() as session:
        deliveries.ensure_alert(session, "phone", NOW - timedelta(hours=1))
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        deliver_alerts(config, sessions, "run")

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listed = [line for p in receiver.payloads for line in p["message"].splitlines()]
    assert sorted(line.split("](")[0][3:] for line in listed) == sorted(titles)


def test_a_send_interrupted_before_its_outcome_is_never_resent(
    tmp_path: Path, receiver: Receiver, sessions: sessionmaker[Session]
) -> None:
    config = in_process_config(tmp_path, receiver, phone())
    store(sessions, record(1, "Kim Soo-hyun records a ballad", "K-Wave Daily", ("Kim Soo-hyun",)))
    with sessions.begin() as session:  # a run claimed, perhaps sent, then died
        deliveries.ensure_alert(session, "phone", NOW - timedelta(hours=1))
        deliveries.claim_stories(
            session,
            alert="phone",
            watch=["Kim Soo-hyun"],
            until=NOW + timedelta(hours=1),
            claim="dead",
            now=NOW,
        )
    assert deliver_alerts(config, sessions, "run") == []
    assert receiver.payloads == []
    lines = status_lines(config, sessions)
    assert any("1 story in doubt" in line for line in lines), lines


def test_two_claims_never_share_a_story(sessions: sessionmaker[Session]) -> None:
    store(sessions, record(1, "Kim Soo-hyun records a ballad", "K-Wave Daily", ("Kim Soo-hyun",)))
    with sessions.begin() as session:
        deliveries.ensure_alert(session, "phone", NOW - timedelta(hours=1))
    claimed = []
    for claim in ("first", "second"):
        with sessions.begin() as session:
            claimed.append(
                deliveries.claim_stories(
                    session,
                    alert="phone",
                    watch=["Kim Soo-hyun"],
                    until=NOW + timedelta(hours=1),
                    claim=claim,
                    now=NOW,
                )
            )
    assert len(claimed[0]) == 1 and claimed[1] == []


def test_a_watch_filter_sends_only_the_stories_naming_its_entries(
    tmp_path: Path, receiver: Receiver, sessions: sessionmaker[Session]
) -> None:
    config = in_process_config(tmp_path, receiver, phone(watch=["kim ji-won"], format="text"))
    assert config.alerts[0].watch == ("Kim Ji-won",)
    store(
        sessions,
        record(1, "Kim Soo-hyun records a ballad", "K-Wave Daily", ("Kim Soo-hyun",)),
        record(2, "Kim Ji-won thanks the fans", "Seoul Screen", ("Kim Ji-won", "Queen of Tears")),
    )
    [outcome] = deliver_alerts(config, sessions, "run", since=NOW - timedelta(hours=1))
    assert outcome.delivered and outcome.stories == 1
    [payload] = receiver.payloads
    assert payload["title"] == "Kim Ji-won: 1 new story"
    assert payload["message"] == (
        "- Kim Ji-won thanks the fans | Seoul Screen | http://kwave.test/news/alert-2/ | "
        "Queen of Tears, Kim Ji-won"
    )


def test_the_scheduler_sends_digest_alerts_with_each_digest(
    tmp_path: Path, receiver: Receiver, sessions: sessionmaker[Session]
) -> None:
    digest_alert = {"name": "daily", "url_env": "DRAMAWATCH_ALERT_DAILY", "mode": "digest"}
    config = in_process_config(tmp_path, receiver, digest_alert, phone())
    store(sessions, record(1, "Kim Ji-won thanks the fans", "Seoul Screen", ("Kim Ji-won",)))
    service = Service(config, sessions)
    service.active.set()
    service.digest()
    assert [p["title"] for p in receiver.posted("daily")] == ["Queen of Tears: 1 new story"]
    assert receiver.posted("phone") == [], "a run alert waits for a crawl run"
    service.digest()
    assert len(receiver.payloads) == 1


def test_the_scheduler_crawl_job_sends_run_alerts_once(
    tmp_path: Path, site: FixtureSite, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_with(tmp_path, phone(), sources=1)
    env = {**site.proxy_env(), **env_for(receiver, "phone")}
    for key, value in env.items():  # the crawl child inherits the scheduler's environment
        monkeypatch.setenv(key, value)
    config = load_config(path, env=env)
    engine = make_engine(config.database_url)
    upgrade(engine)
    service = Service(config, session_factory(engine))
    service.active.set()
    try:
        service.crawl()
        [payload] = receiver.posted("phone")
        assert re.fullmatch(r"Queen of Tears: \d+ new stories", payload["title"])
        service.crawl()
        assert len(receiver.payloads) == 1, "the second crawl found nothing new"
    finally:
        engine.dispose()


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("alerts", "env", "expected"),
    [
        ([phone(), phone()], {"DRAMAWATCH_ALERT_PHONE": "json://h/x"}, "duplicated alert name"),
        (
            [phone(watch=["Nobody"])],
            {"DRAMAWATCH_ALERT_PHONE": "json://h/x"},
            "unknown watch entry 'Nobody'",
        ),
        ([phone(mode="hourly")], {"DRAMAWATCH_ALERT_PHONE": "json://h/x"}, "must be one of run"),
        ([phone()], {}, "$DRAMAWATCH_ALERT_PHONE is not set"),
        (
            [phone()],
            {"DRAMAWATCH_ALERT_PHONE": f"nosuchservice://{TOKEN}"},
            "$DRAMAWATCH_ALERT_PHONE does not hold an apprise URL",
        ),
        ([phone(max_items=0)], {"DRAMAWATCH_ALERT_PHONE": "json://h/x"}, "at least 1"),
    ],
)
def test_alert_mistakes_are_one_line_naming_the_variable_never_its_value(
    tmp_path: Path, alerts: list[dict[str, Any]], env: dict[str, str], expected: str
) -> None:
    path = config_with(tmp_path, *alerts)
    with pytest.raises(ConfigError) as error:
        load_config(path, env=env)
    message = str(error.value)
    assert expected in message and "\n" not in message
    assert TOKEN not in message


def test_a_bad_alert_url_exits_2_in_one_line_without_the_secret(tmp_path: Path) -> None:
    path = config_with(tmp_path, phone())
    result = dramawatch(
        path, "-vv", "status", DRAMAWATCH_ALERT_PHONE=f"nosuchservice://{PASSWORD}/{TOKEN}"
    )
    assert result.returncode == 2
    assert "DRAMAWATCH_ALERT_PHONE" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert TOKEN not in result.stderr + result.stdout and PASSWORD not in result.stderr


# ---------------------------------------------------------------- alerts test NAME


def test_alerts_test_says_whether_the_message_was_delivered(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = config_with(tmp_path, phone())
    env = env_for(receiver, "phone")
    ok = dramawatch(path, "alerts", "test", "Phone", **env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "alert phone: test message delivered"
    [payload] = receiver.payloads
    assert payload["title"] == "dramawatch: test message"

    receiver.statuses = [500]
    failed = dramawatch(path, "-vv", "alerts", "test", "phone", **env)
    assert failed.returncode == 1
    [line] = [x for x in failed.stderr.splitlines() if "test message not delivered" in x]
    assert "500" in line
    output = failed.stdout + failed.stderr
    assert TOKEN not in output and PASSWORD not in output

    unknown = dramawatch(path, "alerts", "test", "pager", **env)
    assert unknown.returncode == 2 and "unknown alert 'pager'" in unknown.stderr


# ---------------------------------------------------------------- end to end on the fixture site

NEW_ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Kim Ji-won starts filming a new romance</title>
<link rel="canonical" href="http://kwave.test/news/kim-ji-won-starts-filming-a-new-romance/">
<meta property="article:published_time" content="{{date:-1h:iso}}"></head>
<body><main><article><h1>Kim Ji-won starts filming a new romance</h1>
<p>Kim Ji-won, who played Hong Hae-in in Queen of Tears, began filming her next drama this
week on a quiet set by the sea outside Gangneung, the production company said on Monday.</p>
<p>The twelve-episode series follows a lighthouse keeper and a radio host who trade letters
through a winter of storms. Filming runs until the spring, and the first episode is planned
for the autumn schedule of a cable channel.</p>
<p>The crew shared a photo of the first script reading, where Kim Ji-won sat beside the
director with a thermos of barley tea and a script full of coloured tabs.</p>
</article></main></body></html>
"""
NEW_ITEM = """<item><title>Kim Ji-won starts filming a new romance</title>
<link>http://kwave.test/news/kim-ji-won-starts-filming-a-new-romance/</link>
<pubDate>{date}</pubDate></item>
"""


def dump_database(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        return "\n".join(connection.iterdump())


def test_run_once_twice_sends_each_runs_new_stories_once(
    tmp_path: Path, site: FixtureSite, receiver: Receiver
) -> None:
    path = config_with(
        tmp_path,
        phone(),
        {"name": "daily", "url_env": "DRAMAWATCH_ALERT_DAILY", "mode": "digest", "max_items": 2},
        sources=2,  # K-Wave Daily and DramaBeat, which share one story
    )
    env = env_for(receiver, "phone", "daily")
    first = dramawatch(path, "-vv", "run-once", site=site, **env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "alert phone: " in first.stdout and "alert daily: " in first.stdout
    [run_one] = receiver.posted("phone")
    stories_one = run_one["message"].splitlines()
    count = len(stories_one)
    assert run_one["title"] == f"Queen of Tears: {count} new stories"
    # the story both outlets carry is one line naming both
    [shared] = [line for line in stories_one if "Kim Soo-hyun steps behind the microphone" in line]
    assert "K-Wave Daily, DramaBeat" in shared or "DramaBeat, K-Wave Daily" in shared
    [digest_one] = receiver.posted("daily")
    assert digest_one["title"] == f"Queen of Tears: {count} new stories"
    assert digest_one["message"].splitlines()[-1] == f"and {count - 2} more"

    feed = "http://kwave.test/feed/"
    site.set_page("http://kwave.test/news/kim-ji-won-starts-filming-a-new-romance/", NEW_ARTICLE)
    site.replace_text(
        feed,
        "<item>",
        NEW_ITEM.format(date=site.date("-1h").strftime("%a, %d %b %Y %H:%M:%S +0000")) + "<item>",
    )
    second = dramawatch(path, "run-once", site=site, **env)
    assert second.returncode == 0, second.stderr[-3000:]
    run_two = receiver.posted("phone")[1]
    assert run_two["title"] == "Queen of Tears: 1 new story"
    assert run_two["message"].startswith("- [Kim Ji-won starts filming a new romance](")
    digest_two = receiver.posted("daily")[1]
    assert digest_two["message"] == run_two["message"]

    third = dramawatch(path, "run-once", site=site, **env)
    assert third.returncode == 0, third.stderr[-3000:]
    assert len(receiver.payloads) == 4, "nothing new: no message"
    assert "alert " not in third.stdout

    status = dramawatch(path, "status", **env)
    assert re.search(r"alert phone: last delivery .* \(1 stor", status.stdout), status.stdout
    # the secret is nowhere: output, the log file, the database
    log = tmp_path / "data" / "dramawatch.log"
    logs = log.read_text(encoding="utf-8") if log.exists() else ""
    everything = first.stdout + first.stderr + second.stdout + status.stdout + logs
    everything += dump_database(tmp_path / "archive.db")
    assert TOKEN not in everything and PASSWORD not in everything
    assert "alert phone" in first.stderr  # -vv logged the deliveries, masked
    # kept for the closing note
    captured = json.dumps([run_one, run_two, digest_one], indent=2, ensure_ascii=False)
    (tmp_path / "payloads.json").write_text(captured, encoding="utf-8")
