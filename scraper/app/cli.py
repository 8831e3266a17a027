"""``dramawatch`` command line: argparse front end over the crawl, the archive and the digests.

Exit codes are a contract: 0 done; 2 bad config or usage (one line on stderr); 1 any other
fatal error (one line on stderr, details in the log).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import logging.handlers
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, NoReturn

from digests.send import DeliveryError
from scraper.config import Config, ConfigError, LogConfig, load_config, resolve_config_path
from scraper.core.text import display_text, redact
from scraper.storage.engine import Sessions

logger = logging.getLogger("dramawatch")

EXIT_OK, EXIT_FATAL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad argument value; str() is the one line shown to the user."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dramawatch", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--config", help="dramawatch.toml (default: $DRAMAWATCH_CONFIG, else ./dramawatch.toml)"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser(
        "run-once", help="crawl every source once, then write (and mail) the digest"
    )

    crawl = commands.add_parser("crawl", help="crawl every source once")
    crawl.add_argument(
        "--distributed",
        action="store_true",
        help="seed the Redis frontier and wait for the workers",
    )

    commands.add_parser("worker", help="a crawl worker taking requests from Redis")

    digest = commands.add_parser("digest", help="render the digest of a window")
    digest.add_argument(
        "--since",
        type=_datetime,
        help="window start (ISO 8601; default: end of the last delivered window)",
    )
    digest.add_argument("--until", type=_datetime, help="window end (ISO 8601; default: now)")
    digest.add_argument("--send", action="store_true", help="mail it to [digest] recipients")
    digest.add_argument(
        "--force", action="store_true", help="mail it even if this window was mailed"
    )

    search = commands.add_parser("search", help="full-text search of the archive")
    search.add_argument("text", nargs="?", help='words, "phrases", OR, -word, prefix*')
    search.add_argument("--entity", help="only articles mentioning this watch name")
    search.add_argument("--source", help="only articles from this source")
    search.add_argument("--since", type=_datetime, help="published on or after (date or ISO 8601)")
    search.add_argument("--until", type=_datetime, help="published before (date or ISO 8601)")
    search.add_argument(
        "--limit", type=_count, default=50, help="at most N results (0: no limit; default 50)"
    )
    search.add_argument("--format", choices=("table", "json", "csv"), default="table")

    inspect = commands.add_parser("inspect", help="why an article was or was not kept")
    inspect.add_argument("target", metavar="URL_OR_FILE")
    inspect.add_argument("--format", choices=("text", "json"), default="text")
    inspect.add_argument(
        "--source", help="the configured source the page comes from (default: the one on its site)"
    )

    rematch = commands.add_parser(
        "rematch", help="re-evaluate archived articles under today's watch rules"
    )
    rematch.add_argument(
        "--apply", action="store_true", help="write the changes (default: only report them)"
    )
    rematch.add_argument("--format", choices=("table", "json"), default="table")

    runs = commands.add_parser("runs", help="past crawl runs, newest first")
    runs.add_argument("--format", choices=("table", "json"), default="table")
    runs.add_argument("--limit", type=_count, default=20, help="at most N runs (0: all)")

    commands.add_parser("status", help="next runs, last outcome per source, last digest")
    commands.add_parser("serve", help="run the scheduler in the foreground")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    db_commands.add_parser("upgrade", help="apply schema migrations")

    alerts = commands.add_parser("alerts", help="push alerts")
    alert_commands = alerts.add_subparsers(
        dest="alerts_command", required=True, parser_class=_Parser
    )
    alert_test = alert_commands.add_parser("test", help="send one test message through an alert")
    alert_test.add_argument("name", metavar="NAME")

    web = commands.add_parser("web", help="the read-only web app over the archive")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8080)
    return parser


def _datetime(text: str) -> datetime:
    """Parse a date or ISO 8601 datetime; naive values are UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(text.strip()), time())
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0: {text!r}")
    return int(text)


