"""Per-family language logic on the tiny real models: exactly what reaches ``generate``."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from polybrief.service.errors import UnsupportedRoute
from polybrief.service.models.catalog import ModelSpec, load_catalog
from polybrief.service.models.families import (
    MBART50_CODES,
    NLLB_CODES,
    adapter_for,
    marian_target_token,
)

TEXT = "President Putin ordered the navy to work with the French as allies."
TEXTS = [TEXT, "Short.", "Путин поручил военным разработать совместный план."]
ARTICLE = Path(__file__).parents[1] / "examples" / "afp-putin-hollande.txt"


@pytest.fixture(scope="module")
def load(tiny_dir: Path) -> Any:
    """``load(model_id)`` → (spec, tokenizer, model), loaded once per module."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    catalog = load_catalog(tiny_dir / "catalog.toml")
    cache: dict[str, tuple[ModelSpec, Any, Any]] = {}

    def get(model_id: str) -> tuple[ModelSpec, Any, Any]:
        if model_id not in cache:
            spec = catalog.get(model_id)
            assert spec is not None
            assert spec.local_path is not None
            cache[model_id] = (
                spec,
                AutoTokenizer.from_pretrained(spec.local_path),
                AutoModelForSeq2SeqLM.from_pretrained(spec.local_path),
            )
        return cache[model_id]

    return get


def _generate(model: Any, spec: ModelSpec, prepared: Any) -> Any:
    with torch.inference_mode():
        return model.generate(**prepared.tensors(), **spec.generation, **prepared.generate_kwargs)


def _rows(prepared: Any) -> list[list[int]]:
    """The unpadded input rows."""
    ids, mask = prepared.tensors()["input_ids"], prepared.tensors()["attention_mask"]
    return [row[m.bool()].tolist() for row, m in zip(ids, mask, strict=True)]


def test_code_tables_match_the_tokenizers() -> None:
    from transformers.models.mbart50.tokenization_mbart50 import FAIRSEQ_LANGUAGE_CODES as MBART
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES as NLLB

    assert sorted(MBART50_CODES.values()) == sorted(MBART)  # all 52
    assert set(NLLB_CODES.values()) <= set(NLLB)
    assert set(MBART50_CODES) <= set(NLLB_CODES)
    assert len(NLLB_CODES) >= 50
    assert (NLLB_CODES["fr"], NLLB_CODES["ru"], NLLB_CODES["zh"]) == (
        "fra_Latn",
        "rus_Cyrl",
        "zho_Hans",
    )


@pytest.mark.parametrize(
    ("model_id", "source", "target", "source_code", "target_token"),
    [
        ("tiny-nllb", "en", "fr", "eng_Latn", "fra_Latn"),
        ("tiny-nllb", "ru", "uk", "rus_Cyrl", "ukr_Cyrl"),
        ("tiny-m2m100", "en", "ru", "en", "__ru__"),
        ("tiny-m2m100", "ru", "fr", "ru", "__fr__"),
        ("tiny-mbart50", "en", "fr", "en_XX", "fr_XX"),
        ("tiny-mbart50", "ru", "ja", "ru_RU", "ja_XX"),
    ],
)
def test_language_tokens_and_forced_bos(
    load: Any, model_id: str, source: str, target: str, source_code: str, target_token: str
) -> None:
    spec, tokenizer, model = load(model_id)
    adapter = adapter_for(spec.family)
    before = tokenizer.src_lang
    prepared = adapter.prepare_translation(tokenizer, spec, TEXTS, source, target)
    assert tokenizer.src_lang == before  # the shared tokenizer was not touched

    # Same ids as the v5 tokenizer's own stateful way (src_lang on a copy), pads included.
    reference = copy.deepcopy(tokenizer)
    reference.src_lang = source_code
    expected = reference(TEXTS, padding=True, return_tensors="pt")
    assert torch.equal(prepared.tensors()["input_ids"], expected["input_ids"])
    assert torch.equal(prepared.tensors()["attention_mask"], expected["attention_mask"])

    source_token = source_code if spec.family != "m2m100" else f"__{source_code}__"
    forced = tokenizer.convert_tokens_to_ids(target_token)
    assert forced != tokenizer.unk_token_id
    assert prepared.generate_kwargs == {"forced_bos_token_id": forced}
    for text, row in zip(TEXTS, _rows(prepared), strict=True):
        assert tokenizer.convert_ids_to_tokens(row[0]) == source_token
        assert row[-1] == tokenizer.eos_token_id
        assert adapter.count_tokens(
            tokenizer, spec, text, task="translate", source=source, target=target
        ) == len(row)

    out = _generate(model, spec, prepared)
    start = model.generation_config.decoder_start_token_id
    assert out[:, 0].tolist() == [start] * len(TEXTS)
    assert out[:, 1].tolist() == [forced] * len(TEXTS)  # first token after decoder start
    assert out.shape[1] - 1 >= spec.generation["min_new_tokens"]
    assert all(text.strip() for text in tokenizer.batch_decode(out, skip_special_tokens=True))


