"""Cross-lingual summarisation (CrossSum, family "crosssum") on the tiny CrossSum-shaped
model: the decoder start token picks the summary's language, read from the model's
``task_specific_params["langid_map"]``; the catalogue's ``summary_targets``."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from polybrief.service.errors import UnsupportedRoute
from polybrief.service.languages import normalize_code
from polybrief.service.models.backends import Task, TransformersBackend
from polybrief.service.models.catalog import CatalogError, ModelSpec, load_catalog, parse_catalog
from polybrief.service.models.families import (
    CROSSSUM_NAMES,
    adapter_for,
    crosssum_langid_map,
)

TEXTS = ["President Putin ordered the navy to work with the French as allies.", "Short."]
# The 45 XL-Sum / CrossSum language names, spelled as the model card lists them.
XLSUM_NAMES = [
    "amharic", "arabic", "azerbaijani", "bengali", "burmese", "chinese_simplified",
    "chinese_traditional", "english", "french", "gujarati", "hausa", "hindi", "igbo",
    "indonesian", "japanese", "kirundi", "korean", "kyrgyz", "marathi", "nepali", "oromo",
    "pashto", "persian", "pidgin", "portuguese", "punjabi", "russian", "scottish_gaelic",
    "serbian_cyrillic", "serbian_latin", "sinhala", "somali", "spanish", "swahili", "tamil",
    "telugu", "thai", "tigrinya", "turkish", "ukrainian", "urdu", "uzbek", "vietnamese",
    "welsh", "yoruba",
]  # fmt: skip
TINY_TARGETS = {"en": "english", "fr": "french", "ru": "russian", "es": "spanish"}


@dataclasses.dataclass
class Loaded:
    spec: ModelSpec
    tokenizer: Any
    model: Any
    langid_map: dict[str, Any]  # as config.json on disk has it

    def backend(self, spec: ModelSpec | None = None) -> TransformersBackend:
        spec = spec or self.spec
        return TransformersBackend(spec, self.tokenizer, self.model, adapter_for(spec.family))

    def language_id(self, code: str) -> int:
        token = self.langid_map[TINY_TARGETS[code]][1]
        token_id = int(self.tokenizer.convert_tokens_to_ids(token))
        assert token_id != self.tokenizer.unk_token_id
        return token_id


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> Loaded:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    spec = load_catalog(tiny_dir / "catalog.toml").get("tiny-crosssum")
    assert spec is not None
    assert spec.local_path is not None
    config = json.loads((spec.local_path / "config.json").read_text(encoding="utf-8"))
    return Loaded(
        spec,
        AutoTokenizer.from_pretrained(spec.local_path),
        AutoModelForSeq2SeqLM.from_pretrained(spec.local_path).eval(),
        config["task_specific_params"]["langid_map"],
    )


@pytest.fixture
def generate_calls(tiny: Loaded) -> Iterator[list[tuple[dict[str, Any], Any]]]:
    """Every ``model.generate`` call's keyword arguments and its output sequences."""
    calls: list[tuple[dict[str, Any], Any]] = []
    original = tiny.model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        calls.append((kwargs, getattr(out, "sequences", out)))
        return out

    tiny.model.generate = generate
    try:
        yield calls
    finally:
        del tiny.model.generate


def test_tiny_crosssum_is_shaped_like_the_real_checkpoint(tiny: Loaded, tiny_dir: Path) -> None:
    assert type(tiny.tokenizer).__name__ == "T5Tokenizer"  # mT5's tokenizer class
    assert tiny.model.config.model_type == "mt5"
    assert set(tiny.langid_map) == set(TINY_TARGETS.values())
    for index, token in tiny.langid_map.values():
        assert isinstance(index, int)
        assert token.startswith("\u2581<extra_id_")
    # the catalogue entry comes last: same-language routes keep their models
    assert load_catalog(tiny_dir / "catalog.toml").ids[-1] == "tiny-crosssum"
    assert tiny.spec.family == "crosssum"
    assert tiny.spec.cross_lingual
    assert set(tiny.spec.summary_targets) == set(TINY_TARGETS)


@pytest.mark.parametrize("source", ["en", "fr"])
def test_the_decoder_start_token_picks_the_target(
    tiny: Loaded, generate_calls: list[tuple[dict[str, Any], Any]], source: str
) -> None:
    starts = {}
    for target in TINY_TARGETS:
        generated = tiny.backend().generate(TEXTS, Task("summarize", source, target))
        kwargs, sequences = generate_calls[-1]
        expected = tiny.language_id(target)
        assert kwargs["decoder_start_token_id"] == expected
        assert "forced_bos_token_id" not in kwargs
        assert sequences[:, 0].tolist() == [expected] * len(TEXTS)  # checked at generate
        starts[target] = expected
        # the language token is no part of the text, and no language token is anywhere
        language_ids = {tiny.language_id(code) for code in TINY_TARGETS}
        assert not language_ids & set(sequences[:, 1:].flatten().tolist())
        for text in generated.outputs:
            assert text.strip()
            assert "extra_id" not in text
        assert len(generated.scores) == len(TEXTS)
    assert len(set(starts.values())) == len(TINY_TARGETS)  # one start token per language


