"""What the quality guards do on the tiny random-weight models of every family.

For every sentence of the seed article, translated by every tiny translation route and
summarised by every tiny summariser, with the guards off and then on, prints:
  - the share of outputs that loop or are out of length ratio (flagged), before and after;
  - re-decodes per 100 segments;
  - glossary terms kept verbatim, in per cent (must be 100);
  - the mean confidence of looping and of clean outputs;
  - what the checks cost per output when nothing needs a re-decode (loop, length ratio,
    copy and the language detector), to set against a decode's time in `make bench`.

    python bench/quality.py            # `make bench-quality`
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from polybrief.client import Client, GlossaryTerm  # noqa: E402
from polybrief.service.models.tiny import make_tiny  # noqa: E402
from polybrief.service.quality.checks import find_loop, length_ratio_ok  # noqa: E402
from polybrief.service.text.segment import split_sentences  # noqa: E402
from server_harness import ServerThread  # noqa: E402

PAIRS = [("en", "fr"), ("en", "ru"), ("en", "de"), ("fr", "en"), ("en", "uk"), ("en", "ja")]
GLOSSARY = [
    GlossaryTerm("Charles de Gaulle", ""),
    GlossaryTerm("Vladimir Putin", ""),
    GlossaryTerm("Islamic State", "Etat islamique"),
    GlossaryTerm("Raqa", ""),
    GlossaryTerm("Kremlin", ""),
]


def flagged(source: str, output: str) -> bool:
    return bool(find_loop(output)) or not length_ratio_ok(source, output)


def checks_cost(sentences: list[str]) -> float:
    """Milliseconds of checks per output, on real French sentences (what a good model
    writes: nothing loops, nothing is re-decoded)."""
    from polybrief.service.quality.checks import is_untranslated
    from polybrief.service.text.detect import detect_language

    outputs = [f"Le président a déclaré que la marine travaillerait avec ses alliés {i}." for i in range(len(sentences))]  # fmt: skip
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        for source, output in zip(sentences, outputs, strict=True):
            find_loop(output)
            length_ratio_ok(source, output)
            is_untranslated(source, output, "en", "fr")
            detect_language(output)
    return (time.perf_counter() - started) * 1000 / (rounds * len(sentences))


def main() -> None:
    seed = (ROOT / "examples" / "afp-putin-hollande.txt").read_text(encoding="utf-8")
    sentences = list(dict.fromkeys(s for s in split_sentences(seed, "en") if len(s.split()) > 3))
    print(f"checks per output, nothing re-decoded: {checks_cost(sentences):.2f} ms")
    with tempfile.TemporaryDirectory() as work:
        catalog = make_tiny(Path(work) / "tiny")
        for guards in (False, True):
            server = ServerThread(catalog, quality_guards=guards, cache_mb=0)
            try:
                with Client(server.address, timeout=600) as client:
                    outputs: list[tuple[str, str, float]] = []
                    for source, target in PAIRS:
                        texts = sentences if source == "en" else [
                            r.text for r in client.translate(sentences, to=source, source="en")
                        ]  # fmt: skip
                        for text, result in zip(
                            texts, client.translate(texts, to=target, source=source), strict=True
                        ):
                            outputs.append((text, result.text, result.confidence))
                    kept = total = 0
                    for result, text in zip(
                        client.translate(sentences, to="fr", source="en", glossary=GLOSSARY),
                        sentences,
                        strict=True,
                    ):
                        for term in GLOSSARY:
                            if term.source in text:
                                total += 1
                                kept += (term.target or term.source) in result.text
                stats = server.engine.runner.stats
            finally:
                server.stop()
            share = sum(flagged(s, o) for s, o, _ in outputs) / len(outputs)
            loops = [c for _, o, c in outputs if find_loop(o)]
            clean = [c for _, o, c in outputs if not find_loop(o)]
            print(f"guards {'on ' if guards else 'off'}: {len(outputs)} translations")
            print(f"  flagged (loop or length ratio): {share:.1%}")
            if guards:
                per100 = 100 * stats.redecodes / max(stats.segments, 1)
                print(f"  re-decodes per 100 segments: {per100:.1f}")
            print(f"  glossary terms kept verbatim: {kept}/{total} = {kept / max(total, 1):.0%}")
            if loops and clean:
                print(
                    f"  mean confidence: looping {statistics.mean(loops):.2f}, "
                    f"clean {statistics.mean(clean):.2f}"
                )


if __name__ == "__main__":
    main()