def test_nllb_legacy_layout_puts_the_language_last(load: Any) -> None:
    from transformers import AutoTokenizer

    spec, _, _ = load("tiny-nllb")
    legacy = AutoTokenizer.from_pretrained(spec.local_path, legacy_behaviour=True)
    prepared = adapter_for("nllb").prepare_translation(legacy, spec, [TEXT], "fr", "en")
    legacy.src_lang = "fra_Latn"
    expected = legacy(TEXT)["input_ids"]
    assert _rows(prepared)[0] == expected
    assert legacy.convert_ids_to_tokens(expected[-2:]) == ["</s>", "fra_Latn"]


def test_language_token_families_reject_unknown_languages(load: Any) -> None:
    spec, tokenizer, _ = load("tiny-nllb")
    with pytest.raises(UnsupportedRoute, match="tiny-nllb"):  # not in the catalogue entry
        adapter_for("nllb").prepare_translation(tokenizer, spec, [TEXT], "en", "de")
    wider = dataclasses.replace(spec, languages=(*spec.languages, "tlh"))
    with pytest.raises(UnsupportedRoute, match="no language code for 'tlh'"):
        adapter_for("nllb").prepare_translation(tokenizer, wider, [TEXT], "en", "tlh")
    # M2M100 knows no Telugu: the mapping is direct, the token is missing from the vocab.
    spec, tokenizer, _ = load("tiny-m2m100")
    wider = dataclasses.replace(spec, languages=(*spec.languages, "te"))
    with pytest.raises(UnsupportedRoute, match="__te__"):
        adapter_for("m2m100").prepare_translation(tokenizer, wider, [TEXT], "en", "te")
    with pytest.raises(UnsupportedRoute, match="__te__"):
        adapter_for("m2m100").prepare_translation(tokenizer, wider, [TEXT], "te", "en")


@pytest.mark.parametrize(
    ("target", "token"), [("it", ">>ita<<"), ("pt", ">>por<<"), ("fr", ">>fra<<")]
)
def test_marian_multi_target_token_comes_first(load: Any, target: str, token: str) -> None:
    spec, tokenizer, model = load("tiny-marian-en-mul")
    adapter = adapter_for("marian")
    prepared = adapter.prepare_translation(tokenizer, spec, TEXTS, "en", target)
    assert prepared.generate_kwargs == {}
    for text, row in zip(TEXTS, _rows(prepared), strict=True):
        assert tokenizer.convert_ids_to_tokens(row[0]) == token
        assert row[1:] == tokenizer(text)["input_ids"]  # the token is whole, the text intact
        count = adapter.count_tokens(
            tokenizer, spec, text, task="translate", source="en", target=target
        )
        assert count == len(row)
    out = _generate(model, spec, prepared)
    assert out.shape[1] - 1 >= spec.generation["min_new_tokens"]


def test_marian_multi_target_rejects_a_missing_target(load: Any) -> None:
    spec, tokenizer, _ = load("tiny-marian-en-mul")
    with pytest.raises(UnsupportedRoute):  # not in the catalogue entry
        adapter_for("marian").prepare_translation(tokenizer, spec, [TEXT], "en", "de")
    wider = dataclasses.replace(spec, pairs=(*spec.pairs, ("en", "de")))
    with pytest.raises(UnsupportedRoute, match=r"no target-language token for 'de'.*>>fra<<"):
        adapter_for("marian").prepare_translation(tokenizer, wider, [TEXT], "en", "de")


def test_single_pair_marian_adds_nothing(load: Any) -> None:
    spec, tokenizer, model = load("tiny-marian-en-fr")
    adapter = adapter_for("marian")
    prepared = adapter.prepare_translation(tokenizer, spec, [TEXT], "en", "fr")
    assert prepared.inputs["input_ids"][0].tolist() == tokenizer(TEXT)["input_ids"]
    assert prepared.generate_kwargs == {}
    with pytest.raises(UnsupportedRoute):
        adapter.prepare_translation(tokenizer, spec, [TEXT], "fr", "en")
    # A many-to-one model (several sources, one target) needs no target token either.
    many_to_one = dataclasses.replace(spec, pairs=(("fr", "en"), ("de", "en")))
    prepared = adapter.prepare_translation(tokenizer, many_to_one, [TEXT], "de", "en")
    assert prepared.inputs["input_ids"][0].tolist() == tokenizer(TEXT)["input_ids"]
    assert _generate(model, spec, prepared).shape[1] - 1 >= spec.generation["min_new_tokens"]


def test_marian_token_forms() -> None:
    def vocab(*codes: str) -> Any:
        return SimpleNamespace(supported_language_codes=list(codes))

    assert marian_target_token(vocab(">>fra<<", ">>fr<<"), "fr") == ">>fra<<"  # ISO 639-3 first
    assert marian_target_token(vocab(">>fr<<", ">>es<<"), "fr") == ">>fr<<"  # OPUS-MT ROMANCE
    assert marian_target_token(vocab(">>cmn_Hans<<", ">>yue<<"), "zh") == ">>cmn_Hans<<"
    assert marian_target_token(vocab(">>deu<<"), "fr") is None
    assert marian_target_token(vocab(), "fr") is None


