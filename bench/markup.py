"""What formatted input costs: the real HTML page and Markdown file of tests/data through
``translate_document`` with an identity translator (no model), so the figures are the
markup handling alone — characters sent to the model per 1,000 characters of document,
and parse + mask + verify + rebuild time per 1,000 characters.

    python bench/markup.py    (also part of `make bench`)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from polybrief.service.text.markup import html, markdown

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
DOCUMENTS = {
    "HTML page (rustdoc, 27 kB)": (html, DATA / "rustdoc-what-is-rustdoc.html"),
    "Markdown README (rich, 17 kB)": (markdown, DATA / "rich-README.md"),
}


def overhead(repeats: int = 20) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    for name, (module, path) in DOCUMENTS.items():
        source = path.read_text(encoding="utf-8")
        sent: list[int] = []

        def identity(units: Sequence[str], sent: list[int] = sent) -> list[str]:
            sent.append(sum(len(u) for u in units))
            return list(units)

        module.translate_document(source, identity)  # warm
        per_call = sent[-1]
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            module.translate_document(source, identity)
            times.append(time.perf_counter() - started)
        kilo = len(source) / 1000
        rows.append(
            {
                "document": name,
                "sent_per_1000": per_call / kilo,
                "ms_per_1000": statistics.median(times) * 1000 / kilo,
            }
        )
    return rows


def table(rows: list[dict[str, float | str]]) -> list[str]:
    lines = [
        "| formatted input (no model) | characters sent per 1,000 | markup handling ms per 1,000 characters |",
        "|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['document']} | {r['sent_per_1000']:.0f} | {r['ms_per_1000']:.2f} |")
    return lines


if __name__ == "__main__":
    print("\n".join(table(overhead())))