def test_different_targets_decode_differently(tiny: Loaded) -> None:
    outputs = {
        target: tuple(tiny.backend().generate(TEXTS, Task("summarize", "en", target)).outputs)
        for target in TINY_TARGETS
    }
    assert len(set(outputs.values())) > 1  # the start token reaches the decoder


def test_a_summary_in_the_source_language_uses_its_own_token(tiny: Loaded) -> None:
    adapter = adapter_for("crosssum")
    for language in TINY_TARGETS:
        own = adapter.prepare_summary(tiny.tokenizer, tiny.spec, TEXTS, language)
        same = adapter.prepare_summary(tiny.tokenizer, tiny.spec, TEXTS, language, language)
        with_config = adapter.prepare_summary(
            tiny.tokenizer, tiny.spec, TEXTS, language, config=tiny.model.config
        )
        expected = {"decoder_start_token_id": tiny.language_id(language)}
        assert own.generate_kwargs == same.generate_kwargs == with_config.generate_kwargs
        assert own.generate_kwargs == expected


def test_inputs_are_the_plain_text_and_counts_ignore_the_target(tiny: Loaded) -> None:
    adapter = adapter_for("crosssum")
    into_ru = adapter.prepare_summary(tiny.tokenizer, tiny.spec, TEXTS, "en", "ru")
    into_en = adapter.prepare_summary(tiny.tokenizer, tiny.spec, TEXTS, "en", "en")
    assert torch.equal(into_ru.tensors()["input_ids"], into_en.tensors()["input_ids"])
    ids, mask = into_ru.tensors()["input_ids"], into_ru.tensors()["attention_mask"]
    for text, row, m in zip(TEXTS, ids, mask, strict=True):
        expected = tiny.tokenizer(text)["input_ids"]  # no prompt, T5's </s> at the end
        assert row[m.bool()].tolist() == expected
        assert expected[-1] == tiny.tokenizer.eos_token_id
        for target in (None, "ru", "fr"):
            count = adapter.count_tokens(
                tiny.tokenizer, tiny.spec, text, task="summarize", source="en", target=target
            )
            assert count == len(expected)


def test_a_generated_language_token_is_dropped_from_the_text(tiny: Loaded) -> None:
    """Language tokens are ordinary pieces: skip_special_tokens alone would print them."""
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(tiny.spec.local_path).eval()
    model.generation_config.suppress_tokens = None
    ru = tiny.language_id("ru")
    # force the Russian token as the first generated one, after the French start token
    spec = dataclasses.replace(
        tiny.spec, generation={**tiny.spec.generation, "forced_bos_token_id": ru}
    )
    backend = TransformersBackend(spec, tiny.tokenizer, model, adapter_for("crosssum"))
    calls: list[Any] = []
    original = model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        calls.append(original(*args, **kwargs))
        return calls[-1]

    model.generate = generate
    generated = backend.generate(TEXTS, Task("summarize", "en", "fr"))
    sequences = calls[-1]
    assert sequences[:, 0].tolist() == [tiny.language_id("fr")] * len(TEXTS)
    assert sequences[:, 1].tolist() == [ru] * len(TEXTS)
    plain = tiny.tokenizer.batch_decode(sequences, skip_special_tokens=True)
    assert all("<extra_id_" in text for text in plain)  # what a bare decode would say
    language_ids = {tiny.language_id(code) for code in TINY_TARGETS}
    for text, row in zip(generated.outputs, sequences.tolist(), strict=True):
        assert "extra_id" not in text  # anywhere: random weights repeat them, unsuppressed
        rest = [token for token in row if token not in language_ids]
        assert text == tiny.tokenizer.decode(rest, skip_special_tokens=True).strip()