@pytest.mark.parametrize(
    ("model_id", "task", "prefix"),
    [
        ("tiny-t5", "summarize", "summarize: "),
        ("tiny-t5", "translate", "translate English to German: "),
        ("tiny-mt5", "summarize", ""),
        ("tiny-bart", "summarize", ""),
        ("tiny-pegasus", "summarize", ""),
    ],
)
def test_prompts_and_plain_inputs(load: Any, model_id: str, task: str, prefix: str) -> None:
    spec, tokenizer, model = load(model_id)
    adapter = adapter_for(spec.family)
    if task == "summarize":
        prepared = adapter.prepare_summary(tokenizer, spec, TEXTS[:2], "en")
        counts = [
            adapter.count_tokens(tokenizer, spec, t, task=task, source="en", target=None)
            for t in TEXTS[:2]
        ]
    else:
        prepared = adapter.prepare_translation(tokenizer, spec, TEXTS[:2], "en", "de")
        counts = [
            adapter.count_tokens(tokenizer, spec, t, task=task, source="en", target="de")
            for t in TEXTS[:2]
        ]
    assert prepared.generate_kwargs == {}
    rows = _rows(prepared)
    assert [len(row) for row in rows] == counts
    for text, row in zip(TEXTS[:2], rows, strict=True):
        assert row == tokenizer(prefix + text)["input_ids"]
        assert tokenizer.decode(row, skip_special_tokens=True).startswith(prefix + text[:5])
    out = _generate(model, spec, prepared)
    assert out.shape[1] - 1 >= spec.generation["min_new_tokens"]


def test_unknown_family() -> None:
    with pytest.raises(ValueError, match="supported: marian"):
        adapter_for("gpt")


def test_tiny_models_have_a_128_token_window(load: Any, tiny_dir: Path) -> None:
    catalog = load_catalog(tiny_dir / "catalog.toml")
    article = ARTICLE.read_text(encoding="utf-8")
    assert catalog.ids == (
        "tiny-bart",
        "tiny-pegasus",
        "tiny-t5",
        "tiny-mt5",
        *(f"tiny-marian-{p}" for p in ("en-fr", "fr-en", "en-ru", "ru-en", "de-en", "en-es")),
        "tiny-marian-en-mul",
        "tiny-m2m100",
        "tiny-nllb",
        "tiny-mbart50",
        "tiny-crosssum",
    )
    for spec in catalog.models:
        _, tokenizer, model = load(spec.id)
        if spec.family in ("t5", "mt5", "crosssum"):  # relative positions: the catalogue says
            assert spec.max_input_tokens == 128
        else:
            assert spec.max_input_tokens is None
            assert model.config.max_position_embeddings == 128
        assert len(tokenizer(article)["input_ids"]) > 4 * 128  # the article must be chunked
        assert model.config.vocab_size >= len(tokenizer)  # every token id is embeddable
        assert spec.preload
        assert spec.generation["min_new_tokens"] == 4


def test_marian_pad_is_the_last_vocabulary_id(load: Any) -> None:
    _, tokenizer, model = load("tiny-marian-en-mul")
    assert tokenizer.pad_token_id == len(tokenizer.get_vocab()) - 1
    assert model.config.vocab_size == len(tokenizer.get_vocab())


def test_make_tiny_is_deterministic(tiny_dir: Path, tmp_path: Path) -> None:
    from polybrief.service.models.tiny import make_tiny

    make_tiny(tmp_path)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert built == sorted(p.relative_to(tiny_dir) for p in tiny_dir.rglob("*") if p.is_file())
    for path in built:
        assert (tmp_path / path).read_bytes() == (tiny_dir / path).read_bytes(), path


def test_every_tiny_model_writes_readable_text(load: Any, tiny_dir: Path) -> None:
    """Random weights never surface special tokens, literal byte pieces or U+FFFD."""
    for spec in load_catalog(tiny_dir / "catalog.toml").models:
        _, tokenizer, model = load(spec.id)
        adapter = adapter_for(spec.family)
        if "translate" in spec.tasks:
            source, target = spec.translation_pairs()[-1]
            prepared = adapter.prepare_translation(tokenizer, spec, TEXTS[:2], source, target)
        else:
            prepared = adapter.prepare_summary(tokenizer, spec, TEXTS[:2], "en")
        out = _generate(model, spec, prepared)
        free = 2 if "forced_bos_token_id" in prepared.generate_kwargs else 1  # after any BOS
        special = set(tokenizer.all_special_ids) - {tokenizer.eos_token_id}
        assert not special & set(out[:, free:].flatten().tolist()), spec.id
        for text in tokenizer.batch_decode(out, skip_special_tokens=True):
            assert text.strip(), spec.id
            assert "<0x" not in text, (spec.id, text)
            assert "\ufffd" not in text, (spec.id, text)
