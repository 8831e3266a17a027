"""dramawatch benchmark: the seven measurements of issue 6, as a table and as JSON.

    python bench/run.py --pages 500                 # the quick run: archives of 1k and 10k, < 3 min
    python bench/run.py --pages 2000 --big --memory # ... and 1M archived, and the 10k-page crawl
    python bench/run.py --only extract,crawl        # a subset
    python bench/run.py --write                     # also rewrite bench/RESULTS.md

Not part of the test suite. Needs what the tests need (PostgreSQL on 127.0.0.1:5432 with
trust auth for the PostgreSQL rows; skipped with a note when it is absent). Everything runs
on loopback: the synthetic news site (bench/newssite.py) is served by a child process, and
every crawl is a real ``dramawatch --config X crawl`` child process pointed at it through
``http_proxy``. Populated archives are cached under --workdir (SQLite files) and rebuilt
when missing; PostgreSQL databases ``dw_bench_<n>`` are dropped at the end unless --keep-db.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# children measuring another checkout (--core) import its packages first
for path in (str(BENCH), os.environ.get("DRAMAWATCH_BENCH_CORE") or str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

import newssite  # noqa: E402

PG_ADMIN = os.environ.get(
    "DRAMAWATCH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGETS = {
    "crawl_ratio": 0.75,
    "recrawl_bytes_share": 0.10,
    "dedup_growth": 2.0,
    "dedup_p95_ms_1m": 50.0,
    "search_p95_ms_1m": 100.0,
    "digest_render_s": 1.0,
    "crawl_peak_rss_mb": 400.0,
}


# ------------------------------------------------------------------------------ helpers


def summary(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, min and max of repeated measurements (and how many there were)."""
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))
    return ordered[rank]


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_mb": memory,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_average_at_start": loadavg(),
    }
    try:
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "show server_version"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        info["postgresql"] = out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        info["postgresql"] = None
    return info


@dataclass
class ChildResult:
    code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    tree_peak_rss_mb: float = 0.0
    tree_peak_pss_mb: float = 0.0
    tree_cpu_s: float = 0.0