def test_scores_leave_out_the_start_token(tiny: Loaded) -> None:
    """Greedy: the mean of transformers' own log-probabilities of the generated tokens."""
    generated = tiny.backend().generate(TEXTS[:1], Task("summarize", "en", "ru"))
    prepared = adapter_for("crosssum").prepare_summary(
        tiny.tokenizer, tiny.spec, TEXTS[:1], "en", "ru", tiny.model.config
    )
    with torch.inference_mode():
        out = tiny.model.generate(
            **prepared.tensors(),
            **tiny.spec.generation,
            **prepared.generate_kwargs,
            output_scores=True,
            return_dict_in_generate=True,
        )
    steps = tiny.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    tokens = out.sequences[0, 1:].tolist()
    eos = tiny.tokenizer.eos_token_id
    kept = tokens.index(eos) + 1 if eos in tokens else len(tokens)
    expected = float(steps[0, :kept].mean())
    assert len(tokens) == steps.shape[1]  # one score per token after the start token
    assert math.isclose(generated.scores[0], expected, rel_tol=1e-4, abs_tol=1e-5)
    assert generated.scores[0] < 0


def test_unsupported_targets_are_refused_clearly(tiny: Loaded) -> None:
    backend = tiny.backend()
    with pytest.raises(UnsupportedRoute, match=r"does not summarise en text into de"):
        backend.generate(TEXTS, Task("summarize", "en", "de"))  # not in summary_targets
    with pytest.raises(UnsupportedRoute, match=r"does not summarise de text"):
        backend.generate(TEXTS, Task("summarize", "de", "en"))  # not a source it reads
    adapter = adapter_for("crosssum")
    # listed, but CrossSum has no such language (German is no XL-Sum language)
    wider = dataclasses.replace(tiny.spec, summary_targets=(*tiny.spec.summary_targets, "de"))
    with pytest.raises(UnsupportedRoute, match=r"crosssum has no language for 'de'"):
        adapter.prepare_summary(tiny.tokenizer, wider, TEXTS, "en", "de")
    # an XL-Sum language this checkpoint's langid_map lacks
    wider = dataclasses.replace(tiny.spec, summary_targets=(*tiny.spec.summary_targets, "ja"))
    with pytest.raises(UnsupportedRoute, match=r"langid_map has no 'japanese'"):
        adapter.prepare_summary(tiny.tokenizer, wider, TEXTS, "en", "ja")
    # a configuration without a langid_map is no CrossSum checkpoint
    with pytest.raises(UnsupportedRoute, match=r"no task_specific_params\['langid_map'\]"):
        adapter.prepare_summary(tiny.tokenizer, tiny.spec, TEXTS, "en", "fr", {"d_model": 8})


def test_same_language_families_refuse_another_target(tiny_dir: Path) -> None:
    from transformers import AutoTokenizer

    spec = load_catalog(tiny_dir / "catalog.toml").get("tiny-mt5")
    assert spec is not None
    tokenizer = AutoTokenizer.from_pretrained(spec.local_path)
    adapter = adapter_for("mt5")
    assert not adapter.cross_lingual
    with pytest.raises(UnsupportedRoute, match=r"source's language only"):
        adapter.prepare_summary(tokenizer, spec, TEXTS, "en", "fr")
    # the same language, given explicitly, is today's summary, unchanged
    same = adapter.prepare_summary(tokenizer, spec, TEXTS, "en", "en")
    plain = adapter.prepare_summary(tokenizer, spec, TEXTS, "en")
    assert torch.equal(same.tensors()["input_ids"], plain.tensors()["input_ids"])
    assert same.generate_kwargs == plain.generate_kwargs == {}
    assert same.drop_ids == frozenset()


def test_summarizes() -> None:
    spec = ModelSpec(
        id="x",
        family="crosssum",
        source="s",
        tasks=("summarize",),
        summary_languages=("en", "fr"),
        summary_targets=("ru",),
    )
    assert spec.cross_lingual
    assert spec.summarizes("en", "en")
    assert spec.summarizes("fr", "ru")
    assert not spec.summarizes("fr", "es")  # not a target
    assert not spec.summarizes("ru", "en")  # not a source
    assert "ru" in spec.all_languages()
    same = dataclasses.replace(spec, family="mt5", summary_targets=())
    assert not same.cross_lingual
    assert same.summarizes("fr", "fr")
    assert not same.summarizes("fr", "ru")
    translator = dataclasses.replace(same, tasks=("translate",), languages=("en", "fr"))
    assert not translator.summarizes("en", "en")


