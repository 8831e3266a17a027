"""The read-only web app over the archive (``dramawatch web``): Flask pages and JSON, Atom
feeds, served by waitress.

Every route is a GET over a session that is never committed; the server's own engine is also
opened read-only (SQLite ``query_only``, PostgreSQL ``default_transaction_read_only``), so no
request can write even through a bug. Responses carry a strict Content-Security-Policy; off
loopback the app refuses to start without ``$DRAMAWATCH_WEB_PASSWORD``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, g, jsonify, render_template, request, url_for
from jinja2 import StrictUndefined
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from scraper.config import Config
from scraper.core.match import Matcher, compile_watchlist
from scraper.core.text import display_text
from scraper.core.urls import http_link
from scraper.storage import browse as queries
from scraper.storage import search as archive_search
from scraper.storage.engine import (
    Session,
    Sessions,
    make_engine,
    read_only_engine,
    session_factory,
    upgrade,
)
from scraper.storage.models import Article, Digest
from web.charts import timeline_svg
from web.display import (
    DateInputError,
    day_range,
    highlight,
    match_spans,
    parse_day,
    parse_instant,
    query_terms,
)
from web.feeds import atom_feed, story_entry

logger = logging.getLogger(__name__)

PAGE_SIZE = 20
MAX_PAGE = 500  # deeper offsets cost the engine more than anyone reads
MAX_QUERY_CHARS = 500
API_DEFAULT_LIMIT = 50
API_MAX_LIMIT = 1000
TIMELINE_DEFAULT_DAYS = 30
TIMELINE_MAX_DAYS = 731
TIMELINE_PRESETS = (7, 30, 90, 365)
WATCH_STORIES = 20
FEED_ENTRIES = 50
MAX_DB_ID = 2**31 - 1  # larger ids cannot exist, and PostgreSQL rejects them as integers

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# A stored digest is a mail message: its CSS is inlined into style attributes by design, so
# it gets inline styles, but no scripts, no fetches, and a sandbox (an opaque origin).
DIGEST_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; sandbox"
)
EXIT_OK, EXIT_FATAL, EXIT_USAGE = 0, 1, 2


class PageError(Exception):
    """A request the app answers with a friendly error page (or JSON error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WebContext:
    """What every request needs, built once by ``create_app``."""

    sessions: Sessions
    config: Config
    matcher: Matcher
    zone: ZoneInfo
    clock: Callable[[], datetime]
    password: str | None = field(repr=False)


def context() -> WebContext:
    ctx: WebContext = current_app.extensions["dramawatch"]
    return ctx


def db() -> Session:
    """Give this request's session (opened on first use, rolled back and closed at the end)."""
    if "db" not in g:
        g.db = context().sessions()
    session: Session = g.db
    return session


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()


# ---------------------------------------------------------------- the app


def create_app(
    sessions: Sessions,
    config: Config,
    *,
    clock: Callable[[], datetime] | None = None,
    password: str | None = None,
) -> Flask:
    """Give the Flask app over ``sessions``.

    ``password`` (default: ``config.web_password``) when set is required on every request,
    as HTTP basic auth (any user name) or a bearer token. ``clock`` gives "now" (tests fix it).
    """
    app = Flask(__name__)
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.filters.update(text=display_text, local=_local_time)
    app.jinja_env.globals.update(http_url=http_link)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["dramawatch"] = WebContext(
        sessions=sessions,
        config=config,
        matcher=compile_watchlist(config.watch),
        zone=ZoneInfo(config.digest.timezone),
        clock=clock or (lambda: datetime.now(UTC)),
        password=password if password is not None else config.web_password,
    )
    app.before_request(_guard)
    app.after_request(_security_headers)
    app.teardown_appcontext(_close_session)
    app.context_processor(_template_globals)
    app.register_error_handler(PageError, _page_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _crash)
    routes: list[tuple[str, str, Callable[..., Any]]] = [
        ("/", "search", search_page),
        ("/stories/<int:story_id>", "story", story_page),
        ("/watch/<path:name>", "watch", watch_page),
        ("/watch/<path:name>/feed.atom", "watch_feed", watch_feed),
        ("/sources", "sources", sources_page),
        ("/digests", "digests", digests_page),
        ("/digests/<int:digest_id>", "digest", digest_view),
        ("/digests/<int:digest_id>/text", "digest_text", digest_text),
        ("/api/search", "api_search", api_search),
        ("/api/stories/<int:story_id>", "api_story", api_story),
        ("/feed.atom", "feed", feed),
    ]
    for rule, endpoint, view in routes:
        app.add_url_rule(rule, endpoint, view, methods=["GET"], provide_automatic_options=False)
    return app


def _template_globals() -> dict[str, Any]:
    config = context().config
    return {
        "watch_names": [w.name for w in config.watch],
        "source_names": [s.name for s in config.sources],
    }


def _local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(context().zone).strftime("%Y-%m-%d %H:%M %Z")


# ---------------------------------------------------------------- safety


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _guard() -> Response | None:
    """Refuse anything but GET/HEAD, and check the password when one is configured."""
    if request.method not in ("GET", "HEAD"):
        response = _error_response(405, "This archive is read-only: only GET and HEAD.")
        response.headers["Allow"] = "GET, HEAD"
        return response
    password = context().password
    if password and not authorized(request.headers.get("Authorization"), password):
        response = _error_response(401, "A password is required.")
        response.headers["WWW-Authenticate"] = 'Basic realm="dramawatch", charset="UTF-8"'
        return response
    return None


def authorized(header: str | None, password: str) -> bool:
    """Give whether an Authorization header carries ``password``: basic auth (any user name)
    or ``Bearer <password>``; compared in constant time."""
    if not header:
        return False
    scheme, _, credentials = header.strip().partition(" ")
    given: bytes
    if scheme.lower() == "bearer":
        try:
            # WSGI hands header bytes over as latin-1 text: this gives the client's bytes back
            given = credentials.strip().encode("latin-1")
        except UnicodeEncodeError:
            return False
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        given = decoded.partition(b":")[2]
    else:
        return False
    return hmac.compare_digest(given, password.encode("utf-8"))


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"
    return response


def _error_response(status: int, message: str) -> Response:
    if _wants_json():
        response = jsonify({"error": message, "status": status})
    else:
        response = Response(
            render_template("error.html", status=status, message=message),
            mimetype="text/html",
        )
    response.status_code = status
    return response


def _page_error(exc: PageError) -> Response:
    return _error_response(exc.status, exc.message)


_HTTP_MESSAGES = {
    404: "There is no such page here.",
    405: "This archive is read-only: only GET and HEAD.",
}


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    response = _error_response(status, _HTTP_MESSAGES.get(status, exc.name))
    if status == 405:
        response.headers["Allow"] = "GET, HEAD"
    return response


def _crash(exc: Exception) -> Response:
    logger.exception("error answering %s %s", request.method, request.path)
    return _error_response(500, "Something in the archive failed; the details are in the log.")


# ---------------------------------------------------------------- parameters


def _watch_name(value: str | None, *, status: int = 400) -> str | None:
    """Give the configured spelling of a watched name (any case), else a friendly error."""
    if value is None or not value.strip():
        return None
    for entry in context().config.watch:
        if entry.name.casefold() == value.strip().casefold():
            return entry.name
    shown = display_text(value, 80)
    raise PageError(status, f"“{shown}” is not a watched name.")


def _source_name(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    for source in context().config.sources:
        if source.name.casefold() == value.strip().casefold():
            return source.name
    raise PageError(400, f"“{display_text(value, 80)}” is not a configured source.")


def _whole_number(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or not value.strip():
        return default
    text = value.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise PageError(400, f"{name} must be a whole number from {low} to {high}.")
    return int(text)


def _query_text(value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) > MAX_QUERY_CHARS:
        raise PageError(400, f"The search text is too long (at most {MAX_QUERY_CHARS} characters).")
    return text or None


def _run_search(query: archive_search.SearchQuery) -> list[archive_search.SearchHit]:
    try:
        return archive_search.search(db(), query)
    except archive_search.SearchSyntaxError as exc:
        raise PageError(400, f"The search text could not be understood: {exc}.") from None


def _existing_id(value: int) -> int:
    if value > MAX_DB_ID:
        raise PageError(404, "There is no such page here.")
    return value


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class ResultView:
    """One search result: an article standing for its story, with the story's outlets."""

    article: Article
    snippet: Markup
    outlets: list[queries.Outlet]
    names: list[str]


def search_page() -> str:
    ctx = context()
    args = request.args
    text = _query_text(args.get("q"))
    entity = _watch_name(args.get("entity"))
    source = _source_name(args.get("source"))
    try:
        first = parse_day(args.get("from"), "from")
        last = parse_day(args.get("to"), "to")
    except DateInputError as exc:
        raise PageError(400, f"{exc}.") from None
    if first and last and first > last:
        raise PageError(400, "The “from” date is after the “to” date.")
    page = _whole_number(args.get("page"), "page", 1, 1, MAX_PAGE)
    since = day_range(first, first, ctx.zone)[0] if first else None
    until = day_range(last, last, ctx.zone)[1] if last else None
    hits = _run_search(
        archive_search.SearchQuery(
            text=text,
            entity=entity,
            source=source,
            since=since,
            until=until,
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        )
    )
    has_next = len(hits) > PAGE_SIZE
    hits = hits[:PAGE_SIZE]
    outlets = queries.story_outlets(db(), (hit.article.story_id for hit in hits))
    terms = query_terms(text)
    results: list[ResultView] = []
    seen: set[int] = set()
    for hit in hits:
        if hit.article.story_id in seen:
            continue  # another copy of a story already listed (it shows among the outlets)
        seen.add(hit.article.story_id)
        snippet = display_text(hit.snippet)
        spans = match_spans(snippet, terms, ctx.matcher, [entity] if entity else [])
        results.append(
            ResultView(
                article=hit.article,
                snippet=highlight(snippet, spans),
                outlets=outlets.get(hit.article.story_id, []),
                names=[m.entity for m in hit.article.mentions],
            )
        )
    filters: dict[str, Any] = {
        "q": text,
        "entity": entity,
        "source": source,
        "from": first.isoformat() if first else None,
        "to": last.isoformat() if last else None,
    }
    return render_template(
        "search.html",
        filters=filters,
        results=results,
        page=page,
        prev_url=url_for("search", **filters, page=page - 1) if page > 1 else None,
        next_url=url_for("search", **filters, page=page + 1) if has_next else None,
        browsing=not any(filters.values()),
    )


def story_page(story_id: int) -> str:
    found = queries.story(db(), _existing_id(story_id))
    if found is None:
        raise PageError(404, f"There is no story {story_id} in the archive.")
    return render_template(
        "story.html",
        story=found,
        copies=queries.story_articles(found),
        excerpt=archive_search.excerpt,
    )


def watch_page(name: str) -> str:
    ctx = context()
    entity = _watch_name(name, status=404)
    if entity is None:
        raise PageError(404, "There is no such page here.")
    args = request.args
    today = ctx.clock().astimezone(ctx.zone).date()
    try:
        first = parse_day(args.get("from"), "from")
        last = parse_day(args.get("to"), "to") or today
    except DateInputError as exc:
        raise PageError(400, f"{exc}.") from None
    if first is None:
        days = _whole_number(args.get("days"), "days", TIMELINE_DEFAULT_DAYS, 1, TIMELINE_MAX_DAYS)
        first = last - timedelta(days=days - 1)
    if first > last:
        raise PageError(400, "The “from” date is after the “to” date.")
    if (last - first).days + 1 > TIMELINE_MAX_DAYS:
        raise PageError(400, f"The range is too long (at most {TIMELINE_MAX_DAYS} days).")
    per_day = queries.mentions_per_day(db(), entity, first, last, ctx.zone)
    stories = queries.latest_stories(db(), entity, WATCH_STORIES)
    kind = next(w.kind for w in ctx.config.watch if w.name == entity)
    return render_template(
        "watch.html",
        entity=entity,
        kind=kind,
        first=first,
        last=last,
        presets=[(n, url_for("watch", name=entity, days=n)) for n in TIMELINE_PRESETS],
        chart=Markup(timeline_svg(per_day, f"Articles mentioning {entity} per day")),
        total=sum(count for _, count in per_day),
        peak=max(per_day, key=lambda item: item[1]),
        stories=[(s, queries.story_articles(s)) for s in stories],
    )


def sources_page() -> str:
    from scraper.storage.alerts import alert_health

    config = context().config
    names = [s.name for s in config.sources]
    alerts = alert_health(db(), [alert.name for alert in config.alerts])
    return render_template(
        "sources.html", sources=queries.source_health(db(), names), alerts=alerts
    )


def digests_page() -> str:
    return render_template("digests.html", digests=queries.digests(db()))


def _digest_file(digest_id: int, which: str) -> Path:
    """Give the stored file of a digest, only if it lies inside the configured output_dir."""
    found = db().get(Digest, _existing_id(digest_id))
    if found is None:
        raise PageError(404, f"There is no digest {digest_id}.")
    root = context().config.digest.output_dir.resolve()
    stored = Path(found.html_path if which == "html" else found.text_path)
    path = (stored if stored.is_absolute() else root / stored).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        logger.warning("digest %d file %s is missing or outside %s", digest_id, path, root)
        raise PageError(404, f"The file of digest {digest_id} is not in the digest folder.")
    return path


def digest_view(digest_id: int) -> Response:
    path = _digest_file(digest_id, "html")
    response = Response(path.read_bytes(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = DIGEST_CONTENT_SECURITY_POLICY
    return response


def digest_text(digest_id: int) -> Response:
    path = _digest_file(digest_id, "text")
    return Response(path.read_bytes(), mimetype="text/plain")


# ---------------------------------------------------------------- JSON


def api_search() -> Response:
    args = request.args
    try:
        since = parse_instant(args.get("since"), "since")
        until = parse_instant(args.get("until"), "until")
    except DateInputError as exc:
        raise PageError(400, str(exc)) from None
    limit = _whole_number(args.get("limit"), "limit", API_DEFAULT_LIMIT, 0, 10**9)
    query = archive_search.SearchQuery(
        text=_query_text(args.get("q")),
        entity=_watch_name(args.get("entity")),
        source=_source_name(args.get("source")),
        since=since,
        until=until,
        limit=min(limit or API_MAX_LIMIT, API_MAX_LIMIT),
        offset=_whole_number(args.get("offset"), "offset", 0, 0, 10**6),
    )
    hits = _run_search(query)
    return jsonify([archive_search.article_json(hit.article, hit.snippet) for hit in hits])


def api_story(story_id: int) -> Response:
    found = queries.story(db(), _existing_id(story_id))
    if found is None:
        raise PageError(404, f"no story {story_id}")
    return jsonify(
        {
            "id": found.id,
            "title": found.title,
            "first_seen_at": found.first_seen_at.isoformat(),
            "articles": [
                archive_search.article_json(a, archive_search.excerpt(a.text, 0))
                for a in queries.story_articles(found)
            ],
        }
    )


# ---------------------------------------------------------------- Atom


def _feed_response(title: str, entity: str | None, page_url: str, feed_url: str) -> Response:
    stories = queries.latest_stories(db(), entity, FEED_ENTRIES)
    entries = [
        story_entry(s, lambda story_id: url_for("story", story_id=story_id, _external=True))
        for s in stories
    ]
    body = atom_feed(
        title=title,
        feed_url=feed_url,
        page_url=page_url,
        updated=context().clock(),
        entries=entries,
    )
    return Response(body, mimetype="application/atom+xml")


def feed() -> Response:
    names = ", ".join(w.name for w in context().config.watch)
    return _feed_response(
        f"dramawatch: new stories about {names}",
        None,
        url_for("search", _external=True),
        url_for("feed", _external=True),
    )


def watch_feed(name: str) -> Response:
    entity = _watch_name(name, status=404)
    if entity is None:
        raise PageError(404, "There is no such page here.")
    return _feed_response(
        f"dramawatch: new stories about {entity}",
        entity,
        url_for("watch", name=entity, _external=True),
        url_for("watch_feed", name=entity, _external=True),
    )


# ---------------------------------------------------------------- serving


def is_loopback(host: str) -> bool:
    """Give whether ``host`` names only this machine (127.0.0.0/8, ::1 or localhost)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(app: Flask, host: str, port: int, threads: int = 8) -> Any:
    """Give a waitress server for ``app`` (not yet running; ``.run()`` serves, ``.close()``
    stops). Port 0 takes a free port: see ``.effective_port``."""
    import waitress

    return waitress.create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="dramawatch",
        max_request_body_size=65536,  # read-only: nothing to upload
        clear_untrusted_proxy_headers=True,
    )


def start_message(host: str, port: int, password_set: bool) -> str:
    """Give the line ``serve`` prints at start: where, and whether a password is required."""
    shown = f"[{host}]" if ":" in host else host
    where = f"dramawatch web: serving http://{shown}:{port}/"
    if password_set:
        return (
            f"{where} — password required ($DRAMAWATCH_WEB_PASSWORD): HTTP basic auth with "
            "any user name, or 'Authorization: Bearer <password>'"
        )
    return f"{where} — loopback only, no password"


def serve(config: Config, host: str = "127.0.0.1", port: int = 8080) -> int:
    """Serve the app with waitress until SIGTERM or Ctrl-C; give the exit code.

    Off loopback it refuses to start (exit 2, one line) unless a password is configured.
    """
    if not is_loopback(host) and not config.web_password:
        print(
            f"dramawatch web: refusing to listen on {host} without a password: "
            "set DRAMAWATCH_WEB_PASSWORD (required off loopback)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    engine = make_engine(config.database_url)
    upgrade(engine)  # a fresh install's database gets its schema, as every command does
    engine.dispose()
    app = create_app(session_factory(read_only_engine(config.database_url)), config)
    try:
        server = make_server(app, host, port)
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"dramawatch web: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        return EXIT_FATAL
    port = getattr(server, "effective_port", port)
    print(start_message(host, port, bool(config.web_password)), flush=True)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        logger.info("web app stopping")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
    return EXIT_OK
