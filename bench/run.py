"""polybrief benchmark: raw engines against the service, on random-weight models of real size.

Measures, with output lengths forced equal (greedy, 48 new tokens):
  (a) transformers generate, one request at a time
  (b) transformers, one batch
  (c) CTranslate2 int8, one batch (the engine ceiling) and one item at a time
  (d) the polybrief service over gRPC (CTranslate2 int8 backend) at concurrency 1, 4, 16, 64
      with the quality guards off (outputs exactly the engine's), and at concurrency 16 with
      them on (the default): random weights with forced lengths give outputs out of length
      ratio, so this is close to the guards' worst case (most segments re-decoded)
  (e) the machine's fp32 GEMM ceiling, and what it allows for this model
Writes bench/results/<name>.md and .png and ends with the `targets:` line.

    python bench/run.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import briefs
import markup
import models
from serving import served

ROOT = Path(__file__).resolve().parents[1]
OUT_TOKENS = 48
THREADS = os.cpu_count() or 1


def sentences(count: int) -> list[str]:
    """Distinct single sentences from the seed article (each one model input in the service)."""
    from polybrief.service.text.segment import split_sentences

    text = (ROOT / "examples" / "afp-putin-hollande.txt").read_text(encoding="utf-8")
    pool = list(dict.fromkeys(s for s in split_sentences(text, "en") if 8 <= len(s.split()) <= 45))
    chosen = [f"Report {i}: {pool[i % len(pool)]}" for i in range(count)]
    if any(len(split_sentences(t, "en")) != 1 for t in chosen):
        raise RuntimeError("benchmark inputs must be single sentences")
    return chosen


def gemm_gflops() -> float:
    torch.set_num_threads(THREADS)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b
    started, runs = time.perf_counter(), 10
    for _ in range(runs):
        a @ b
    return 2 * 2048**3 * runs / (time.perf_counter() - started) / 1e9


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def hf_runs(directory: Path, texts: list[str]) -> dict[str, float]:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    torch.set_num_threads(THREADS)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSeq2SeqLM.from_pretrained(directory).eval()
    settings = {
        "num_beams": 1,
        "do_sample": False,
        "min_new_tokens": OUT_TOKENS,
        "max_new_tokens": OUT_TOKENS,
    }

    def generate(batch: list[str]) -> None:
        with torch.inference_mode():
            model.generate(**tokenizer(batch, return_tensors="pt", padding=True), **settings)

    generate(texts[:1])  # warm-up
    one = timed(lambda: [generate([t]) for t in texts])
    batched = statistics.median(timed(lambda: generate(texts)) for _ in range(3))
    n = len(texts) * OUT_TOKENS
    params = {
        name: sum(p.numel() for p in part.parameters())
        for name, part in (("encoder", model.get_encoder()), ("decoder", model.get_decoder()))
    }
    head = model.get_output_embeddings().weight.numel()
    return {
        "one_tps": n / one,
        "batch_tps": n / batched,
        "decoder_params": params["decoder"] + head,
        "encoder_params": params["encoder"],
    }


def ct2_runs(directory: Path, texts: list[str], family: str = "marian") -> dict[str, float]:
    import ctranslate2
    from polybrief.service.models.backends import convert_to_ct2
    from polybrief.service.models.catalog import ModelSpec
    from transformers import AutoTokenizer

    spec = ModelSpec(id=directory.name, family=family, source=str(directory), tasks=("translate",))
    converted = convert_to_ct2(spec, str(directory), "int8", directory.parent / "ctranslate2")
    tokenizer = AutoTokenizer.from_pretrained(directory)
    translator = ctranslate2.Translator(
        str(converted), device="cpu", compute_type="int8", intra_threads=THREADS
    )
    tokens = [tokenizer.convert_ids_to_tokens(tokenizer(t)["input_ids"]) for t in texts]
    options = {"beam_size": 1, "max_decoding_length": OUT_TOKENS, "min_decoding_length": OUT_TOKENS}
    translator.translate_batch(tokens[:2], **options)
    batched = statistics.median(
        timed(lambda: translator.translate_batch(tokens, **options)) for _ in range(3)
    )
    singles = [timed(lambda t=t: translator.translate_batch([t], **options)) for t in tokens]
    n = len(texts) * OUT_TOKENS
    return {
        "batch_tps": n / batched,
        "one_tps": n / sum(singles),
        "one_latency": statistics.median(singles),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def service_runs(
    directory: Path, levels: list[int], work: Path, *, guards: bool
) -> tuple[list[dict[str, float]], float, float]:
    from polybrief.client import Client

    catalog = work / "bench-catalog.toml"
    catalog.write_text(
        f'[[models]]\nid = "bench-marian"\nfamily = "marian"\nsource = "{directory}"\n'
        'tasks = ["translate"]\npairs = [["en", "fr"]]\npreload = true\nbackend = "ctranslate2"\n'
        'compute_type = "int8"\nlicense = "random weights"\n[models.generation]\n'
        f"num_beams = 1\nmin_new_tokens = {OUT_TOKENS}\nmax_new_tokens = {OUT_TOKENS + 1}\n",
        encoding="utf-8",
    )
    peak = [0.0]
    stop = threading.Event()

    port = 50600 + os.getpid() % 300
    settings = {"cache_mb": "0", "quality_guards": "true" if guards else "false"}
    with (
        served(catalog, port, **settings) as (address, process),
        Client(address, timeout=600) as client,
    ):

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], process.memory_info().rss / 2**20)
                time.sleep(0.05)

        try:
            client.wait_until_serving(600)
            idle = process.memory_info().rss / 2**20
            threading.Thread(target=sample, daemon=True).start()
            client.translate("Warm up the service once.", to="fr", source="en")
            results = []
            for level in levels:
                texts = sentences(max(16, 4 * level))  # several waves per client
                latencies: list[float] = []
                flagged: list[bool] = []

                def call(
                    text: str, latencies: list[float] = latencies, flagged: list[bool] = flagged
                ) -> None:
                    started = time.perf_counter()
                    [item] = client.translate(text, to="fr", source="en")
                    if item.error is not None or item.route.steps[0].segments != 1:
                        raise RuntimeError(f"unexpected result: {item}")
                    latencies.append(time.perf_counter() - started)
                    # a segment warning: the guard re-decoded it and it still failed
                    flagged.append(any(w.segment >= 0 for w in item.warnings))

                with ThreadPoolExecutor(level) as pool:
                    started = time.perf_counter()
                    list(pool.map(call, texts))
                    elapsed = time.perf_counter() - started
                results.append(
                    {
                        "concurrency": level,
                        "tps": len(texts) * OUT_TOKENS / elapsed,
                        "p50": percentile(latencies, 0.5),
                        "p99": percentile(latencies, 0.99),
                        "flagged": sum(flagged) / len(flagged),
                    }
                )
                print(
                    f"  service c={level}: {results[-1]['tps']:.0f} tok/s, p50 {results[-1]['p50'] * 1000:.0f} ms"
                )
        finally:
            stop.set()
    return results, idle, peak[0]


def machine() -> str:
    import ctranslate2
    import transformers

    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{cpu}, {THREADS} cores, {memory:.0f} GiB RAM; Python {platform.python_version()}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}, ctranslate2 {ctranslate2.__version__}"
    )


def plot(rows: list[dict[str, float]], engine: float, naive: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(
        [r["concurrency"] for r in rows],
        [r["tps"] for r in rows],
        marker="o",
        label="polybrief service (gRPC)",
    )
    axis.axhline(
        engine, color="green", linestyle="--", label="CTranslate2 int8 batch (engine ceiling)"
    )
    axis.axhline(naive, color="red", linestyle=":", label="transformers one at a time")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("concurrent clients")
    axis.set_ylabel("output tokens / s")
    axis.set_title("opus-mt-en-fr-sized Marian, 48 output tokens")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer sentences and levels (smoke test)"
    )
    parser.add_argument("--name", default=f"cpu-{THREADS}core", help="results file name")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "polybrief-bench"
    )
    args = parser.parse_args()
    os.environ.setdefault("POLYBRIEF_CT2_CACHE", str(args.work / "ct2"))
    count = 4 if args.quick else 16
    levels = [1, 4] if args.quick else [1, 4, 16, 64]
    texts = sentences(count)

    print("building random-weight models at real sizes ...")
    marian = models.marian_base(args.work / "opus-mt-en-fr-shape")
    # The service runs first, in its own process, while this one is idle: torch's OpenMP
    # threads keep spinning for a while after in-process runs and would steal its cores.
    rows, idle_rss, peak_rss = service_runs(marian, levels, args.work, guards=False)
    guarded, _, _ = service_runs(marian, [levels[-2]], args.work, guards=True)
    print("briefs of the seed article into en, fr, ru ...")
    brief_rows, brief_targets = briefs.table(briefs.brief_runs(args.work, 1 if args.quick else 5))
    hf = hf_runs(marian, texts)
    print(
        f"(a) transformers one at a time: {hf['one_tps']:.0f} tok/s; (b) batch: {hf['batch_tps']:.0f} tok/s"
    )
    ct2 = ct2_runs(marian, texts)
    print(
        f"(c) CTranslate2 int8 batch: {ct2['batch_tps']:.0f} tok/s; one at a time {ct2['one_tps']:.0f} tok/s"
    )
    gflops = gemm_gflops()
    print(f"(e) fp32 GEMM: {gflops:.0f} GFLOP/s")
    input_tokens = 40  # typical news sentence
    flops = 2 * (hf["decoder_params"] + hf["encoder_params"] * input_tokens / OUT_TOKENS)
    ceiling = gflops * 1e9 / flops

    bart_rows = ""
    if not args.quick:
        bart = models.distilbart(args.work / "distilbart-cnn-12-6-shape")
        bart_hf = hf_runs(bart, texts[:4])
        bart_ct2 = ct2_runs(bart, texts[:4], family="bart")
        bart_rows = (
            f"| distilbart-cnn-12-6 shape: (a) transformers one at a time (4 inputs) | {bart_hf['one_tps']:.0f} | | | |\n"
            f"| distilbart-cnn-12-6 shape: (b) transformers batch of 4 | {bart_hf['batch_tps']:.0f} | | | |\n"
            f"| distilbart-cnn-12-6 shape: (c) CTranslate2 int8 one at a time | {bart_ct2['one_tps']:.0f} | {bart_ct2['one_latency'] * 1000:.0f} | | |\n"
            f"| distilbart-cnn-12-6 shape: (c) CTranslate2 int8 batch of 4 | {bart_ct2['batch_tps']:.0f} | | | |\n"
        )

    by_level = {int(r["concurrency"]): r for r in rows}
    c16 = by_level.get(16, rows[-1])
    c1 = by_level[1]
    table = [
        f"# polybrief benchmark ({args.name})\n",
        f"Machine: {machine()}\n",
        f"Model: random weights at opus-mt-en-fr's shape (Marian 6+6, d=512, vocab 59,514); greedy; "
        f"{OUT_TOKENS} output tokens forced; {count} sentences. Command: `make bench`.\n",
        "| way of running it | output tokens/s | p50 latency ms | p99 latency ms | peak RSS MB |",
        "|---|---|---|---|---|",
        f"| (a) transformers, one request at a time | {hf['one_tps']:.0f} | | | |",
        f"| (b) transformers, one batch of {count} | {hf['batch_tps']:.0f} | | | |",
        f"| (c) CTranslate2 int8, one at a time | {ct2['one_tps']:.0f} | {ct2['one_latency'] * 1000:.0f} | | |",
        f"| (c) CTranslate2 int8, one batch of {count} (engine ceiling) | {ct2['batch_tps']:.0f} | | | |",
    ]
    for r in rows:
        table.append(
            f"| (d) polybrief over gRPC, concurrency {int(r['concurrency'])} | {r['tps']:.0f} | "
            f"{r['p50'] * 1000:.0f} | {r['p99'] * 1000:.0f} | {peak_rss:.0f} |"
        )
    for r in guarded:
        table.append(
            f"| (d) the same with the quality guards on, concurrency {int(r['concurrency'])} "
            f"({r['flagged']:.0%} of outputs still flagged after re-decoding) | "
            f"{r['tps']:.0f} | {r['p50'] * 1000:.0f} | {r['p99'] * 1000:.0f} | |"
        )
    table.append(
        f"| (e) fp32 GEMM ceiling ({gflops:.0f} GFLOP/s) for this model | ≈{ceiling:.0f} | | | |"
    )
    if bart_rows:
        table.append(bart_rows.rstrip("\n"))
    targets = (
        f"targets: c16_vs_engine={c16['tps'] / ct2['batch_tps']:.2f} c16_vs_naive={c16['tps'] / hf['one_tps']:.1f} "
        f"c1_latency_vs_engine={c1['p50'] / ct2['one_latency']:.2f} rss_mb={peak_rss:.0f} "
        f"guards_on_vs_off={guarded[0]['tps'] / by_level[int(guarded[0]['concurrency'])]['tps']:.2f}"
    )
    table += [
        "",
        "Briefs (`bench/briefs.py`): the seed article summarised at distilbart-cnn-12-6's shape "
        f"({briefs.SUMMARY_TOKENS} tokens forced), then translated at opus-mt's shape into fr "
        f"and ru ({briefs.TRANSLATION_TOKENS} tokens per segment forced); CTranslate2 int8, "
        "guards off, cache off; medians of 5 calls.",
        "",
        *brief_rows,
        "",
        "`" + brief_targets + "`",
        "",
        "Formatted input (`bench/markup.py`): the real HTML page and Markdown file of "
        "tests/data through the markup handling with an identity translator (the cost of "
        "masking, verifying and rebuilding, without a model).",
        "",
        *markup.table(markup.overhead()),
        "",
        f"Service RSS with the model loaded, idle: {idle_rss:.0f} MB; peak during the run: {peak_rss:.0f} MB.",
        f"c1 latency: service p50 {c1['p50'] * 1000:.0f} ms vs engine {ct2['one_latency'] * 1000:.0f} ms "
        f"(target: within 10% + 5 ms = {ct2['one_latency'] * 1100 + 5:.0f} ms).",
        "",
        "`" + targets + "`",
        "",
    ]
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{args.name}.md").write_text("\n".join(table), encoding="utf-8")
    plot(rows, ct2["batch_tps"], hf["one_tps"], results / f"{args.name}.png")
    print("\n".join(table))
    print(targets)
    print(brief_targets)


if __name__ == "__main__":
    main()