def setup_logging(verbosity: int, log: LogConfig | None = None) -> None:
    """Log details to the configured file; keep stderr to dramawatch's one-line messages
    unless -v asks for more (cron mails whatever a job prints)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console.setLevel({0: logging.CRITICAL, 1: logging.INFO}.get(verbosity, logging.DEBUG))
    console.addFilter(RedactingFilter())
    root.addHandler(console)
    if log is not None and log.file is not None:
        try:
            log.file.parent.mkdir(parents=True, exist_ok=True)
            file = logging.handlers.RotatingFileHandler(
                log.file, maxBytes=10 * 1024 * 1024, backupCount=3, encoding="utf-8"
            )
        except OSError as exc:
            print(
                f"dramawatch: cannot write the log file {log.file}: {exc.strerror}", file=sys.stderr
            )
        else:
            file.setFormatter(
                logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
            )
            file.setLevel(log.level.upper())
            file.addFilter(RedactingFilter())
            root.addHandler(file)


class RedactingFilter(logging.Filter):
    """Masks passwords in URLs of every log record, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def open_archive(config: Config) -> Sessions:
    """Give a session factory on the configured archive, upgraded to the current schema."""
    from scraper.storage.engine import open_archive as open_database

    return open_database(config.database_url)


# ---------------------------------------------------------------- commands


def cmd_run_once(config: Config, args: argparse.Namespace) -> int:
    from digests.publish import run_digest
    from scraper.alerts.deliver import deliver_alerts

    sessions = open_archive(config)  # one engine for the crawl, the alerts and the digest
    status = _crawl(config, args, sessions)
    for outcome in deliver_alerts(config, sessions, "run"):
        print(outcome.line())
    smtp = bool(config.digest.recipients and config.smtp_url)
    result = run_digest(config, sessions, send=smtp)
    digest_alerts = deliver_alerts(
        config, sessions, "digest", since=result.window_start, until=result.window_end
    )
    for outcome in digest_alerts:
        print(outcome.line())
    print(result.html_path)
    return status


def cmd_crawl(config: Config, args: argparse.Namespace) -> int:
    return _crawl(config, args, None)


def _crawl(config: Config, args: argparse.Namespace, sessions: Sessions | None) -> int:
    if getattr(args, "distributed", False) or config.cluster.distributed:
        from scraper.crawler.cluster import crawl_distributed

        return crawl_distributed(config)
    from scraper.crawler.crawl import run_crawl

    outcome = run_crawl(config, sessions or open_archive(config))
    print(
        f"crawl run {outcome.run_id} {outcome.status}: {outcome.pages_fetched} pages, "
        f"{outcome.articles_new} new, {outcome.articles_updated} updated articles"
    )
    for failure in outcome.failures:
        more = f" (+{failure.errors - 1} more)" if failure.errors > 1 else ""
        print(f"failed: {failure.source}: {failure.url}: {failure.reason}{more}")
    return EXIT_OK if outcome.status == "finished" else EXIT_FATAL


def cmd_worker(config: Config, args: argparse.Namespace) -> int:
    from scraper.crawler.cluster import run_worker

    return run_worker(config)


def cmd_digest(config: Config, args: argparse.Namespace) -> int:
    from digests.publish import run_digest

    if args.force and not args.send:
        raise UsageError("--force only makes sense with --send")
    if args.since and args.until and args.since >= args.until:
        raise UsageError("--since must be before --until")
    result = run_digest(
        config,
        open_archive(config),
        since=args.since,
        until=args.until,
        send=args.send,
        force=args.force,
    )
    print(result.html_path)
    return EXIT_OK


def cmd_search(config: Config, args: argparse.Namespace) -> int:
    from scraper.storage import search as archive_search

    entity = _one_of(args.entity, [w.name for w in config.watch], "watch name", "--entity")
    source = _one_of(args.source, [s.name for s in config.sources], "source", "--source")
    query = archive_search.SearchQuery(
        text=args.text or None,
        entity=entity,
        source=source,
        since=args.since,
        until=args.until,
        limit=args.limit or None,
    )
    sessions = open_archive(config)
    with sessions() as session:
        try:
            hits = archive_search.search(session, query)
        except archive_search.SearchSyntaxError as exc:
            raise UsageError(str(exc)) from None
        rows = [archive_search.article_json(hit.article, hit.snippet) for hit in hits]
    write_rows(rows, args.format)
    return EXIT_OK