def _tree(pid: int) -> list[int]:
    """The process and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _tree_sample(pid: int) -> tuple[float, float, dict[int, float]]:
    """(sum of RSS, sum of PSS in MB, CPU seconds per pid) of a process tree. PSS shares
    pages common to several processes (a forked pool) out between them, RSS counts them
    in every process."""
    rss = 0.0
    pss = 0.0
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for member in _tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[member] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return rss, pss, cpu


def run_child(
    args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 7200
) -> ChildResult:
    """Run a command, giving its wall time, CPU time and peak RSS (from wait4's rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        deadline = started + timeout
        tree_peak = 0.0
        tree_pss = 0.0
        tree_cpu: dict[int, float] = {}
        next_sample = 0.0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            if time.perf_counter() >= next_sample:
                # the whole tree (extraction worker processes too), sampled every 0.25 s
                rss, pss, cpu = _tree_sample(process.pid)
                tree_peak = max(tree_peak, rss)
                tree_pss = max(tree_pss, pss)
                for member, seconds in cpu.items():
                    if member != process.pid:
                        tree_cpu[member] = max(tree_cpu.get(member, 0.0), seconds)
                next_sample = time.perf_counter() + 0.25
            time.sleep(0.02)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildResult(
            code=process.returncode,
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=usage.ru_maxrss / 1024,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            tree_peak_rss_mb=max(tree_peak, usage.ru_maxrss / 1024),
            tree_peak_pss_mb=tree_pss,
            tree_cpu_s=usage.ru_utime + usage.ru_stime + sum(tree_cpu.values()),
        )


def python_child(mode: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (its memory is its own) and read its JSON."""
    env = {**os.environ, "DRAMAWATCH_BENCH_CORE": str(CORE)}
    result = run_child(
        [sys.executable, str(BENCH / "run.py"), "--child", mode, json.dumps(spec)], env=env
    )
    if result.code != 0:
        raise RuntimeError(f"child {mode} failed ({result.code}): {result.stderr[-2000:]}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["child_peak_rss_mb"] = round(result.peak_rss_mb, 1)
    return data


# ------------------------------------------------------------------------------ the site


class SiteServer:
    """The synthetic site served by ``bench/newssite.py serve`` in a child process."""

    def __init__(self, pages: int, seed: int, now: datetime) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(BENCH / "newssite.py"),
                "serve",
                "--pages",
                str(pages),
                "--seed",
                str(seed),
                "--now",
                now.isoformat(),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the bench site did not start")
        self.info = json.loads(line)
        self.port = int(self.info["port"])
        self.proxy = f"http://127.0.0.1:{self.port}"

    def control(self, path: str) -> dict[str, Any]:
        handler = urllib.request.ProxyHandler({"http": self.proxy})
        opener = urllib.request.build_opener(handler)
        with opener.open(f"http://{newssite.CONTROL_HOST}{path}", timeout=30) as response:
            return dict(json.loads(response.read()))

    def cpu_s(self) -> float:
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def watch_toml() -> str:
    """The shipped watch list (dramawatch.toml's [[watch]] entries), as TOML."""
    from scraper.config import load_config

    config = load_config(ROOT / "dramawatch.toml", env={})
    return "".join(
        f"[[watch]]\nname = {json.dumps(w.name, ensure_ascii=False)}\nkind = {json.dumps(w.kind)}\n"
        f"aliases = {json.dumps(list(w.aliases), ensure_ascii=False)}\n\n"
        for w in config.watch
    )


def write_config(
    workdir: Path, sources: list[dict[str, Any]], pages: int, database_url: str | None = None
) -> Path:
    url = database_url or f"sqlite:///{workdir / 'archive.db'}"
    text = (
        f"[database]\nurl = {json.dumps(url)}\n\n"
        "[crawl]\nobey_robots = true\ntimeout_s = 20\nretries = 2\n"
        f"max_pages_per_source = {max(200, pages * 2)}\nmax_age_days = 7\n\n"
        f"[digest]\noutput_dir = {json.dumps(str(workdir / 'digests'))}\n\n"
        + watch_toml()
        + "".join(
            f"[[sources]]\nname = {json.dumps(s['name'], ensure_ascii=False)}\n"
            f"feeds = {json.dumps(s['feeds'])}\nsitemaps = {json.dumps(s['sitemaps'])}\n\n"
            for s in sources
        )
    )
    path = workdir / "dramawatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


CORE = ROOT  # the checkout whose code the crawls run (--core: a prototype copy)


def crawl_command(config: Path) -> list[str]:
    """``dramawatch --config X crawl`` (the console script's module, so a fresh clone works)."""
    return [sys.executable, "-m", "scraper.app.cli", "--config", str(config), "crawl"]


def crawl(server: SiteServer, config: Path, *, label: str) -> dict[str, Any]:
    """One crawl of the site; gives time, rates, memory and what the site served."""
    server.control("/reset")
    env = {
        **os.environ,
        "http_proxy": server.proxy,
        "HTTP_PROXY": server.proxy,
        "no_proxy": "",
        "NO_PROXY": "",
        "PYTHONPATH": str(CORE),
    }
    server_cpu = server.cpu_s()
    load_before = loadavg()
    result = run_child(crawl_command(config), env=env, cwd=CORE)
    stats = server.control("/stats")
    if result.code != 0:
        log(f"{label}: crawl exited {result.code}: {result.stderr[-1500:]}")
    db = config.parent / "archive.db"
    counts: dict[str, Any] = {}
    if db.exists():
        with sqlite3.connect(db) as conn:
            counts["articles"] = conn.execute("select count(*) from articles").fetchone()[0]
            counts["stories"] = conn.execute("select count(*) from stories").fetchone()[0]
            run = conn.execute(
                "select started_at, finished_at, pages_fetched, articles_new, status "
                "from crawl_runs order by id desc limit 1"
            ).fetchone()
            if run and run[0] and run[1]:
                started = datetime.fromisoformat(run[0])
                finished = datetime.fromisoformat(run[1])
                counts["run_s"] = (finished - started).total_seconds()
                counts["run_pages_fetched"] = run[2]
                counts["run_articles_new"] = run[3]
                counts["run_status"] = run[4]
    article_pages = stats["statuses"] and stats["requests"].get("article", 0)
    return {
        "label": label,
        "exit_code": result.code,
        "wall_s": round(result.wall_s, 2),
        "cpu_s": round(result.cpu_s, 2),
        "cpu_share": round(result.cpu_s / result.wall_s, 2) if result.wall_s else None,
        "peak_rss_mb": round(result.peak_rss_mb, 1),
        "tree_peak_rss_mb": round(result.tree_peak_rss_mb, 1),
        "tree_peak_pss_mb": round(result.tree_peak_pss_mb, 1),
        "tree_cpu_s": round(result.tree_cpu_s, 2),
        "article_pages": article_pages,
        "pages_per_s": round(article_pages / result.wall_s, 2) if result.wall_s else None,
        "cpu_ms_per_page": round(1000 * result.cpu_s / article_pages, 2) if article_pages else None,
        "tree_cpu_ms_per_page": round(1000 * result.tree_cpu_s / article_pages, 2)
        if article_pages
        else None,
        "server_cpu_s": round(server.cpu_s() - server_cpu, 2),
        "load_before": load_before,
        "load_after": loadavg(),
        "site": stats,
        **counts,
        "stdout_tail": result.stdout.strip().splitlines()[-3:],
        "stderr_tail": result.stderr.strip().splitlines()[-5:],
    }


# ------------------------------------------------------------------------------ 1. bound

_BOUND_PAGES: list[tuple[str, str, datetime]] = []


def _bound_worker_init() -> None:
    global _MATCHER
    from scraper.config import load_config
    from scraper.core.match import compile_watchlist

    _MATCHER = compile_watchlist(load_config(ROOT / "dramawatch.toml", env={}).watch)


_MATCHER: Any = None


def _bound_one(index: int) -> int:
    """The pipeline's CPU work for one page: extract, then match the extracted title+text."""
    from scraper.core.extract import Rejected, extract

    try:  # where the pipeline keeps it (the proposed core moves it beside extraction)
        from scraper.analysis import matched_text
    except ImportError:
        from scraper.crawler.pipelines import matched_text

    html, url, published = _BOUND_PAGES[index]
    result = extract(html, url, hint_published_at=published)
    if isinstance(result, Rejected):
        return 0
    return 1 if _MATCHER.find(matched_text(result.title, result.text)) else 0


def _bound_chunk(indexes: list[int]) -> int:
    return sum(_bound_one(i) for i in indexes)


def _bound_chunk_timed(indexes: list[int]) -> tuple[int, float]:
    started = time.process_time()
    found = _bound_chunk(indexes)
    return found, time.process_time() - started


def measure_bound(pages: int, seed: int, now: datetime, runs: int, procs: int) -> dict[str, Any]:
    """Pages/s of extraction + matching on the site's pages in memory, 1 process and N."""
    import multiprocessing

    site = newssite.build_site(pages, seed, now)
    _BOUND_PAGES[:] = [(a.html, a.url, a.published) for a in site.articles]
    _bound_worker_init()
    for i in range(min(20, pages)):  # warm up trafilatura's lazy imports and caches
        _bound_one(i)
    single: list[float] = []
    multi: list[float] = []
    cpu_ms: list[float] = []
    matched = 0
    indexes = list(range(len(_BOUND_PAGES)))
    context = multiprocessing.get_context("fork")
    for run in range(runs):
        log(f"bound run {run + 1}/{runs}: 1 process (load {loadavg()})")
        started = time.perf_counter()
        cpu_started = time.process_time()
        matched = _bound_chunk(indexes)
        single.append(len(indexes) / (time.perf_counter() - started))
        cpu_ms.append(1000 * (time.process_time() - cpu_started) / len(indexes))
        log(f"bound run {run + 1}/{runs}: {procs} processes")
        with context.Pool(procs, initializer=_bound_worker_init) as pool:
            pool.map(_bound_chunk, [indexes[i::procs][:5] for i in range(procs)])  # warm-up
            started = time.perf_counter()
            chunks = [indexes[i : i + 16] for i in range(0, len(indexes), 16)]
            parts = pool.map(_bound_chunk_timed, chunks, chunksize=1)
            multi.append(len(indexes) / (time.perf_counter() - started))
            found = sum(p[0] for p in parts)
            cpu_ms.append(1000 * sum(p[1] for p in parts) / len(indexes))
        if found != matched:
            log(f"bound: {found} matched in the pool but {matched} in one process")
    one, many = summary(single, 1), summary(multi, 1)
    bound = max(one["median"], many["median"])
    return {
        "pages": len(indexes),
        "on_topic_generated": site.on_topic,
        "matched": matched,
        "mean_page_kb": newssite.site_summary(site)["mean_page_kb"],
        "one_process_pages_per_s": one,
        "processes": procs,
        "n_processes_pages_per_s": many,
        "bound_pages_per_s": bound,
        "cpu_ms_per_page": summary(cpu_ms, 2),
        "load_average": loadavg(),
        "bound_from": "1 process" if bound == one["median"] else f"{procs} processes",
    }


# ------------------------------------------------------------------------------ 2, 3. crawl


def measure_crawl(
    pages: int,
    seed: int,
    now: datetime,
    runs: int,
    workdir: Path,
    bound: float | None,
    new_share: float,
) -> dict[str, Any]:
    cold: list[dict[str, Any]] = []
    again: list[dict[str, Any]] = []
    reserved: list[dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    for run in range(runs):
        log(f"crawl run {run + 1}/{runs}: starting the site ({pages} pages)")
        server = SiteServer(pages, seed, now)
        try:
            directory = workdir / f"crawl-{pages}-{run}"
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            config = write_config(directory, server.info["sources"], pages)
            log(f"crawl run {run + 1}/{runs}: cold crawl (load {loadavg()})")
            cold.append(crawl(server, config, label="cold"))
            log(f"crawl run {run + 1}/{runs}: re-crawl of the unchanged site")
            again.append(crawl(server, config, label="unchanged"))
            server.control("/reserve")
            log(f"crawl run {run + 1}/{runs}: re-crawl after its feeds are served again")
            reserved.append(crawl(server, config, label="feeds served again"))
            added = max(1, int(pages * new_share))
            server.control(f"/publish?n={added}")
            log(f"crawl run {run + 1}/{runs}: re-crawl after {added} new articles")
            result = crawl(server, config, label=f"after {added} new")
            result["new_articles_published"] = added
            fresh.append(result)
        finally:
            server.stop()

    def share(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
        total = b["site"][key] if key.startswith("total") else b["site"][key]
        base = a["site"][key]
        return total / base if base else 0.0

    pages_per_s = [c["pages_per_s"] for c in cold]
    run_rates = [c["run_pages_fetched"] / c["run_s"] for c in cold if c.get("run_s")]
    articles_per_s = [c.get("articles", 0) / c["wall_s"] for c in cold]
    result: dict[str, Any] = {
        "pages": pages,
        "runs": runs,
        "cold_pages_per_s": summary(pages_per_s, 2),
        "cold_articles_per_s": summary(articles_per_s, 2),
        "cold_pages_per_s_inside_run": summary(run_rates, 2),
        "cold_wall_s": summary([c["wall_s"] for c in cold], 2),
        "cold_cpu_share": summary([c["cpu_share"] for c in cold], 2),
        "cold_cpu_ms_per_page": summary([c["cpu_ms_per_page"] for c in cold], 2),
        "cold_tree_cpu_ms_per_page": summary([c["tree_cpu_ms_per_page"] for c in cold], 2),
        "cold_peak_rss_mb": summary([c["tree_peak_rss_mb"] for c in cold], 1),
        "articles_stored": summary([c.get("articles", 0) for c in cold], 0),
        "stories": summary([c.get("stories", 0) for c in cold], 0),
        "recrawl_bytes_share": summary(
            [share(c, a, "total_wire_bytes") for c, a in zip(cold, again, strict=False)], 4
        ),
        "recrawl_requests_share": summary(
            [share(c, a, "total_requests") for c, a in zip(cold, again, strict=False)], 4
        ),
        "recrawl_wall_s": summary([a["wall_s"] for a in again], 2),
        "reserved_bytes_share": summary(
            [share(c, r, "total_wire_bytes") for c, r in zip(cold, reserved, strict=False)], 4
        ),
        "reserved_article_fetches": summary(
            [r["site"]["requests"].get("article", 0) for r in reserved], 0
        ),
        "new_news_bytes_share": summary(
            [share(c, f, "total_wire_bytes") for c, f in zip(cold, fresh, strict=False)], 4
        ),
        "new_news_requests_share": summary(
            [share(c, f, "total_requests") for c, f in zip(cold, fresh, strict=False)], 4
        ),
        "new_news_article_fetches": summary(
            [f["site"]["requests"].get("article", 0) for f in fresh], 0
        ),
        "details": {"cold": cold, "unchanged": again, "reserved": reserved, "new_news": fresh},
    }
    if bound:
        result["ratio_to_bound"] = summary([p / bound for p in pages_per_s], 3)
    return result


def measure_memory(
    pages: int, seed: int, now: datetime, runs: int, workdir: Path
) -> dict[str, Any]:
    rows = []
    for run in range(runs):
        log(f"memory run {run + 1}/{runs}: starting the site ({pages} pages)")
        server = SiteServer(pages, seed, now)
        try:
            directory = workdir / f"memory-{pages}-{run}"
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            config = write_config(directory, server.info["sources"], pages)
            log(f"memory run {run + 1}/{runs}: crawl (load {loadavg()})")
            rows.append(crawl(server, config, label="memory"))
        finally:
            server.stop()
    return {
        "pages": pages,
        "peak_rss_mb": summary([r["tree_peak_rss_mb"] for r in rows], 1),
        "main_process_peak_rss_mb": summary([r["peak_rss_mb"] for r in rows], 1),
        "tree_peak_pss_mb": summary([r["tree_peak_pss_mb"] for r in rows], 1),
        "pages_per_s": summary([r["pages_per_s"] for r in rows], 2),
        "wall_s": summary([r["wall_s"] for r in rows], 1),
        "articles_stored": summary([r.get("articles", 0) for r in rows], 0),
        "details": rows,
    }


# ------------------------------------------------------------------------------ archives


def archive_url(backend: str, n: int, workdir: Path, seed: int, created: list[str]) -> str:
    """Give a populated archive of ``n`` articles (cached SQLite file, or a fresh PG database)."""
    import archive_data

    if backend == "sqlite":
        path = workdir / f"archive-{n}-{seed}.db"
        marker = path.with_suffix(".ok")
        url = f"sqlite:///{path}"
        if not marker.exists():
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink()
            log(f"loading {n} articles into SQLite {path}")
            report = archive_data.load_sqlite(url, n, seed)
            marker.write_text(json.dumps({"seconds": report.seconds}))
            log(f"loaded in {report.seconds:.0f}s")
        return url
    name = f"dw_bench_{n}"
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    marker = f"dramawatch-bench n={n} seed={seed} complete"
    if name not in created:
        created.append(name)
        if archive_data.pg_comment(PG_ADMIN, name) == marker:
            log(f"reusing PostgreSQL {name} (kept by an earlier --keep-db run)")
            return url
        archive_data.pg_create(PG_ADMIN, name)
        log(f"loading {n} articles into PostgreSQL {name}")
        report = archive_data.load_postgres(url, n, seed)
        archive_data.pg_set_comment(PG_ADMIN, name, marker)
        log(f"loaded in {report.seconds:.0f}s")
    return url


def postgres_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------------ 4. dedup


def child_dedup(spec: dict[str, Any]) -> dict[str, Any]:
    """find_story (the archive's near-duplicate lookup) for fresh and near-duplicate
    signatures; also store_article of new articles, rolled back."""
    import numpy as np

    from sqlalchemy import select

    from scraper.core import dedup
    from scraper.storage import articles, models
    from scraper.storage.engine import make_engine, session_factory, upgrade

    engine = make_engine(spec["url"])
    upgrade(engine)  # as every dramawatch command does: a cached archive gets new revisions
    sessions = session_factory(engine)
    n, lookups = spec["n"], spec["lookups"]
    rng = np.random.default_rng(spec["seed"] + 99)
    with sessions() as session:
        ids = rng.integers(1, n + 1, size=lookups // 2).tolist()
        rows = (
            session.execute(
                select(models.Article.signature).where(models.Article.id.in_(ids))
            )
            .scalars()
            .all()
        )
    queries = []
    for sig in rows:  # near-duplicates of archived articles: 80% of values kept
        values = np.frombuffer(sig, dtype=np.uint32).copy()
        change = rng.random(dedup.NUM_PERM) >= 0.8
        values[change] = rng.integers(0, 2**32 - 1, size=int(change.sum()), dtype=np.uint32)
        queries.append(("duplicate", values.astype("<u4").tobytes()))
    while len(queries) < lookups:
        queries.append(
            (
                "fresh",
                rng.integers(0, 2**32 - 1, size=dedup.NUM_PERM, dtype=np.uint32)
                .astype("<u4")
                .tobytes(),
            )
        )
    random.Random(spec["seed"]).shuffle(queries)
    times: dict[str, list[float]] = {"duplicate": [], "fresh": []}
    found = 0
    rss_before = _rss_mb()
    budget_ends = time.perf_counter() + spec.get("budget_s", 60)
    with sessions() as session:
        started = time.perf_counter()
        articles.find_story(session, queries[0][1])  # warm-up
        first_ms = (time.perf_counter() - started) * 1000
        if first_ms > spec.get("budget_s", 60) * 1000 / 3:
            # a lookup that scans the whole archive: one sample tells, more would take hours
            times[queries[0][0]].append(first_ms)
            queries = []
            spec = {**spec, "stores": 0}
        for number, (kind, sig) in enumerate(queries):
            if number >= spec.get("min_lookups", 10) and time.perf_counter() > budget_ends:
                break  # a slow lookup (a full scan) is measured on fewer samples
            started = time.perf_counter()
            story = articles.find_story(session, sig)
            times[kind].append((time.perf_counter() - started) * 1000)
            found += story is not None and kind == "duplicate"
    rss_after = _rss_mb()
    store_ms = []
    now = datetime.now(UTC)
    budget_ends = time.perf_counter() + spec.get("budget_s", 60)
    for number, (kind, sig) in enumerate(queries[: spec["stores"]]):
        if number >= 2 and time.perf_counter() > budget_ends:
            break
        record = articles.ArticleRecord(
            canonical_url=f"https://bench.test/new/{number}",
            urls=(f"https://bench.test/new/{number}",),
            source="Bench",
            title=f"New article {number}",
            text="Kim Soo-hyun " * 50,
            author=None,
            language="en",
            published_at=now,
            mentions=(articles.MentionRecord("Kim Soo-hyun", ((0, 12),)),),
            signature=sig,
            content_hash=f"{number:064x}",
        )
        session = sessions()
        transaction = session.begin()
        started = time.perf_counter()
        articles.store_article(session, record, now)
        session.flush()
        store_ms.append((time.perf_counter() - started) * 1000)
        transaction.rollback()
        session.close()
    every = times["duplicate"] + times["fresh"]
    return {
        "lookups": len(every),
        "lookup_ms": {
            "p50": round(percentile(every, 0.5), 3),
            "p95": round(percentile(every, 0.95), 3),
            "mean": round(statistics.fmean(every), 3),
        },
        "duplicate_lookup_ms_p50": round(percentile(times["duplicate"], 0.5), 3)
        if times["duplicate"]
        else None,
        "fresh_lookup_ms_p50": round(percentile(times["fresh"], 0.5), 3)
        if times["fresh"]
        else None,
        "duplicates_found": f"{found}/{len(times['duplicate'])}",
        "store_article_ms_p50": round(percentile(store_ms, 0.5), 3) if store_ms else None,
        "rss_before_lookups_mb": rss_before,
        "rss_after_lookups_mb": rss_after,
    }


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measure_dedup(
    sizes: list[int],
    backends: list[str],
    runs: int,
    workdir: Path,
    seed: int,
    created: list[str],
    budget_s: float = 30,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend in backends:
        rows: dict[str, Any] = {}
        for n in sizes:
            url = archive_url(backend, n, workdir, seed, created)
            samples = []
            for run in range(runs):
                log(f"dedup {backend} {n}: run {run + 1}/{runs} (load {loadavg()})")
                samples.append(
                    python_child(
                        "dedup",
                        {
                            "url": url,
                            "n": n,
                            "lookups": 200,
                            "stores": 50,
                            "seed": seed + run,
                            "budget_s": budget_s,
                            "min_lookups": 3,
                        },
                    )
                )
            rows[str(n)] = {
                "lookup_ms_p50": summary([s["lookup_ms"]["p50"] for s in samples], 3),
                "lookup_ms_p95": summary([s["lookup_ms"]["p95"] for s in samples], 3),
                "lookup_ms_mean": summary([s["lookup_ms"]["mean"] for s in samples], 3),
                "store_article_ms_p50": summary([s["store_article_ms_p50"] for s in samples], 3),
                "child_peak_rss_mb": summary([s["child_peak_rss_mb"] for s in samples], 1),
                "rss_growth_during_lookups_mb": summary(
                    [s["rss_after_lookups_mb"] - s["rss_before_lookups_mb"] for s in samples], 1
                ),
                "duplicates_found": [s["duplicates_found"] for s in samples],
                "lookups_per_run": [s["lookups"] for s in samples],
            }
        small, large = str(min(sizes)), str(max(sizes))
        if small != large:
            # medians: a lookup's typical cost; cold-cache outliers show in p95 and the mean
            rows["growth_smallest_to_largest"] = round(
                rows[large]["lookup_ms_p50"]["median"] / rows[small]["lookup_ms_p50"]["median"], 2
            )
        out[backend] = rows
    return out


# ------------------------------------------------------------------------------ 5. search

WATCH_NAMES = (
    "Queen of Tears",
    "Kim Soo-hyun",
    "Kim Ji-won",
    "Park Sung-hoon",
    "Kwak Dong-yeon",
    "Lee Joo-bin",
    "Park Ji-eun",
)
SEARCHES: dict[str, list[dict[str, Any]]] = {
    # the two cases: a watched name (the entity filter), and a free-text phrase
    "entity": [{"entity": name} for name in WATCH_NAMES],
    "phrase": [{"text": '"wrap-up party"'}, {"text": '"hanok village"'}],
    # what people type into the search box most: a watched name as free text (very common)
    "name_text": [{"text": name} for name in ("Kim Soo-hyun", "Kim Ji-won", "Queen of Tears")],
    # one outlet over a month (the archive spans the two years before 2026-11-01)
    "source_dates": [
        {"source": source, "since": since, "until": until}
        for source, (since, until) in zip(
            ("Yonhap", "Google News: Queen of Tears", newssite.OUTLETS[0].name),
            (
                ("2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00"),
                ("2025-06-01T00:00:00+00:00", "2025-07-01T00:00:00+00:00"),
                ("2025-01-01T00:00:00+00:00", "2025-02-01T00:00:00+00:00"),
            ),
            strict=True,
        )
    ],
    # no text, no filter: the archive page, newest first
    "empty": [{}],
}


def search_query(variant: dict[str, Any]) -> Any:
    """The SearchQuery of a SEARCHES entry (dates are ISO strings there, for the JSON)."""
    from scraper.storage import search as archive_search

    dates = {
        key: datetime.fromisoformat(variant[key]) for key in ("since", "until") if key in variant
    }
    return archive_search.SearchQuery(**(variant | dates))


def child_search(spec: dict[str, Any]) -> dict[str, Any]:
    """archive_search.search + article_json (what ``search --format json`` and /api/search do)."""
    from scraper.storage import search as archive_search
    from scraper.storage.engine import make_engine, session_factory, upgrade

    upgrade(make_engine(spec["url"]))  # as every dramawatch command does
    engine = (
        make_engine(spec["url"], read_only=True)
        if spec["url"].startswith("sqlite")
        else make_engine(spec["url"])
    )
    sessions = session_factory(engine)
    out: dict[str, Any] = {}
    for kind in spec["kinds"]:
        variants = SEARCHES[kind]
        times: list[float] = []
        cpu: list[float] = []  # this process only (the PostgreSQL server's CPU is not in it)
        hits = 0
        with sessions() as session:
            archive_search.search(session, search_query(variants[0]))  # warm-up
            budget_ends = time.perf_counter() + spec.get("budget_s", 60)
            for number in range(spec["repeat"]):
                if number >= len(variants) and time.perf_counter() > budget_ends:
                    break  # very slow queries are measured on fewer samples
                variant = variants[number % len(variants)]
                started = time.perf_counter()
                cpu_started = time.process_time()
                found = archive_search.search(session, search_query(variant))
                rows = [archive_search.article_json(h.article, h.snippet) for h in found]
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                hits += len(rows)
                session.expunge_all()
        out[kind] = {
            "samples": len(times),
            "p50_ms": round(percentile(times, 0.5), 2),
            "p95_ms": round(percentile(times, 0.95), 2),
            "max_ms": round(max(times), 2),
            "client_cpu_ms_p50": round(percentile(cpu, 0.5), 2),
            "mean_hits": hits / len(times),
            "queries": variants,
        }
    out_load = loadavg()
    return {kind: row | {"load_average": out_load} for kind, row in out.items()}


def measure_search(
    sizes: list[int],
    backends: list[str],
    runs: int,
    workdir: Path,
    seed: int,
    created: list[str],
    repeat: int,
    budget_s: float = 30,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend in backends:
        rows: dict[str, Any] = {}
        for n in sizes:
            url = archive_url(backend, n, workdir, seed, created)
            samples = []
            for run in range(runs):
                log(f"search {backend} {n}: run {run + 1}/{runs} (load {loadavg()})")
                samples.append(
                    python_child(
                        "search",
                        {
                            "url": url,
                            "kinds": list(SEARCHES),
                            "repeat": repeat,
                            "budget_s": budget_s,
                        },
                    )
                )
            rows[str(n)] = {
                kind: {
                    "p50_ms": summary([s[kind]["p50_ms"] for s in samples], 2),
                    "p95_ms": summary([s[kind]["p95_ms"] for s in samples], 2),
                    "client_cpu_ms_p50": summary([s[kind]["client_cpu_ms_p50"] for s in samples], 2),
                    "load_average": [s[kind]["load_average"] for s in samples],
                    "samples_per_run": [s[kind]["samples"] for s in samples],
                    "queries": samples[0][kind]["queries"],
                }
                for kind in SEARCHES
            }
        out[backend] = rows
    return out


# ------------------------------------------------------------------------------ 6. digest


def digest_rows(stories: int, seed: int) -> tuple[list[Any], list[Any], Any]:
    import archive_data

    from digests.build import ArticleRow, MentionRow, StoryRow
    from scraper.config import load_config

    watch = load_config(ROOT / "dramawatch.toml", env={}).watch
    rng = random.Random(seed)
    corpus = archive_data._Corpus(seed)
    end = datetime(2026, 11, 29, 8, tzinfo=UTC)
    rows = []
    for number in range(stories):
        first = end - timedelta(minutes=rng.randint(1, 24 * 60))
        copies = []
        for copy in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            names = tuple(sorted({rng.choice(WATCH_NAMES) for _ in range(rng.randint(1, 3))}))
            copies.append(
                ArticleRow(
                    source=rng.choice(archive_data.SOURCES),
                    url=f"https://outlet{copy}.test/news/{number}/{copy}",
                    title=rng.choice(corpus.titles),
                    published_at=first + timedelta(minutes=copy * 30),
                    first_seen_at=first + timedelta(minutes=copy * 30 + 5),
                    entities=names,
                    snippet=" ".join(rng.choices(corpus.sentences, k=3))[:300],
                )
            )
        rows.append(StoryRow(number + 1, copies[0].title, first, tuple(copies)))
    mentions = [
        MentionRow(rng.choice(WATCH_NAMES), end - timedelta(minutes=rng.randint(1, 14 * 24 * 60)))
        for _ in range(stories * 6)
    ]
    return rows, mentions, watch


def measure_digest(stories: int, runs: int, seed: int) -> dict[str, Any]:
    from digests.build import build_digest
    from digests.render import render_html, render_text

    rows, mentions, watch = digest_rows(stories, seed)
    end = datetime(2026, 11, 29, 8, tzinfo=UTC)
    build_s, html_s, text_s, total_s, cpu_s = [], [], [], [], []
    size = 0
    for run in range(runs + 1):
        c0 = time.process_time()
        t0 = time.perf_counter()
        view = build_digest(
            rows,
            mentions,
            watch,
            window_start=end - timedelta(days=1),
            window_end=end,
            generated_at=end,
            timezone="Asia/Seoul",
        )
        t1 = time.perf_counter()
        html = render_html(view)
        t2 = time.perf_counter()
        render_text(view)
        t3 = time.perf_counter()
        size = len(html)
        if run:  # the first one compiles the templates
            build_s.append(t1 - t0)
            html_s.append(t2 - t1)
            text_s.append(t3 - t2)
            total_s.append(t3 - t0)
            cpu_s.append(time.process_time() - c0)
    return {
        "stories": stories,
        "articles": sum(len(r.articles) for r in rows),
        "html_kb": round(size / 1024, 1),
        "build_s": summary(build_s),
        "render_html_s": summary(html_s),
        "render_text_s": summary(text_s),
        "total_s": summary(total_s),
        "total_cpu_s": summary(cpu_s),
        "load_average": loadavg(),
    }


# ------------------------------------------------------------------------------ report


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for sizes in (results.get("dedup") or {}).values():  # results of older runs: median-based
        numeric = sorted((k for k in sizes if k.isdigit()), key=int)
        if len(numeric) > 1 and sizes[numeric[0]]["lookup_ms_p50"]["median"]:
            sizes["growth_smallest_to_largest"] = round(
                sizes[numeric[-1]]["lookup_ms_p50"]["median"]
                / sizes[numeric[0]]["lookup_ms_p50"]["median"],
                2,
            )
    crawl = results.get("crawl")
    if crawl and "ratio_to_bound" in crawl:
        value = crawl["ratio_to_bound"]["median"]
        rows.append(
            {
                "target": "crawl pages/s >= 0.75 x bound",
                "value": value,
                "met": value is not None and value >= TARGETS["crawl_ratio"],
            }
        )
    if crawl:
        value = crawl["recrawl_bytes_share"]["median"]
        rows.append(
            {
                "target": "re-crawl bytes <= 10% of first crawl",
                "value": value,
                "met": value is not None and value <= TARGETS["recrawl_bytes_share"],
            }
        )
    for backend, rows_ in (results.get("dedup") or {}).items():
        if "1000000" in rows_:
            value = rows_["1000000"]["lookup_ms_p95"]["median"]
            rows.append(
                {
                    "target": f"dedup lookup p95 <= 50 ms at 1,000,000 ({backend})",
                    "value": value,
                    "met": value is not None and value <= TARGETS["dedup_p95_ms_1m"],
                }
            )
        if "growth_smallest_to_largest" in rows_:
            value = rows_["growth_smallest_to_largest"]
            rows.append(
                {
                    "target": f"dedup lookup growth <= 2x ({backend})",
                    "value": value,
                    "met": value <= TARGETS["dedup_growth"],
                }
            )
    for backend, sizes in (results.get("search") or {}).items():
        largest = max(sizes, key=int)
        for kind, values in sizes[largest].items():
            value = values["p95_ms"]["median"]
            rows.append(
                {
                    "target": f"search p95 <= 100 ms at {int(largest):,} ({backend}, {kind})",
                    "value": value,
                    "met": int(largest) >= 1_000_000 and value <= 100
                    if int(largest) >= 1_000_000
                    else value <= 100,
                }
            )
    digest = results.get("digest")
    if digest:
        value = digest["total_s"]["median"]
        rows.append(
            {
                "target": "500-story digest render <= 1 s",
                "value": value,
                "met": value <= TARGETS["digest_render_s"],
            }
        )
    memory = results.get("memory")
    if memory:
        value = memory["peak_rss_mb"]["median"]
        rows.append(
            {
                "target": f"peak RSS of a {memory['pages']:,}-page crawl <= 400 MB",
                "value": value,
                "met": value <= TARGETS["crawl_peak_rss_mb"],
            }
        )
    return rows


def _fmt(stat: dict[str, Any] | None, unit: str = "") -> str:
    if not stat or stat.get("median") is None:
        return "-"
    return f"{stat['median']}{unit} ({stat['min']}–{stat['max']}, n={stat['n']})"


def table(results: dict[str, Any]) -> str:
    lines = ["| measurement | result: median (min–max, runs) | target |", "|---|---|---|"]
    bound = results.get("bound")
    if bound:
        lines.append(
            f"| 1. extraction bound, 1 process | {_fmt(bound['one_process_pages_per_s'], ' pages/s')} | |"
        )
        lines.append(
            f"| 1. extraction bound, {bound['processes']} processes | "
            f"{_fmt(bound['n_processes_pages_per_s'], ' pages/s')} | |"
        )
        lines.append(
            f"| 1. bound used | {bound['bound_pages_per_s']} pages/s ({bound['bound_from']}) | |"
        )
        lines.append(f"| 1. extraction CPU per page | {_fmt(bound['cpu_ms_per_page'], ' ms')} | |")
    crawl = results.get("crawl")
    if crawl:
        lines.append(
            f"| 2. crawl, cold, {crawl['pages']:,} pages | {_fmt(crawl['cold_pages_per_s'], ' pages/s')} | |"
        )
        lines.append(
            f"| 2. crawl, articles stored/s | {_fmt(crawl['cold_articles_per_s'], '/s')} | |"
        )
        if "ratio_to_bound" in crawl:
            lines.append(f"| 2. crawl / bound | {_fmt(crawl['ratio_to_bound'])} | >= 0.75 |")
        lines.append(f"| 2. crawl process CPU / wall | {_fmt(crawl['cold_cpu_share'])} | |")
        lines.append(
            f"| 2. crawl CPU per page, crawl process | {_fmt(crawl['cold_cpu_ms_per_page'], ' ms')} | |"
        )
        lines.append(
            f"| 2. crawl CPU per page, with worker processes | {_fmt(crawl['cold_tree_cpu_ms_per_page'], ' ms')} | |"
        )
        lines.append(
            f"| 3. re-crawl unchanged: bytes share | {_fmt(crawl['recrawl_bytes_share'])} | <= 0.10 |"
        )
        lines.append(
            f"| 3. re-crawl unchanged: requests share | {_fmt(crawl['recrawl_requests_share'])} | |"
        )
        if "reserved_bytes_share" in crawl:
            lines.append(
                f"| 3. re-crawl, feeds served again (same entries): bytes share | {_fmt(crawl['reserved_bytes_share'])} | <= 0.10 |"
            )
            lines.append(
                f"| 3. re-crawl, feeds served again: article fetches | {_fmt(crawl['reserved_article_fetches'])} | |"
            )
        lines.append(
            f"| 3. re-crawl after 1% new articles: bytes share | {_fmt(crawl['new_news_bytes_share'])} | <= 0.05 |"
        )
        lines.append(
            f"| 3. re-crawl after 1% new articles: article fetches | {_fmt(crawl['new_news_article_fetches'])} | |"
        )
    for backend, rows in (results.get("dedup") or {}).items():
        for n, row in rows.items():
            if n.isdigit():
                lines.append(
                    f"| 4. dedup lookup ({backend}, {int(n):,} archived), p50 / p95 / mean | "
                    f"{_fmt(row['lookup_ms_p50'], ' ms')} / {_fmt(row['lookup_ms_p95'], ' ms')} / "
                    f"{_fmt(row['lookup_ms_mean'], ' ms')} | |"
                )
                lines.append(
                    f"| 4. dedup RSS growth during 200 lookups ({backend}, {int(n):,}) | "
                    f"{_fmt(row['rss_growth_during_lookups_mb'], ' MB')} | flat |"
                )
        if "growth_smallest_to_largest" in rows:
            lines.append(
                f"| 4. dedup growth of the median lookup, smallest to largest archive ({backend}) | "
                f"{rows['growth_smallest_to_largest']}x | <= 2x |"
            )
    for backend, sizes in (results.get("search") or {}).items():
        for n, kinds in sizes.items():
            for kind, row in kinds.items():
                cpu = row.get("client_cpu_ms_p50")
                lines.append(
                    f"| 5. search {kind} ({backend}, {int(n):,}) p50 / p95"
                    + (" [client CPU p50; load]" if cpu else "")
                    + f" | {_fmt(row['p50_ms'], ' ms')} / {_fmt(row['p95_ms'], ' ms')}"
                    + (f" [{_fmt(cpu, ' ms')}; {row['load_average']}]" if cpu else "")
                    + " | p95 <= 100 ms at 1M |"
                )
    digest = results.get("digest")
    if digest:
        lines.append(
            f"| 6. digest of {digest['stories']} stories: build + render | {_fmt(digest['total_s'], ' s')} | <= 1 s |"
        )
        if "total_cpu_s" in digest:
            lines.append(f"| 6. the same, CPU time | {_fmt(digest['total_cpu_s'], ' s')} | |")
    memory = results.get("memory")
    if memory:
        lines.append(
            f"| 7. peak RSS, {memory['pages']:,}-page crawl (all its processes) | {_fmt(memory['peak_rss_mb'], ' MB')} | <= 400 MB |"
        )
        lines.append(
            f"| 7. peak RSS of the crawl process alone | {_fmt(memory['main_process_peak_rss_mb'], ' MB')} | |"
        )
        lines.append(
            f"| 7. peak PSS (shared pages split between processes) | {_fmt(memory.get('tree_peak_pss_mb'), ' MB')} | |"
        )
        lines.append(f"| 7. that crawl's pages/s | {_fmt(memory['pages_per_s'], ' pages/s')} | |")
    return "\n".join(lines)


def _verdict_lines(results: dict[str, Any]) -> str:
    return "".join(
        f"- {'met' if v['met'] else 'MISSED'}: {v['target']} (measured {v['value']})\n"
        for v in results.get("verdicts", [])
    )


def write_results(
    results: dict[str, Any],
    compare: dict[str, Any] | None = None,
    notes: str = "",
    compare_title: str = "The same measurements with the proposed core changes (`--core`)",
) -> Path:
    """Rewrite bench/RESULTS.md: commands, machine, table, targets, [comparison], notes, JSON."""
    info = results["machine"]
    parts = [
        "# Benchmark results\n\nProduced by:\n\n",
        "".join(f"    {c}\n" for c in results["commands"]),
        f"\nfinished {results['finished_at']} ({results['elapsed_s']:.0f} s for the last command).\n\n",
        f"Machine: {info['cores']} cores, {info['cpu_model']}, {info['memory_mb']} MB RAM, ",
        f"Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {info.get('postgresql')}; ",
        f"load average {info['load_average_at_start']} at start.\n\n",
        f"{table(results)}\n\n## Targets\n\n{_verdict_lines(results)}\n",
    ]
    if compare:
        parts += [
            f"## {compare_title}\n\nProduced by:\n\n",
            "".join(f"    {c}\n" for c in compare.get("commands", [])),
            f"\n{table(compare)}\n\n{_verdict_lines(compare)}\n",
        ]
    if notes:
        parts.append(notes.strip() + "\n\n")
    parts += [
        "## JSON\n\n```json\n",
        json.dumps(results, indent=2, ensure_ascii=False, default=str),
        "\n```\n",
    ]
    path = BENCH / "RESULTS.md"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def strip_details(results: dict[str, Any]) -> dict[str, Any]:
    """The results without per-crawl details (kept in the --json file only)."""
    out = json.loads(json.dumps(results, default=str))
    for key in ("crawl", "memory"):
        if key in out:
            out[key].pop("details", None)
    return out


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        factor = 1_000_000 if part.endswith("m") else 1000 if part.endswith("k") else 1
        sizes.append(int(float(part.rstrip("mk")) * factor))
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dramawatch benchmark (issue 6)")
    parser.add_argument(
        "--pages", type=int, default=2000, help="pages of the generated site (default 2000)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="repetitions of the bound and crawl measurements (default 1: the quick run)",
    )
    parser.add_argument(
        "--only",
        default="bound,crawl,dedup,search,digest",
        help="comma-separated subset of: bound,crawl,dedup,search,digest,memory "
        "(and load: only populate the archives)",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="add the peak-memory crawl of --memory-pages pages (10k pages take minutes)",
    )
    parser.add_argument(
        "--sizes", default="1k,10k", help="archive sizes for dedup/search (default 1k,10k)"
    )
    parser.add_argument(
        "--big", action="store_true", help="add the 1M-article archive (loading takes long)"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--memory-pages", type=int, default=10000, help="pages of the peak-memory crawl"
    )
    parser.add_argument("--memory-runs", type=int, default=1)
    parser.add_argument(
        "--search-repeat", type=int, default=10, help="timed searches per kind and run"
    )
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=20241129)
    parser.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "dramawatch-bench")
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the PostgreSQL bench databases"
    )
    parser.add_argument("--json", help="also write the full results (with per-crawl details) here")
    parser.add_argument("--write", action="store_true", help="rewrite bench/RESULTS.md")
    parser.add_argument(
        "--db-runs", type=int, default=1, help="runs of dedup and search (default 1)"
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=5,
        help="seconds per dedup/search sample set before slow queries are cut short",
    )
    parser.add_argument(
        "--merge",
        nargs="*",
        default=[],
        help="earlier --json result files whose sections this run did not measure are kept",
    )
    parser.add_argument(
        "--compare",
        help="with --write: a --json result file of a --core run, shown as a second table",
    )
    parser.add_argument("--compare-title", help="with --compare: the second table's heading")
    parser.add_argument("--notes", help="with --write: a Markdown file appended to RESULTS.md")
    parser.add_argument("--core", help="run the crawls on another checkout (a prototype copy)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        mode, spec = args.child
        handler: Callable[[dict[str, Any]], dict[str, Any]] = {
            "dedup": child_dedup,
            "search": child_search,
        }[mode]
        print(json.dumps(handler(json.loads(spec))))
        return 0

    global CORE
    if args.core:
        CORE = Path(args.core).resolve()
    started = time.perf_counter()
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    if args.memory:
        only.add("memory")
    sizes = parse_sizes(args.sizes) + ([1_000_000] if args.big else [])
    sizes = sorted(set(sizes))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "postgresql" in backends and not postgres_available():
        log("PostgreSQL is not reachable on 127.0.0.1:5432: its rows are skipped")
        backends.remove("postgresql")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    results: dict[str, Any] = {
        "machine": machine(),
        "started_at": now.isoformat(),
        "arguments": vars(args) | {"sizes": sizes, "backends": backends},
    }
    created: list[str] = []
    try:
        if "digest" in only:
            log("digest render")
            results["digest"] = measure_digest(500, max(args.runs, 5), args.seed)
        if "bound" in only:
            results["bound"] = measure_bound(args.pages, args.seed, now, args.runs, args.procs)
        if "crawl" in only:
            bound = results.get("bound", {}).get("bound_pages_per_s")
            results["crawl"] = measure_crawl(
                args.pages, args.seed, now, args.runs, workdir, bound, 0.01
            )
        if "memory" in only:
            results["memory"] = measure_memory(
                args.memory_pages, args.seed, now, args.memory_runs, workdir
            )
        if "load" in only:
            for backend in backends:
                for n in sizes:
                    archive_url(backend, n, workdir, args.seed, created)
        if "dedup" in only:
            results["dedup"] = measure_dedup(
                sizes, backends, args.db_runs, workdir, args.seed, created, args.budget_s
            )
        if "search" in only:
            results["search"] = measure_search(
                sizes,
                backends,
                args.db_runs,
                workdir,
                args.seed,
                created,
                args.search_repeat,
                args.budget_s,
            )
    finally:
        if not args.keep_db:
            import archive_data

            for name in created:
                archive_data.pg_drop(PG_ADMIN, name)
    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results["commands"] = [command.strip()]
    for earlier_path in args.merge:
        earlier = json.loads(Path(earlier_path).read_text())
        taken = []
        for key in ("bound", "crawl", "memory", "dedup", "search", "digest"):
            if key not in earlier:
                continue
            if key in ("dedup", "search"):  # per backend
                section = results.setdefault(key, {})
                backends = [b for b in earlier[key] if b not in section]
                for backend in backends:
                    section[backend] = earlier[key][backend]
                if backends:
                    taken.append(f"{key} ({', '.join(backends)})")
            elif key not in results:
                results[key] = earlier[key]
                taken.append(key)
        if taken:
            results["commands"] += [
                f"{c}  (gave: {', '.join(taken)})" for c in earlier.get("commands", [])
            ]
    results["verdicts"] = verdicts(results)
    results["finished_at"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_at_end"] = loadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False))
    brief = strip_details(results)
    print(table(brief))
    print()
    for verdict in brief["verdicts"]:
        print(
            f"{'met   ' if verdict['met'] else 'MISSED'}  {verdict['target']}: {verdict['value']}"
        )
    print(json.dumps(brief, indent=2, ensure_ascii=False))
    if args.write:
        compare = (
            strip_details(json.loads(Path(args.compare).read_text())) if args.compare else None
        )
        notes = Path(args.notes).read_text() if args.notes else ""
        titled = {"compare_title": args.compare_title} if args.compare_title else {}
        log(f"wrote {write_results(brief, compare, notes, **titled)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
