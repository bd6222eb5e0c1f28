"""Briefs of the seed article into en, fr and ru on real-shape random models: the legs side
by side against one by one, and the time to the first streamed brief.

Models (CTranslate2 int8, greedy, output lengths forced): the summariser at
distilbart-cnn-12-6's shape (SUMMARY_TOKENS tokens), and en→fr and en→ru at opus-mt's shape
(TRANSLATION_TOKENS tokens per segment). Quality guards off: forced lengths on random
weights fail the checks, and re-decoding would measure the guard, not the legs. One
server per configuration, each call repeated (median):

  one by one:  leg_threads=1, inference_workers=1 (the legs one after the other: the sum)
  side by side, one worker: the legs submitted together, one batch at a time
  side by side (the default): inference_workers=2, batches of different models overlap

    python bench/briefs.py [--quick]    (also part of `make bench`)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models
from serving import served

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_TOKENS = 60
TRANSLATION_TOKENS = 48
LANGUAGES = ["en", "fr", "ru"]
SEQUENTIAL = "one by one (leg_threads=1, inference_workers=1)"
ONE_WORKER = "side by side, inference_workers=1"
DEFAULT = "side by side (default: inference_workers=2)"
CONFIGURATIONS = {
    SEQUENTIAL: {"leg_threads": "1", "inference_workers": "1"},
    ONE_WORKER: {"inference_workers": "1"},
    DEFAULT: {},
}


@dataclass(frozen=True)
class Figures:
    """Medians over the repeats, in seconds."""

    unary: float  # a unary Summarize into en, fr and ru
    first: float  # StreamSummarize: the first brief
    last: float  # StreamSummarize: the last brief
    summary: float  # a unary Summarize into en alone (the shared summary, no leg)


def catalog(work: Path) -> Path:
    bart = models.distilbart(work / "distilbart-cnn-12-6-shape")
    marian = models.marian_base(models.marian_dir(work))

    def entry(model_id: str, family: str, source: Path, tasks: str, extra: str, tokens: int) -> str:
        return (
            f'[[models]]\nid = "{model_id}"\nfamily = "{family}"\nsource = "{source}"\n'
            f'tasks = ["{tasks}"]\n{extra}\npreload = true\nbackend = "ctranslate2"\n'
            'compute_type = "int8"\nlicense = "random weights"\n[models.generation]\n'
            f"num_beams = 1\nmin_new_tokens = {tokens}\nmax_new_tokens = {tokens + 1}\n"
        )

    path = work / "briefs-catalog.toml"
    path.write_text(
        'pivot_language = "en"\n'
        + entry(
            "bench-bart", "bart", bart, "summarize", 'summary_languages = ["en"]', SUMMARY_TOKENS
        )
        + entry(
            "bench-en-fr",
            "marian",
            marian,
            "translate",
            'pairs = [["en", "fr"]]',
            TRANSLATION_TOKENS,
        )
        + entry(
            "bench-en-ru",
            "marian",
            marian,
            "translate",
            'pairs = [["en", "ru"]]',
            TRANSLATION_TOKENS,
        ),
        encoding="utf-8",
    )
    return path


def measure(address: str, article: str, repeats: int) -> Figures:
    from polybrief.client import Client, Ready

    unary, first, last, summary = [], [], [], []
    with Client(address, timeout=600) as client:
        client.wait_until_serving(600)
        client.summarize(article, to=LANGUAGES, source="en")  # warm: loads, first batches
        for _ in range(repeats):
            started = time.perf_counter()
            result = client.summarize(article, to=LANGUAGES, source="en")
            unary.append(time.perf_counter() - started)
            if any(b.error for b in result.briefs):
                raise RuntimeError(f"a brief failed: {result.briefs}")
            started = time.perf_counter()
            arrivals = [
                time.perf_counter() - started
                for event in client.stream_summarize(article, to=LANGUAGES, source="en")
                if isinstance(event, Ready)
            ]
            first.append(arrivals[0])
            last.append(arrivals[-1])
            started = time.perf_counter()
            client.summarize(article, to=["en"], source="en")
            summary.append(time.perf_counter() - started)
    median = statistics.median
    return Figures(median(unary), median(first), median(last), median(summary))


def brief_runs(work: Path, repeats: int) -> dict[str, Figures]:
    """The figures of each configuration, on one catalogue."""
    path = catalog(work)
    article = (ROOT / "examples" / "afp-putin-hollande.txt").read_text(encoding="utf-8")
    port = 50900 + os.getpid() % 90
    results = {}
    for index, (name, settings) in enumerate(CONFIGURATIONS.items()):
        env = {"cache_mb": "0", "quality_guards": "false", **settings}
        with served(path, port + index, **env) as (address, _):
            results[name] = measure(address, article, repeats)
        figures = results[name]
        print(
            f"  briefs, {name}: unary {figures.unary:.2f} s, first streamed {figures.first:.2f} s, "
            f"last {figures.last:.2f} s (summary alone {figures.summary:.2f} s)"
        )
    return results


def table(results: dict[str, Figures]) -> tuple[list[str], str]:
    """Markdown rows and the `briefs:` targets line."""
    rows = [
        "| Summarize of the seed article into en, fr, ru | unary s | first streamed brief s "
        "| last streamed brief s | legs only s (unary − summary) |",
        "|---|---|---|---|---|",
    ]
    for name, f in results.items():
        rows.append(
            f"| {name} | {f.unary:.2f} | {f.first:.2f} | {f.last:.2f} | {f.unary - f.summary:.2f} |"
        )
    sequential, one, default = (results[k] for k in (SEQUENTIAL, ONE_WORKER, DEFAULT))
    legs_seq = sequential.unary - sequential.summary
    targets = (
        f"briefs: unary_default_vs_sequential={default.unary / sequential.unary:.2f} "
        f"legs_default_vs_sequential={(default.unary - default.summary) / legs_seq:.2f} "
        f"legs_one_worker_vs_sequential={(one.unary - one.summary) / legs_seq:.2f} "
        f"first_brief_vs_unary={default.first / default.unary:.2f}"
    )
    return rows, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat instead of five")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "polybrief-bench"
    )
    args = parser.parse_args()
    os.environ.setdefault("POLYBRIEF_CT2_CACHE", str(args.work / "ct2"))
    rows, targets = table(brief_runs(args.work, 1 if args.quick else 5))
    print("\n".join(rows))
    print(targets)


if __name__ == "__main__":
    main()
