"""CTranslate2 models served without torch or transformers (models/lean.py).

The lean tokenizer written at conversion must give exactly the ids and texts of the
transformers tokenizer it replaces, on every family that has one and on a real OPUS-MT
vocabulary; a server whose models all run on CTranslate2 never imports torch, one with a
transformers model imports it at that model's first call, and the outputs are those of
the same CTranslate2 model driven through transformers' tokenizer.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real-layouts" / "opus-mt-tc-big-en-pt"
SEED = ROOT / "examples" / "afp-putin-hollande.txt"
FAMILIES = ["bart", "marian-en-fr", "marian-en-mul", "mbart50", "mt5", "nllb", "pegasus", "t5"]
TRICKY = [
    "",
    " ",
    "Hello </s> world",
    "<unk> odd <pad> tokens",
    "a</s>b",
    ">>fra<< Bonjour tout le monde",
    "  spaced   out  ",
    "émigré naïve café 日本語 Привет مرحبا",
    "1,000.5 $ % @# 'quotes' «guillemets»",
]


def _lean_pair(directory: Path, tmp_path: Path) -> tuple[Any, Any]:
    from polybrief.service.models.lean import LEAN_DIR, _write_tokenizer, load_tokenizer
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(directory)
    (tmp_path / LEAN_DIR).mkdir()
    _write_tokenizer(tmp_path / LEAN_DIR, reference)
    lean = load_tokenizer(tmp_path, str(directory))
    assert lean is not None, f"{type(reference).__name__} got no lean tokenizer"
    return reference, lean


def _texts() -> list[str]:
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line][:25] + TRICKY


def _assert_same(reference: Any, lean: Any, texts: list[str]) -> None:
    for special in (True, False):
        expected = reference(texts, add_special_tokens=special)["input_ids"]
        assert lean(texts, add_special_tokens=special)["input_ids"] == [list(r) for r in expected]
    rng = random.Random(0)
    size = len(reference.get_vocab())
    for _ in range(200):
        ids = [rng.randrange(size) for _ in range(rng.randrange(1, 24))]
        for skip in (True, False):
            assert lean.decode(ids, skip_special_tokens=skip) == reference.decode(
                ids, skip_special_tokens=skip
            ), ids
    some = list(range(min(size, 800)))
    assert lean.convert_ids_to_tokens(some) == reference.convert_ids_to_tokens(some)
    for token in ("</s>", ">>fra<<", "fr_XX", "fra_Latn", "▁the", "no-such-token"):
        assert lean.convert_tokens_to_ids(token) == reference.convert_tokens_to_ids(token)
    assert lean.get_vocab() == reference.get_vocab()
    for name in ("unk_token_id", "eos_token_id", "pad_token_id"):
        assert getattr(lean, name) == getattr(reference, name)


@pytest.mark.parametrize("family", FAMILIES)
def test_lean_tokenizer_equals_transformers(tiny_dir: Path, tmp_path: Path, family: str) -> None:
    reference, lean = _lean_pair(tiny_dir / f"tiny-{family}", tmp_path)
    _assert_same(reference, lean, _texts())


def test_lean_tokenizer_equals_transformers_on_a_real_opus_mt_vocabulary(tmp_path: Path) -> None:
    if not REAL.is_dir():
        pytest.skip(f"{REAL} is absent (../shared/real-layouts ships the real vocabulary)")
    reference, lean = _lean_pair(REAL, tmp_path)
    _assert_same(reference, lean, [f">>por<< {t}" for t in _texts()] + _texts())


@pytest.mark.parametrize("family", ["marian-en-fr", "nllb"])
def test_lean_tokenizer_equals_transformers_on_any_text(
    tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory, family: str
) -> None:
    reference, lean = _lean_pair(tiny_dir / f"tiny-{family}", tmp_path_factory.mktemp("lean"))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from(TRICKY))
    def check(text: str) -> None:
        ids = reference(text)["input_ids"]
        assert lean(text)["input_ids"] == list(ids)
        assert lean.decode(ids, skip_special_tokens=True) == reference.decode(
            ids, skip_special_tokens=True
        )

    check()


def test_m2m100_has_no_lean_tokenizer_and_says_so(tiny_dir: Path, tmp_path: Path) -> None:
    from polybrief.service.models.lean import _write_tokenizer
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(tiny_dir / "tiny-m2m100")
    assert _write_tokenizer(tmp_path, reference) is None  # served with transformers


PROBE = r"""
import asyncio, json, sys
from polybrief.service.settings import Settings
from polybrief.service.server import process
from polybrief.service.models.backends import Task