def _one_of(value: str | None, known: Sequence[str], what: str, flag: str) -> str | None:
    """Give the configured spelling of ``value`` (case-insensitive), or fail with a usage error."""
    if value is None:
        return None
    for name in known:
        if name.casefold() == value.strip().casefold():
            return name
    raise UsageError(f"{flag}: unknown {what} {value!r} (known: {', '.join(known)})")


def write_rows(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(
            ["id", "published_at", "source", "title", "url", "entities", "story_id", "snippet"]
        )
        for row in rows:
            writer.writerow(
                [
                    row["id"],
                    row["published_at"] or "",
                    row["source"],
                    display_text(row["title"], 300),
                    row["url"],
                    "; ".join(row["entities"]),
                    row["story_id"],
                    display_text(row["snippet"], 300),
                ]
            )
    else:
        for row in rows:
            when = (row["published_at"] or row["first_seen_at"])[:10]
            source, title = display_text(row["source"], 300)[:18], display_text(row["title"], 90)
            print(f"{row['id']:>6}  {when}  {source:<18}  {title}")
            print(f"        {row['url']}")
        print(f"{len(rows)} article(s)")


def cmd_inspect(config: Config, args: argparse.Namespace) -> int:
    from scraper.app.inspect import inspect_target

    source = _one_of(args.source, [s.name for s in config.sources], "source", "--source")
    report = inspect_target(config, args.target, source=source)
    if args.format == "json":
        json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"title:         {display_text(str(report['title']), 300)}")
    for key in ("published_at", "author", "language", "canonical_url"):
        shown = display_text(str(report[key]), 300) if report[key] is not None else "-"
        print(f"{key + ':':<15}{shown}")
    print(f"verdict:       {'stored' if report['stored'] else 'not stored'}: {report['reason']}")
    for entity in report["entities"]:
        spans = ", ".join(
            f"{s['start']}-{s['end']} {display_text(s['text'], 40)!r}" for s in entity["spans"][:5]
        )
        print(f"mentions:      {entity['name']}: {spans}")
    for excluded in report["excluded"]:
        print(
            f"rules:         {excluded['name']}: named {excluded['named']}×, "
            f"but {excluded['detail']} → does not count"
        )
    print("text:")
    print(display_text(report["text"] or "", 600))
    return EXIT_OK


