"""Per-family language logic on tiny real models: what reaches ``generate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from polybrief.service.errors import UnsupportedRoute
from polybrief.service.models.catalog import ModelSpec, load_catalog
from polybrief.service.models.families import adapter_for

TEXT = "President Putin ordered the navy to work with the French as allies."


@pytest.fixture(scope="module")
def load(tiny_dir: Path) -> Any:
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


@pytest.mark.parametrize(
    ("model_id", "source", "target", "source_token", "target_token"),
    [
        ("tiny-nllb", "en", "fr", "eng_Latn", "fra_Latn"),
        ("tiny-nllb", "ru", "uk", "rus_Cyrl", "ukr_Cyrl"),
        ("tiny-m2m100", "ru", "fr", "__ru__", "__fr__"),
        ("tiny-mbart50", "en", "ja", "en_XX", "ja_XX"),
    ],
)
def test_language_tokens_and_forced_bos(
    load: Any, model_id: str, source: str, target: str, source_token: str, target_token: str
) -> None:
    spec, tokenizer, model = load(model_id)
    adapter = adapter_for(spec.family)
    prepared = adapter.prepare_translation(tokenizer, spec, [TEXT, "Short."], source, target)
    ids = prepared.inputs["input_ids"]
    assert tokenizer.convert_ids_to_tokens(int(ids[0, 0])) == source_token
    assert int(ids[0, -1]) == tokenizer.eos_token_id
    forced = tokenizer.convert_tokens_to_ids(target_token)
    assert prepared.generate_kwargs == {"forced_bos_token_id": forced}
    assert adapter.count_tokens(
        tokenizer, spec, TEXT, task="translate", source=source, target=target
    ) == int(prepared.inputs["attention_mask"][0].sum())
    with torch.inference_mode():
        out = model.generate(**prepared.inputs, **spec.generation, **prepared.generate_kwargs)
    assert int(out[0, 1]) == forced  # first token after decoder start
    assert out.shape[1] - 1 >= spec.generation["min_new_tokens"]
    assert all(text.strip() for text in tokenizer.batch_decode(out, skip_special_tokens=True))


def test_marian_multi_target_token_comes_first(load: Any) -> None:
    spec, tokenizer, _ = load("tiny-marian-en-mul")
    prepared = adapter_for("marian").prepare_translation(tokenizer, spec, [TEXT], "en", "it")
    assert tokenizer.convert_ids_to_tokens(int(prepared.inputs["input_ids"][0, 0])) == ">>ita<<"
    with pytest.raises(UnsupportedRoute):
        adapter_for("marian").prepare_translation(tokenizer, spec, [TEXT], "en", "de")


def test_single_pair_marian_adds_nothing(load: Any) -> None:
    spec, tokenizer, _ = load("tiny-marian-en-fr")
    prepared = adapter_for("marian").prepare_translation(tokenizer, spec, [TEXT], "en", "fr")
    assert prepared.inputs["input_ids"][0].tolist() == tokenizer(TEXT)["input_ids"]
    assert prepared.generate_kwargs == {}


@pytest.mark.parametrize(
    ("model_id", "task", "prefix"),
    [
        ("tiny-t5", "summarize", "summarize:"),
        ("tiny-t5", "translate", "translate English to German:"),
    ],
)
def test_t5_prompts(load: Any, model_id: str, task: str, prefix: str) -> None:
    spec, tokenizer, _ = load(model_id)
    adapter = adapter_for(spec.family)
    if task == "summarize":
        prepared = adapter.prepare_summary(tokenizer, spec, [TEXT], "en")
    else:
        prepared = adapter.prepare_translation(tokenizer, spec, [TEXT], "en", "de")
    decoded = tokenizer.decode(prepared.inputs["input_ids"][0], skip_special_tokens=True)
    assert decoded.startswith(prefix)


def test_unknown_language_and_family() -> None:
    with pytest.raises(ValueError, match="supported"):
        adapter_for("gpt")


def test_nllb_unknown_language_is_unsupported(load: Any) -> None:
    spec, tokenizer, _ = load("tiny-nllb")
    with pytest.raises(UnsupportedRoute):
        adapter_for("nllb").prepare_translation(tokenizer, spec, [TEXT], "en", "tlh")
