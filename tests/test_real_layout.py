"""The service on a real OPUS-MT checkpoint layout: opus-mt-tc-big-en-pt's own tokenizer
(54,776 tokens, target tokens ``>>por<<`` and ``>>pob<<``) and config, with seeded random
weights in smaller layers (see real_layout.py). Served by a real server, called with the
real client, on both backends."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from real_layout import (
    EOS_ID,
    PAD_ID,
    UNK_ID,
    VOCAB_SIZE,
    build_checkpoint,
    catalog_entry,
    missing_reason,
)
from server_harness import ServerThread, running

_MISSING = missing_reason()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))

TORCH_ID = "opus-mt-tc-big-en-pt"
CT2_ID = "opus-mt-tc-big-en-pt-ct2"
CT2_COMPUTE_TYPE = "float32"  # exact agreement with torch needs unquantised weights
# Random weights stop at once or ramble: every output is FORCED generated tokens.
FORCED = 10
GENERATION: dict[str, Any] = {
    "num_beams": 1,
    "do_sample": False,
    "max_new_tokens": FORCED,
    "min_new_tokens": FORCED,
}
# The same output through CTranslate2: transformers spends step FORCED on the forced
# end-of-sequence, so FORCED - 1 tokens are written either way. (min == max, as above,
# makes the ctranslate2 backend ask for min_decoding_length > max_decoding_length: see
# test_ctranslate2_backend_takes_equal_min_and_max_new_tokens.)
CT2_GENERATION: dict[str, Any] = {**GENERATION, "min_new_tokens": FORCED - 1}
SENTENCES = [
    "The minister met the press in Lisbon on Tuesday.",
    "President Lula spoke about the new trade agreement.",
    "Heavy rain closed two schools near Porto.",
    "The central bank kept its interest rate unchanged.",
    "Fishermen in the Algarve protested against the new quotas.",
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_checkpoint(tmp_path_factory.mktemp("opus-mt-tc-big-en-pt") / "model").resolve()


@pytest.fixture(scope="module")
def tokenizer(checkpoint: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(checkpoint)


@pytest.fixture(scope="module")
def torch_model(checkpoint: Path) -> Any:
    """The checkpoint loaded independently of the server."""
    from transformers import MarianMTModel

    return MarianMTModel.from_pretrained(checkpoint).eval()


@pytest.fixture(scope="module")
def ct2_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder for this module's CTranslate2 conversions."""
    return tmp_path_factory.mktemp("ct2-cache")


