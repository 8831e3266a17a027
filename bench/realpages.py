"""Extraction on real publisher pages: body F1 against ground truth, beside trafilatura's own.

    python bench/realpages.py                       # the AEB corpus in ../shared/realpages/aeb
    python bench/realpages.py --corpus DIR --json out.json --show 5

A corpus directory holds ``ground-truth.json`` (``{id: {"url", "articleBody"}}``) and
``html/<id>.html.gz`` (or ``.html``), the layout of Zyte's article extraction benchmark. Each
page goes through the extraction ``dramawatch inspect`` runs (``scraper.app.inspect.decode`` then
``scraper.core.extract.extract`` with the page's real URL); plain ``trafilatura.extract`` runs on
the same decoded HTML, with its defaults and with comments off as dramawatch runs it. Scoring
is the benchmark's own: word 4-gram shingles (``\\w+`` tokens), precision and recall per page,
averaged over the pages, F1 of the two means; a rejected page scores as empty output
(precision 0, recall 0). Not part of the test suite; the corpus is read
where it lies and none of it belongs in the repository.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from scraper.app.inspect import decode  # noqa: E402
from scraper.core.extract import Rejected, extract  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "realpages" / "aeb"
_TOKEN = re.compile(r"\w+")
SHINGLE_WORDS = 4


@dataclass(frozen=True)
class Score:
    """Shingle counts of one prediction against its ground truth."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    n = min(len(tokens), SHINGLE_WORDS)
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def score(truth: str, predicted: str) -> Score:
    """Return the benchmark's shingle match of one predicted body against the truth."""
    true, pred = _shingles(truth), _shingles(predicted)
    return Score(
        tp=sum((true & pred).values()),
        fp=sum((pred - true).values()),
        fn=sum((true - pred).values()),
    )


def summary(scores: list[Score]) -> dict[str, float]:
    """Mean precision and recall over pages, and the F1 of the two means."""
    precision = statistics.fmean(s.precision for s in scores)
    recall = statistics.fmean(s.recall for s in scores)
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(_f1(precision, recall), 4),
    }


def load_corpus(corpus: Path) -> list[tuple[str, str, str, bytes]]:
    """Return (id, url, ground-truth body, raw HTML bytes) for each page of a corpus."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, entry in sorted(truth.items()):
        packed = corpus / "html" / f"{page_id}.html.gz"
        plain = corpus / "html" / f"{page_id}.html"
        if packed.exists():
            body = gzip.decompress(packed.read_bytes())
        elif plain.exists():
            body = plain.read_bytes()
        else:
            continue
        pages.append((page_id, entry.get("url") or "", entry.get("articleBody") or "", body))
    return pages


def run(corpus: Path) -> dict[str, Any]:
    """Extract every page both ways; return per-page rows and the summary figures."""
    rows = []
    ours_s = theirs_s = 0.0
    for page_id, url, truth, body in load_corpus(corpus):
        html = decode(body, None)
        started = time.process_time()
        result = extract(html, url)
        ours_s += time.process_time() - started
        started = time.process_time()
        theirs = trafilatura.extract(html, url=url) or ""
        theirs_s += time.process_time() - started
        no_comments = trafilatura.extract(html, url=url, include_comments=False) or ""
        if isinstance(result, Rejected):
            verdict, title, text = f"rejected: {result.reason}", None, ""
        else:
            verdict, title, text = "article", result.title, result.text
        rows.append(
            {
                "id": page_id,
                "url": url,
                "verdict": verdict,
                "title": title,
                "ours": score(truth, text),
                "trafilatura": score(truth, theirs),
                "trafilatura_no_comments": score(truth, no_comments),
            }
        )
    verdicts = Counter(
        "article" if row["verdict"] == "article" else row["verdict"].split(" (")[0] for row in rows
    )
    return {
        "corpus": str(corpus),
        "pages": len(rows),
        "verdicts": dict(verdicts.most_common()),
        "dramawatch": summary([row["ours"] for row in rows]),
        "trafilatura": summary([row["trafilatura"] for row in rows]),
        "trafilatura_no_comments": summary([row["trafilatura_no_comments"] for row in rows]),
        "cpu_s": {"dramawatch": round(ours_s, 2), "trafilatura": round(theirs_s, 2)},
        "rows": rows,
    }


def _as_json(report: dict[str, Any]) -> dict[str, Any]:
    rows = [
        {
            **row,
            "ours": round(row["ours"].f1, 4),
            "trafilatura": round(row["trafilatura"].f1, 4),
            "trafilatura_no_comments": round(row["trafilatura_no_comments"].f1, 4),
        }
        for row in report["rows"]
    ]
    return {**report, "rows": rows}


def print_report(report: dict[str, Any], show: int) -> None:
    print(f"corpus {report['corpus']}: {report['pages']} pages")
    print(f"{'extractor':<26}{'precision':>10}{'recall':>10}{'F1':>8}{'CPU s':>8}")
    for name in ("dramawatch", "trafilatura", "trafilatura_no_comments"):
        figures = report[name]
        cpu = report["cpu_s"].get(name)
        print(
            f"{name:<26}{figures['precision']:>10.4f}{figures['recall']:>10.4f}"
            f"{figures['f1']:>8.4f}{'' if cpu is None else f'{cpu:.2f}':>8}"
        )
    print("verdicts: " + ", ".join(f"{k} {v}" for k, v in report["verdicts"].items()))
    for row in report["rows"]:
        if row["verdict"] != "article":
            print(f"  {row['id'][:12]} {row['verdict']}  {row['url']}")
    if show:
        worst = sorted(report["rows"], key=lambda r: r["ours"].f1 - r["trafilatura"].f1)
        print(f"largest losses to trafilatura (F1 ours / theirs), {show} shown:")
        for row in worst[:show]:
            print(
                f"  {row['id'][:12]} {row['ours'].f1:.3f} / {row['trafilatura'].f1:.3f}"
                f"  {row['url']}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "realpages.json")
    parser.add_argument("--show", type=int, default=0, help="list the N largest F1 losses")
    args = parser.parse_args(argv)
    if not (args.corpus / "ground-truth.json").exists():
        parser.error(f"no ground-truth.json in {args.corpus}")
    report = run(args.corpus)
    print_report(report, args.show)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_as_json(report), ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