def cmd_rematch(config: Config, args: argparse.Namespace) -> int:
    from scraper.app.rematch import rematch, report_json

    report = rematch(config, open_archive(config), apply=args.apply)
    if args.format == "json":
        json.dump(report_json(report), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    for change in report.changes:
        title = display_text(change.title, 70)
        if change.kind == "hide":
            what = f"no longer stored: {change.reason}"
        elif change.kind == "show":
            what = f"stored again: {change.reason}"
        else:
            lost = f"loses {', '.join(change.lost)}" if change.lost else ""
            gained = f"gains {', '.join(change.gained)}" if change.gained else ""
            what = "; ".join(part for part in (lost, gained) if part) or "spans updated"
        print(f"{change.article_id:>6}  {display_text(change.source, 18):<18}  {title}")
        print(f"        {display_text(what, 200)}")
    verb = "changed" if report.applied else "would change"
    print(
        f"{report.checked} article(s) checked, {len(report.changes)} {verb}: "
        f"{report.count('lose', 'change')} losing entries, "
        f"{report.count('gain', 'change')} gaining entries, "
        f"{report.count('hide')} no longer stored (hidden), {report.count('show')} stored again"
        + ("" if report.applied else "; nothing written (--apply writes)")
    )
    return EXIT_OK


def cmd_runs(config: Config, args: argparse.Namespace) -> int:
    from scraper.storage import runs as run_history

    sessions = open_archive(config)
    with sessions() as session:
        runs = run_history.recent_runs(session, args.limit or None)
        rows = [run_history.run_json(run) for run in runs]
        per_source = {
            run.id: [(s.source, s.pages_fetched, s.articles_new, s.errors) for s in run.sources]
            for run in runs
        }
    if args.format == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    for row in rows:
        ended = (row["finished_at"] or "…")[:19]
        print(
            f"run {row['id']}  {row['status']:<11}  {row['started_at'][:19]} → {ended}  "
            f"{row['pages_fetched']} pages, {row['articles_new']} new, "
            f"{row['articles_updated']} updated, {len(row['errors'])} errors"
        )
        for source, pages, new, errors in per_source[row["id"]]:
            name = display_text(source, 40)
            print(f"    {name:<40} {pages:>5} pages {new:>4} new {errors:>4} errors")
        for error in row["errors"][:20]:
            where = f"{display_text(error['source'], 30)}: {display_text(error['url'], 100)}"
            print(f"    ! {where}: {display_text(error['reason'], 120)}")
    return EXIT_OK


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    from scraper.app.service import status_lines

    for line in status_lines(config, open_archive(config)):
        print(line)
    return EXIT_OK


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from scraper.app.service import serve

    # a service logs to its journal: what ran, when, for how long, what it found
    setup_logging(max(args.verbose, 1), config.log)
    return serve(config)


def cmd_db(config: Config, args: argparse.Namespace) -> int:
    open_archive(config)
    print("database schema is up to date")
    return EXIT_OK


def cmd_alerts(config: Config, args: argparse.Namespace) -> int:
    from scraper.alerts.deliver import send_test

    names = [alert.name for alert in config.alerts]
    if not names:
        raise UsageError("no [[alerts]] are configured")
    name = _one_of(args.name, names, "alert", "alerts test")
    alert = next(alert for alert in config.alerts if alert.name == name)
    outcome = send_test(alert)
    if not outcome.delivered:
        print(
            f"dramawatch: alert {name}: test message not delivered: {outcome.reason}",
            file=sys.stderr,
        )
        return EXIT_FATAL
    print(f"alert {name}: test message delivered")
    return EXIT_OK


def cmd_web(config: Config, args: argparse.Namespace) -> int:
    from web.app import serve

    return serve(config, host=args.host, port=args.port)


COMMANDS: dict[str, Callable[[Config, argparse.Namespace], int]] = {
    "run-once": cmd_run_once,
    "crawl": cmd_crawl,
    "worker": cmd_worker,
    "digest": cmd_digest,
    "search": cmd_search,
    "inspect": cmd_inspect,
    "rematch": cmd_rematch,
    "runs": cmd_runs,
    "status": cmd_status,
    "serve": cmd_serve,
    "db": cmd_db,
    "alerts": cmd_alerts,
    "web": cmd_web,
}


def main(argv: Sequence[str] | None = None) -> int:
    import os

    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    path = resolve_config_path(args.config, os.environ)
    try:
        config = load_config(path)
        setup_logging(args.verbose, config.log)
        status = COMMANDS[args.command](config, args)
        sys.stdout.flush()  # inside the try: a reader that went away is seen here
        return status
    except BrokenPipeError:
        return _reader_gone()
    except ConfigError as exc:
        print(f"dramawatch: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"dramawatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DeliveryError as exc:  # already says what was written and that it will be retried
        logger.error("%s failed: %s", args.command, exc)
        print(f"dramawatch: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:
        print("dramawatch: interrupted", file=sys.stderr)
        return EXIT_FATAL
    except Exception as exc:  # the last line of defence: one line out, the traceback to the log
        logger.error("%s failed", args.command, exc_info=True)
        print(f"dramawatch: {args.command} failed: {redact(_first_line(exc))}", file=sys.stderr)
        return EXIT_FATAL


def _reader_gone() -> int:
    """End quietly when the reader of stdout left (``dramawatch runs | head -1``), as cat or
    grep do: no error line, and no second BrokenPipeError when Python flushes stdout at exit."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


if __name__ == "__main__":
    sys.exit(main())