@pytest.fixture(scope="module")
def catalog(checkpoint: Path) -> Path:
    path = checkpoint.parent / "catalog.toml"
    path.write_text(
        'pivot_language = "en"\n\n'
        + catalog_entry(TORCH_ID, checkpoint, GENERATION)
        + "\n"
        + catalog_entry(
            CT2_ID,
            checkpoint,
            CT2_GENERATION,
            backend="ctranslate2",
            compute_type=CT2_COMPUTE_TYPE,
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def server(catalog: Path, ct2_cache: Path) -> Iterator[ServerThread]:
    # cache off: every call reaches the model, so each observation sees its inputs
    with running(catalog, preload=True, cache_mb=0, ct2_cache=ct2_cache) as started:
        yield started


@pytest.fixture(scope="module")
def pt_client(server: ServerThread) -> Iterator[Any]:
    from polybrief.client import Client

    with Client(server.address, timeout=120) as c:
        yield c


@contextlib.contextmanager
def observe_generate(server: ServerThread) -> Iterator[list[dict[str, Any]]]:
    """Records every call of the served torch model's generate: its keyword arguments
    and the ids it returned. The model itself runs unchanged."""
    loaded = server.engine.registry.get(TORCH_ID)
    calls: list[dict[str, Any]] = []
    original = loaded.model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        output = original(*args, **kwargs)
        calls.append({**kwargs, "output": output})
        return output

    loaded.model.generate = generate
    try:
        yield calls
    finally:
        del loaded.model.generate


class _RecordingTranslator:
    """Stands in for a ``ctranslate2.Translator`` (whose attributes cannot be replaced),
    recording the source tokens of each batch."""

    def __init__(self, translator: Any) -> None:
        self.translator = translator
        self.batches: list[list[list[str]]] = []

    def translate_batch(self, tokens: list[list[str]], **options: Any) -> Any:
        self.batches.append(tokens)
        return self.translator.translate_batch(tokens, **options)


@contextlib.contextmanager
def observe_translator(server: ServerThread) -> Iterator[_RecordingTranslator]:
    backend: Any = server.engine.registry.get(CT2_ID).backend
    original = backend.translator
    recorder = _RecordingTranslator(original)
    backend.translator = recorder
    try:
        yield recorder
    finally:
        backend.translator = original


def translate(client: Any, text: str, model: str) -> str:
    [result] = client.translate(text, to="pt", source="en", model=model)
    assert result.error is None, result.error
    assert [
        (step.model, step.source_language, step.target_language) for step in result.route.steps
    ] == [(model, "en", "pt")]
    return str(result.text)


def test_checkpoint_keeps_the_real_vocabulary_and_special_ids(
    checkpoint: Path, tokenizer: Any, torch_model: Any
) -> None:
    from transformers import GenerationConfig

    assert type(tokenizer).__name__ == "MarianTokenizer"
    assert len(tokenizer) == VOCAB_SIZE
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (
        PAD_ID,
        EOS_ID,
        UNK_ID,
    )
    config = torch_model.config
    assert config.vocab_size == VOCAB_SIZE
    assert (config.pad_token_id, config.decoder_start_token_id, config.eos_token_id) == (
        PAD_ID,
        PAD_ID,
        EOS_ID,
    )
    assert config.d_model == 64
    generation = GenerationConfig.from_pretrained(checkpoint)
    assert generation.bad_words_ids == [[PAD_ID]]
    assert generation.forced_eos_token_id == EOS_ID
    # Hence the catalogue entries set num_beams: without it the torch backend would search
    # 4 beams (this file) and the ctranslate2 backend 1 (its default).
    assert generation.num_beams == 4
    assert sorted(tokenizer.supported_language_codes) == [">>pob<<", ">>por<<"]


def test_marian_family_picks_por_for_portuguese(tokenizer: Any) -> None:
    from polybrief.service.models.catalog import ModelSpec
    from polybrief.service.models.families import adapter_for, marian_target_token

    assert marian_target_token(tokenizer, "pt") == ">>por<<"
    assert marian_target_token(tokenizer, "es") is None
    spec = ModelSpec(
        id=TORCH_ID, family="marian", source="x", tasks=("translate",), pairs=(("en", "pt"),)
    )
    adapter = adapter_for("marian")
    prepared = adapter.prepare_translation(tokenizer, spec, [SENTENCES[0]], "en", "pt")
    por = tokenizer.convert_tokens_to_ids(">>por<<")
    assert prepared.inputs["input_ids"][0, 0].item() == por
    text_tokens = len(tokenizer(SENTENCES[0])["input_ids"])
    count = adapter.count_tokens(
        tokenizer, spec, SENTENCES[0], task="translate", source="en", target="pt"
    )
    assert count == text_tokens + 1 == prepared.inputs["input_ids"].shape[1]


def test_served_en_pt_starts_the_source_with_por(
    server: ServerThread, pt_client: Any, tokenizer: Any
) -> None:
    vocab = tokenizer.get_vocab()
    por, pob = vocab[">>por<<"], vocab[">>pob<<"]
    assert por != pob
    with observe_generate(server) as calls:
        text = translate(pt_client, SENTENCES[0], TORCH_ID)
    assert text
    [call] = calls
    row = call["input_ids"][0].tolist()
    assert row[0] == por
    assert pob not in row
    assert row == tokenizer(f">>por<< {SENTENCES[0]}")["input_ids"]
    assert row[-1] == EOS_ID


def test_served_output_equals_direct_generate(
    server: ServerThread, pt_client: Any, tokenizer: Any, torch_model: Any
) -> None:
    import torch

    sentence = SENTENCES[1]
    with observe_generate(server) as calls:
        served = translate(pt_client, sentence, TORCH_ID)
    [call] = calls
    # the service passes the catalogue's settings (with its budget applied) unchanged
    assert {key: call[key] for key in GENERATION} == GENERATION

    inputs = tokenizer([f">>por<< {sentence}"], return_tensors="pt")
    with torch.inference_mode():
        direct = torch_model.generate(**inputs, **GENERATION)
    # decoder start, then FORCED tokens, the last of them the forced end-of-sequence
    assert direct.shape == (1, 1 + FORCED)
    assert direct[0, 0].item() == PAD_ID
    assert direct[0, -1].item() == EOS_ID
    assert PAD_ID not in direct[0, 1:].tolist()  # bad_words_ids from the real config
    assert call["output"].tolist() == direct.tolist()
    expected = tokenizer.decode(direct[0], skip_special_tokens=True).strip()
    assert expected
    assert served == expected


def test_ctranslate2_float32_conversion_matches_transformers_greedy(
    checkpoint: Path, catalog: Path, tokenizer: Any, torch_model: Any, ct2_cache: Path
) -> None:
    import ctranslate2
    import torch
    from polybrief.service.models.backends import convert_to_ct2
    from polybrief.service.models.catalog import load_catalog

    spec = load_catalog(catalog).get(CT2_ID)
    assert spec is not None
    converted = convert_to_ct2(spec, str(checkpoint), CT2_COMPUTE_TYPE, ct2_cache)
    assert converted.is_relative_to(ct2_cache)
    assert (converted / "model.bin").is_file()
    # the real vocabulary in its order, less the <pad> transformers appended last
    shared = json.loads((converted / "shared_vocabulary.json").read_text(encoding="utf-8"))
    assert shared == tokenizer.convert_ids_to_tokens(list(range(PAD_ID)))
    translator = ctranslate2.Translator(
        str(converted), device="cpu", compute_type=CT2_COMPUTE_TYPE, intra_threads=2
    )
    rows = [tokenizer(f">>por<< {s}")["input_ids"] for s in SENTENCES]
    results = translator.translate_batch(
        [tokenizer.convert_ids_to_tokens(row) for row in rows],
        beam_size=1,
        max_decoding_length=FORCED,
        min_decoding_length=FORCED,
    )
    for row, result in zip(rows, results, strict=True):
        ct2_ids = tokenizer.convert_tokens_to_ids(result.hypotheses[0])
        with torch.inference_mode():
            # one step more: transformers spends the last on the forced end-of-sequence
            output = torch_model.generate(
                torch.tensor([row]),
                num_beams=1,
                do_sample=False,
                max_new_tokens=FORCED + 1,
                min_new_tokens=FORCED + 1,
            )
        torch_ids = output[0, 1:-1].tolist()
        assert len(torch_ids) == FORCED
        assert ct2_ids == torch_ids


def test_served_ctranslate2_entry_agrees_with_the_torch_entry(
    server: ServerThread, pt_client: Any
) -> None:
    loaded = server.engine.registry.get(CT2_ID)
    # the registry falls back to torch when conversion fails; this entry must not have
    assert loaded.backend.name == "ctranslate2"
    assert loaded.model is None
    for sentence in SENTENCES[2:]:
        with observe_translator(server) as recorder:
            ct2_text = translate(pt_client, sentence, CT2_ID)
        [batch] = recorder.batches
        assert batch[0][0] == ">>por<<"
        assert ct2_text
        assert ct2_text == translate(pt_client, sentence, TORCH_ID)


def test_ctranslate2_backend_takes_equal_min_and_max_new_tokens(
    server: ServerThread, pt_client: Any
) -> None:
    sentence = SENTENCES[4]
    backend: Any = server.engine.registry.get(CT2_ID).backend
    served_spec = backend.spec
    backend.spec = dataclasses.replace(served_spec, generation=GENERATION)
    try:
        ct2_text = translate(pt_client, sentence, CT2_ID)
    finally:
        backend.spec = served_spec
    assert ct2_text == translate(pt_client, sentence, TORCH_ID)
