"""One composition root per crawl (issue 12): one config load and one engine per crawl process,
counted by wrapping the one TOML parser and the one ``create_engine`` call during a real crawl."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env, make_config
from tests.site import FixtureSite

# Installed before the crawl: every TOML parse and every engine made is counted.
COUNTING = """
import json, sys, tomllib
import scraper.storage.engine as storage_engine
counts = {"config_loads": 0, "engines": 0}
parse, create = tomllib.loads, storage_engine.create_engine
def counted_parse(*args, **kwargs):
    counts["config_loads"] += 1
    return parse(*args, **kwargs)
def counted_create(*args, **kwargs):
    counts["engines"] += 1
    return create(*args, **kwargs)
tomllib.loads, storage_engine.create_engine = counted_parse, counted_create
import atexit
atexit.register(lambda: print("COUNTS " + json.dumps(counts), file=sys.stderr))
"""


def counted_run(code: str, site: FixtureSite, **env: str) -> tuple[int, dict[str, int], str]:
    result = subprocess.run(
        [sys.executable, "-c", COUNTING + code],
        capture_output=True,
        text=True,
        timeout=240,
        env=cli_env(site, **env),
        cwd=ROOT,
    )
    found = re.search(r"^COUNTS (.*)$", result.stderr, re.M)
    assert found, result.stderr[-3000:]
    return result.returncode, json.loads(found.group(1)), result.stdout


@pytest.mark.parametrize("command", ["crawl", "run-once"])
def test_a_dramawatch_crawl_loads_the_config_once_and_makes_one_engine(
    site: FixtureSite, tmp_path: Path, command: str
) -> None:
    config = make_config(tmp_path)
    argv = ["--config", str(config), command]
    code = f"from scraper.app.cli import main\nsys.exit(main({argv!r}))"
    status, counts, stdout = counted_run(code, site)
    assert status == 0 and "crawl run 1 finished" in stdout
    assert counts == {"config_loads": 1, "engines": 1}


def test_scrapy_crawl_news_loads_the_config_once_and_makes_one_engine(
    site: FixtureSite, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    code = "from scrapy.cmdline import execute\nexecute(['scrapy', 'crawl', 'news'])"
    status, counts, _ = counted_run(code, site, DRAMAWATCH_CONFIG=str(config))
    assert status == 0
    assert counts == {"config_loads": 1, "engines": 1}
    assert (tmp_path / "archive.db").exists()


def code_lines(pattern: str) -> list[str]:
    """Give ``path:line`` for every line of the shipped code matching ``pattern``."""
    found = []
    for package in ("scraper", "digests", "web"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(pattern, line):
                    found.append(f"{path.relative_to(ROOT)}:{number}")
    return found


def test_engines_are_made_in_one_place_and_the_dialect_switch_is_written_once() -> None:
    assert [line.split(":")[0] for line in code_lines(r"\bcreate_engine\(")] == [
        "scraper/storage/engine.py"
    ]
    # the INSERT ... ON CONFLICT of each dialect is picked in one place, insert_for()
    switch = code_lines(r"sqlalchemy\.dialects|\bpg_insert\b|\bsqlite_insert\b")
    assert [line.split(":")[0] for line in switch] == ["scraper/storage/engine.py"], switch