def _entry(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "cs",
        "family": "crosssum",
        "source": "csebuetnlp/mT5_m2m_crossSum",
        "tasks": ["summarize"],
        "summary_languages": ["en", "fr"],
        "summary_targets": ["ru"],
    }
    entry.update(fields)
    return {key: value for key, value in entry.items() if value is not None}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"summary_targets": "ru"}, r"'cs'.*`summary_targets` must be a list"),
        ({"summary_targets": ["ru", 3]}, r"'cs'.*`summary_targets` must be a list"),
        ({"family": "mt5"}, r"'cs'.*`summary_targets` needs a cross-lingual.*'mt5'"),
        (
            {"tasks": ["translate"], "languages": ["en", "fr"], "summary_languages": None},
            r"'cs'.*`summary_targets` needs the summarize task",
        ),
        ({"summary_targets": ["ru", "de"]}, r"'cs'.*no language name for de.*summary_targets"),
        ({"summary_languages": ["en", "xx"]}, r"'cs'.*no language name for xx"),
        ({"backend": "ctranslate2"}, r"'cs'.*ctranslate2.*decoder start token"),
    ],
)
def test_summary_targets_are_validated(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog({"models": [_entry(**fields)]}, base_dir=Path("."))


def test_summary_targets_parse() -> None:
    catalog = parse_catalog({"models": [_entry()]}, base_dir=Path("."))
    spec = catalog.models[0]
    assert spec.summary_targets == ("ru",)
    assert spec.summarizes("fr", "ru")
    without = parse_catalog({"models": [_entry(summary_targets=None)]}, base_dir=Path("."))
    assert without.models[0].summary_targets == ()
    assert not without.models[0].cross_lingual
    assert without.models[0].summarizes("fr", "fr")


def test_default_catalogue_has_mt5_crosssum() -> None:
    catalog = load_catalog()
    spec = catalog.get("mt5-crosssum")
    assert spec is not None
    assert spec.source == "csebuetnlp/mT5_m2m_crossSum"
    assert spec.family == "crosssum"
    assert spec.backend == "transformers"
    assert "cc-by-nc-sa-4.0" in spec.license
    assert "non-commercial" in spec.license
    ids = catalog.ids
    assert ids.index("distilbart-cnn-12-6") + 1 == ids.index("mt5-crosssum")
    assert ids.index("mt5-crosssum") + 1 == ids.index("mt5-xlsum")
    # every XL-Sum language an API code reaches (zh and sr take one script each)
    codes = {code for code in CROSSSUM_NAMES if "-" not in code}
    assert len(codes) == 43
    assert set(spec.summary_languages) == set(spec.summary_targets) == codes
    assert all(normalize_code(code) == code for code in codes)  # codes the API sends
    assert spec.summarizes("fr", "ru")
    assert spec.summarizes("zh", "en")
    assert spec.max_input_tokens == 512
    assert spec.generation["num_beams"] == 4
    assert spec.generation["no_repeat_ngram_size"] == 2
    assert spec.generation["max_new_tokens"] == 83  # the card's max_length 84, less the start
    text = Path(catalog.path or "").read_text(encoding="utf-8")
    licences = text.split("# LICENCES:")[1].split("\n\n")[0]  # the header's comment
    assert "mT5_m2m_crossSum" in licences


def test_the_name_table_covers_the_45_xlsum_languages() -> None:
    assert len(XLSUM_NAMES) == 45
    assert sorted(CROSSSUM_NAMES.values()) == sorted(XLSUM_NAMES)
    assert CROSSSUM_NAMES["zh"] == "chinese_simplified"
    assert CROSSSUM_NAMES["sr"] == "serbian_cyrillic"
    assert CROSSSUM_NAMES["pcm"] == "pidgin"  # no ISO 639-1 code


def _real_langid_map() -> dict[str, list[Any]]:
    """Shaped like the real checkpoint's: name → [index, "▁<extra_id_N>"]."""
    return {
        name: [index, f"\u2581<extra_id_{(index * 37 + 11) % 100}>"]
        for index, name in enumerate(XLSUM_NAMES)
    } | {"russian": [XLSUM_NAMES.index("russian"), "\u2581<extra_id_63>"]}


def test_the_real_model_card_config_is_read() -> None:
    langid_map = _real_langid_map()
    config_json = {"model_type": "mt5", "task_specific_params": {"langid_map": langid_map}}
    tokens = crosssum_langid_map(config_json)
    assert tokens == {name: value[1] for name, value in langid_map.items()}
    # a loaded configuration carries it as an attribute
    assert crosssum_langid_map(SimpleNamespace(**config_json)) == tokens
    family = adapter_for("crosssum")
    assert family.language_token(config_json, "ru") == "\u2581<extra_id_63>"
    assert family.language_token(config_json, "zh") == langid_map["chinese_simplified"][1]
    assert family.language_token(config_json, "sr") == langid_map["serbian_cyrillic"][1]
    assert family.language_token(config_json, "pcm") == langid_map["pidgin"][1]
    # every code of the default catalogue entry resolves against the real-shaped map
    spec = load_catalog().get("mt5-crosssum")
    assert spec is not None
    assert {family.language_token(config_json, code) for code in spec.summary_targets}
    malformed = {"task_specific_params": {"langid_map": {"english": [3]}}}
    with pytest.raises(UnsupportedRoute, match=r"langid_map\['english'\].*\[index, token\]"):
        crosssum_langid_map(malformed)
