"""dramawatch.toml: what loads, and every kind of mistake as exit 2 with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scraper.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
[[watch]]
name = "Kim Soo-hyun"
kind = "person"
aliases = ["김수현"]

[[sources]]
name = "Outlet"
feeds = ["https://outlet.example/feed"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dramawatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_loads() -> None:
    config = load_config(ROOT / "dramawatch.toml", env={})
    names = [w.name for w in config.watch]
    assert names[:2] == ["Queen of Tears", "Kim Soo-hyun"]
    assert {"눈물의 여왕", "김수현", "김지원", "박성훈", "곽동연", "이주빈", "박지은"} <= {
        alias for w in config.watch for alias in w.aliases
    }
    assert config.database_url == f"sqlite:///{ROOT / 'data' / 'archive.db'}"
    assert config.digest.output_dir == ROOT / "data" / "digests"
    assert len(config.sources) >= 5


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert config.crawl.obey_robots is True
    assert config.crawl.max_age_days == 7
    assert config.crawl.retries == 2
    assert config.crawl.allow_private_networks is False
    assert config.digest.timezone == "Asia/Seoul"
    assert config.digest.recipients == ()
    assert config.smtp_url is None


def test_private_networks_can_be_allowed(tmp_path: Path) -> None:
    text = "[crawl]\nallow_private_networks = true\n" + MINIMAL
    config = load_config(write(tmp_path, text), env={})
    assert config.crawl.allow_private_networks is True


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "DRAMAWATCH_DATABASE_URL": "postgresql+psycopg://dw:secret@db.internal/dw",
        "DRAMAWATCH_SMTP_URL": "smtp://u:p@127.0.0.1:2525?starttls=1",
        "DRAMAWATCH_REDIS_URL": "redis://10.0.0.5:6379/2",
        "DRAMAWATCH_WEB_PASSWORD": "hunter2",
    }
    config = load_config(write(tmp_path, MINIMAL), env=env)
    assert config.database_url == env["DRAMAWATCH_DATABASE_URL"]
    assert config.smtp_url == env["DRAMAWATCH_SMTP_URL"]
    assert config.cluster.redis_url == env["DRAMAWATCH_REDIS_URL"]
    assert config.web_password == "hunter2"


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    env = {"DRAMAWATCH_SMTP_URL": "smtp://u:topsecret@127.0.0.1:2525"}
    config = load_config(write(tmp_path, MINIMAL), env=env)
    assert "topsecret" not in repr(config)


BROKEN = [
    ("not toml", "[[watch]\nname=", "invalid TOML"),
    ("unknown table", MINIMAL + "\n[mail]\nhost='x'\n", "mail: unknown table"),
    ("unknown crawl key", "[crawl]\nspeed = 3\n" + MINIMAL, "crawl.speed: unknown key"),
    ("wrong type", "[crawl]\nretries = 'two'\n" + MINIMAL, "crawl.retries: must be an integer"),
    ("bool as int", "[crawl]\nretries = true\n" + MINIMAL, "crawl.retries: must be an integer"),
    (
        "negative",
        "[crawl]\nmax_age_days = -1\n" + MINIMAL,
        "crawl.max_age_days: must not be negative",
    ),
    (
        "zero timeout",
        "[crawl]\ntimeout_s = 0\n" + MINIMAL,
        "crawl.timeout_s: must be greater than 0",
    ),
    (
        "private networks not a bool",
        "[crawl]\nallow_private_networks = 'yes'\n" + MINIMAL,
        "crawl.allow_private_networks: must be true or false",
    ),
    ("bad schedule", "[crawl]\nschedule = 'often'\n" + MINIMAL, "crawl.schedule:"),
    ("bad cron field", "[digest]\nschedule = '61 8 * * *'\n" + MINIMAL, "digest.schedule:"),
    (
        "bad timezone",
        "[digest]\ntimezone = 'Mars/Base'\n" + MINIMAL,
        "digest.timezone: unknown time zone",
    ),
    (
        "bad recipient",
        "[digest]\nrecipients = ['nobody']\n" + MINIMAL,
        "digest.recipients: not an e-mail",
    ),
    (
        "bad database url",
        "[database]\nurl = 'not a url'\n" + MINIMAL,
        "database.url: not a valid database URL",
    ),
    (
        "unsupported database",
        "[database]\nurl = 'oracle://x/y'\n" + MINIMAL,
        "database.url: only sqlite",
    ),
    ("no sources", MINIMAL.split("[[sources]]")[0], "sources: no sources"),
    (
        "no watch",
        "[[sources]]\nname='A'\nfeeds=['https://a.example/feed']\n",
        "watch: at least one",
    ),
    (
        "empty watch name",
        MINIMAL.replace('name = "Kim Soo-hyun"', 'name = "  "'),
        "watch[0].name: must not be empty",
    ),
    (
        "duplicate watch",
        MINIMAL + '\n[[watch]]\nname = "kim soo-hyun"\n',
        "watch[1].name: duplicated",
    ),
    (
        "bad kind",
        MINIMAL.replace('kind = "person"', 'kind = "actor"'),
        "watch[0].kind: must be one of",
    ),
    (
        "bad alias type",
        MINIMAL.replace('["김수현"]', "[1]"),
        "watch[0].aliases: must be a list of non-empty strings",
    ),
    ("bad regex", MINIMAL + 'follow = "page/(\\\\d+"\n', "sources[0].follow: invalid regex"),
    (
        "bad feed url",
        MINIMAL.replace("https://outlet.example/feed", "ftp://outlet.example/feed"),
        "sources[0].feeds: not an http(s) URL",
    ),
    (
        "source without urls",
        MINIMAL.replace('feeds = ["https://outlet.example/feed"]', ""),
        "sources[0]: needs at least one",
    ),
    (
        "unknown source key",
        MINIMAL + 'rss = ["https://x.example"]\n',
        "sources[0].rss: unknown key",
    ),
    ("bad log level", "[log]\nlevel = 'loud'\n" + MINIMAL, "log.level: must be one of"),
    ("unknown search engine", MINIMAL + 'search = "yahoo"\n', "sources[0].search: must be one of"),
    (
        "bad search locale",
        MINIMAL + 'search = "bing"\nsearch_locales = ["english"]\n',
        "sources[0].search_locales: not a locale",
    ),
    (
        "empty search locales",
        MINIMAL + 'search = "bing"\nsearch_locales = []\n',
        "sources[0].search_locales: must not be empty",
    ),
    (
        "locales without search",
        MINIMAL + 'search_locales = ["en-US"]\n',
        "sources[0].search_locales: needs search",
    ),
    (
        "resolve_google_news not a bool",
        "[crawl]\nresolve_google_news = 1\n" + MINIMAL,
        "crawl.resolve_google_news: must be true or false",
    ),
    (
        "watch name without letters",
        MINIMAL.replace('name = "Kim Soo-hyun"', 'name = "---"'),
        "watch[0].name: '---' has no letters or digits to match",
    ),
    (
        "alias without letters",
        MINIMAL.replace('["김수현"]', '["김수현", "· · ·"]'),
        "watch[0].aliases: alias '· · ·' has no letters or digits to match",
    ),
    (
        "sources not array",
        MINIMAL.split("[[sources]]")[0] + "[sources]\nname='x'\n",
        "sources: must be an array",
    ),
]


@pytest.mark.parametrize(("label", "text", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_config_names_file_key_and_problem(
    tmp_path: Path, label: str, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_bad_env_database_url_is_named_without_echoing_it(tmp_path: Path) -> None:
    for url in ("secretword", "postgresql+nodriver://u:secretword@db/x"):
        with pytest.raises(ConfigError) as caught:
            load_config(write(tmp_path, MINIMAL), env={"DRAMAWATCH_DATABASE_URL": url})
        assert ": DRAMAWATCH_DATABASE_URL: " in str(caught.value)
        assert "secretword" not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml", env={})


@pytest.mark.parametrize(
    ("label", "command"),
    [
        ("not toml", "runs"),
        ("bad regex", "runs"),
        ("no sources", "runs"),
        ("watch name without letters", "crawl"),
        ("alias without letters", "crawl"),
        ("source without urls", "crawl"),
    ],
)
def test_cli_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, label: str, command: str
) -> None:
    text = next(b[1] for b in BROKEN if b[0] == label)
    path = write(tmp_path, text)
    result = subprocess.run(
        [sys.executable, "-m", "scraper.app.cli", "--config", str(path), command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert "Traceback" not in result.stderr


def test_config_found_through_environment(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    result = subprocess.run(
        [sys.executable, "-m", "scraper.app.cli", "runs", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path.parent,
        env={"DRAMAWATCH_CONFIG": str(path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "data" / "archive.db").exists()


def test_cluster_distributed_switch(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[cluster]\ndistributed = true\n" + MINIMAL), env={})
    assert config.cluster.distributed is True
    assert load_config(write(tmp_path, MINIMAL), env={}).cluster.distributed is False


def test_search_source_needs_nothing_else(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[sources]]\nname = "Bing News"\nsearch = "bing"\n'
    text += '\n[[sources]]\nname = "Google News"\nsearch = "google"\n'
    text += 'search_locales = ["en-US", "ko-KR", "en-US"]\n'
    config = load_config(write(tmp_path, text), env={})
    outlet, bing, google = config.sources
    assert (outlet.search, outlet.search_locales) == (None, ())
    assert (bing.search, bing.search_locales, bing.feeds) == ("bing", ("en-US",), ())
    assert (google.search, google.search_locales) == ("google", ("en-US", "ko-KR"))
    assert config.crawl.resolve_google_news is False
    text = "[crawl]\nresolve_google_news = true\n" + text
    assert load_config(write(tmp_path, text), env={}).crawl.resolve_google_news is True
# ---------------------------------------------------------------- watch rules (issue 14)

RULES = (
    MINIMAL.replace(
        'aliases = ["김수현"]\n',
        'aliases = ["김수현"]\ncontext = ["Queen of Tears"]\nexclude = ["FC Seoul"]\n'
        'sources = ["outlet"]\nlanguages = ["EN", "ko"]\n',
    )
    + '\n[filters]\nmute_sources = ["Outlet"]\n'
    + 'mute_domains = ["Spam.Example", "news.spam.example"]\n'
)

BROKEN_RULES = [
    (
        "unknown watch source",
        RULES.replace('sources = ["outlet"]', 'sources = ["Soompi"]'),
        "watch[0].sources: unknown source 'Soompi' (known: Outlet)",
    ),
    (
        "unknown muted source",
        RULES.replace('mute_sources = ["Outlet"]', 'mute_sources = ["Other"]'),
        "filters.mute_sources: unknown source 'Other'",
    ),
    (
        "bad language",
        RULES.replace('"EN", "ko"', '"en", "kor"'),
        "watch[0].languages: not an ISO 639-1 language code (like en, ko): 'kor'",
    ),
    ("region tag", RULES.replace('"EN", "ko"', '"en-US"'), "watch[0].languages: not an ISO"),
    (
        "empty context phrase",
        RULES.replace('context = ["Queen of Tears"]', 'context = ["--"]'),
        "watch[0].context: phrase '--' has no letters or digits to match",
    ),
    (
        "blank exclude phrase",
        RULES.replace('exclude = ["FC Seoul"]', 'exclude = [" "]'),
        "watch[0].exclude: must be a list of non-empty strings",
    ),
    (
        "bad domain",
        RULES.replace('"Spam.Example", ', '"https://spam.example/path", '),
        "filters.mute_domains: not a domain name (like spam.example): 'https://spam.example/path'",
    ),
    ("unknown filters key", RULES + "mute_words = []\n", "filters.mute_words: unknown key"),
    (
        "rule not a list",
        RULES.replace('context = ["Queen of Tears"]', 'context = "Queen of Tears"'),
        "watch[0].context: must be a list",
    ),
]


def test_watch_rules_and_filters_load(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, RULES), env={})
    entry = config.watch[0]
    assert (entry.context, entry.exclude) == (("Queen of Tears",), ("FC Seoul",))
    assert (entry.sources, entry.languages) == (("Outlet",), ("en", "ko"))
    assert config.filters.mute_sources == ("Outlet",)
    assert config.filters.mute_domains == ("spam.example", "news.spam.example")
    assert config.crawled_sources == ()


def test_configs_without_rules_have_none(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    entry = config.watch[0]
    assert entry.context == entry.exclude == entry.sources == entry.languages == ()
    assert config.filters.mute_sources == config.filters.mute_domains == ()
    assert config.crawled_sources == config.sources


@pytest.mark.parametrize(
    ("label", "text", "expected"), BROKEN_RULES, ids=[b[0] for b in BROKEN_RULES]
)
def test_broken_watch_rule_names_file_key_and_problem(
    tmp_path: Path, label: str, text: str, expected: str
) -> None:
    test_broken_config_names_file_key_and_problem(tmp_path, label, text, expected)


def test_a_bad_watch_rule_exits_2_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN_RULES[0][1])
    result = subprocess.run(
        [sys.executable, "-m", "scraper.app.cli", "--config", str(path), "rematch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "watch[0].sources" in result.stderr