async def main():
    settings = Settings(catalog=sys.argv[1], ct2_cache=sys.argv[2], port=0, cache_mb=0,
                        quality_guards=False)
    running = await process.start(settings)
    report = {"at_serving": sorted(m for m in ("torch", "transformers") if m in sys.modules)}
    from polybrief.client import AsyncClient
    async with AsyncClient(f"127.0.0.1:{running.port}") as client:
        [item] = await client.translate(sys.argv[3], to="fr", source="en", model="lean-marian")
        report["served"] = item.text
        report["after_ct2_call"] = sorted(m for m in ("torch", "transformers") if m in sys.modules)
        if len(sys.argv) > 4:
            await client.translate(sys.argv[3], to="ru", source="en", model="torch-marian")
            report["after_torch_call"] = sorted(m for m in ("torch",) if m in sys.modules)
    backend = running.servicer.engine.registry.get("lean-marian").backend
    out = backend.generate([sys.argv[3]], Task("translate", "en", "fr"))
    report["backend"] = [out.outputs, out.tokens_in, out.tokens_out, out.scores]
    await running.stop(0)
    print(json.dumps(report))

asyncio.run(main())
"""


def _entry(model_id: str, directory: Path, target: str, backend: str, preload: bool) -> str:
    return (
        f'[[models]]\nid = "{model_id}"\nfamily = "marian"\nsource = "{directory}"\n'
        f'tasks = ["translate"]\npairs = [["en", "{target}"]]\npreload = {str(preload).lower()}\n'
        f'backend = "{backend}"\ncompute_type = "float32"\nlicense = "random weights"\n'
    )


def _probe(catalog: Path, cache: Path, text: str, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(catalog), str(cache), text, *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_ctranslate2_server_never_imports_torch_and_answers_as_transformers_would(
    tiny_dir: Path, tmp_path: Path
) -> None:
    from polybrief.service.models.backends import CTranslate2Backend, Task, convert_to_ct2
    from polybrief.service.models.catalog import ModelSpec
    from polybrief.service.models.families import adapter_for
    from polybrief.service.models.lean import read_facts
    from transformers import AutoTokenizer

    source = tiny_dir / "tiny-marian-en-fr"
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(_entry("lean-marian", source, "fr", "ctranslate2", True), encoding="utf-8")
    cache = tmp_path / "ct2"
    text = "President Vladimir Putin ordered the navy to work with the French as allies."
    # converted beforehand (here, where torch is loaded): the server starts from the cache
    spec = ModelSpec(
        id="lean-marian", family="marian", source=str(source), tasks=("translate",),
        pairs=(("en", "fr"),), backend="ctranslate2", compute_type="float32",
    )  # fmt: skip
    converted = convert_to_ct2(spec, str(source), "float32", cache)

    report = _probe(catalog, cache, text)
    facts = read_facts(converted)
    assert facts is not None

    assert report["at_serving"] == []
    assert report["after_ct2_call"] == []
    reference = CTranslate2Backend(
        spec,
        AutoTokenizer.from_pretrained(source),
        adapter_for("marian"),
        converted,
        compute_type="float32",
        threads=1,
        forced_eos=facts.forced_eos,
        default_beams=facts.default_beams,
        max_positions=facts.decoder_positions,
    )
    out = reference.generate([text], Task("translate", "en", "fr"))
    assert report["backend"][:3] == [out.outputs, out.tokens_in, out.tokens_out]
    assert report["backend"][3] == pytest.approx(out.scores, abs=1e-5)
    assert report["served"]
    assert report["served"] == out.outputs[0]


def test_torch_is_imported_at_the_first_call_that_needs_it(tiny_dir: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        _entry("lean-marian", tiny_dir / "tiny-marian-en-fr", "fr", "ctranslate2", True)
        + _entry("torch-marian", tiny_dir / "tiny-marian-en-ru", "ru", "transformers", False),
        encoding="utf-8",
    )
    # not converted beforehand: the server converts in a child process and stays lean
    report = _probe(catalog, tmp_path / "ct2", "The navy will work with the French.", "torch")

    assert report["at_serving"] == []
    assert report["after_ct2_call"] == []
    assert report["after_torch_call"] == ["torch"]
