"""Sequence scores from both backends, and the decoding variants the guards ask for
(``Task.retry``, ``Task.length_cap``), on the tiny real models of every family.

A score is the mean log-probability per generated token: tokens after the decoder start,
up to and including an end-of-sequence token the model chose; a forced target-language
token and the end-of-sequence token transformers forces at the length limit are left out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from polybrief.service.models.backends import (
    LENGTH_CAP_SLACK,
    CTranslate2Backend,
    Task,
    TransformersBackend,
    convert_to_ct2,
    decoder_positions,
)
from polybrief.service.models.catalog import CT2_FAMILIES, ModelSpec, load_catalog
from polybrief.service.models.families import adapter_for
from server_harness import tiny_models

TEXTS = [
    "The navy was ordered to work with the French as allies.",
    "Putin and Hollande agreed to cooperate.",
    "Hi",
]
LONG = " ".join(["The navy was ordered to work with the French as allies."] * 3)
MODELS = tiny_models("en-fr", "en-mul")
CT2_MODELS = ["tiny-marian-en-fr", "tiny-marian-en-mul", "tiny-bart", "tiny-t5", "tiny-mt5"]


@dataclasses.dataclass
class Loaded:
    spec: ModelSpec
    tokenizer: Any
    model: Any

    def task(self, **fields: Any) -> Task:
        if "translate" in self.spec.tasks:
            return Task("translate", *self.spec.translation_pairs()[-1], **fields)
        return Task("summarize", "en", "en", **fields)

    def transformers(self, spec: ModelSpec | None = None) -> TransformersBackend:
        spec = spec or self.spec
        return TransformersBackend(spec, self.tokenizer, self.model, adapter_for(spec.family))


#: The fixtures: ``load(model_id)``, ``ct2(model_id, spec=None, loaded=None)`` and
#: ``generate_calls(model)``.
Load = Callable[[str], Loaded]
MakeCt2 = Callable[..., CTranslate2Backend]
GenerateCalls = Callable[[Any], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def load(tiny_dir: Path) -> Load:
    """``load(model_id)``: the tiny model, loaded once per module."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    catalog = load_catalog(tiny_dir / "catalog.toml")
    cache: dict[str, Loaded] = {}

    def get(model_id: str) -> Loaded:
        if model_id not in cache:
            spec = catalog.get(model_id)
            assert spec is not None
            assert spec.local_path is not None
            cache[model_id] = Loaded(
                spec,
                AutoTokenizer.from_pretrained(spec.local_path),
                AutoModelForSeq2SeqLM.from_pretrained(spec.local_path).eval(),
            )
        return cache[model_id]

    return get


@pytest.fixture(scope="module")
def ct2(load: Load, tmp_path_factory: pytest.TempPathFactory) -> MakeCt2:
    """``ct2(model_id, spec=None, loaded=None)``: a float32 CTranslate2 backend on the tiny
    model (or on ``loaded``)."""
    root = tmp_path_factory.mktemp("ct2")

    def make(
        model_id: str, spec: ModelSpec | None = None, loaded: Loaded | None = None
    ) -> CTranslate2Backend:
        loaded = loaded or load(model_id)
        spec = spec or loaded.spec
        directory = str(spec.local_path)
        generation = loaded.model.generation_config
        return CTranslate2Backend(
            spec,
            loaded.tokenizer,
            adapter_for(spec.family),
            convert_to_ct2(spec, directory, "float32", root),
            compute_type="float32",
            threads=1,
            forced_eos=generation.forced_eos_token_id is not None,
            default_beams=int(generation.num_beams or 1),
        )

    return make


@pytest.fixture
def generate_calls() -> Iterator[GenerateCalls]:
    """``generate_calls(model)``: the keyword arguments of every ``model.generate`` call
    from then on (the model itself runs unchanged)."""
    wrapped: list[Any] = []

    def watch(model: Any) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        original = model.generate

        def generate(*args: Any, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return original(*args, **kwargs)

        model.generate = generate
        wrapped.append(model)
        return calls

    yield watch
    for model in wrapped:
        del model.generate


class Recorded:
    """Stands in for a CTranslate2 ``Translator``, recording each call's options."""

    def __init__(self, translator: Any) -> None:
        self.translator = translator
        self.calls: list[dict[str, Any]] = []

    @classmethod
    def on(cls, backend: CTranslate2Backend) -> Recorded:
        """Records the calls of ``backend``'s translator from then on."""
        recorded = cls(backend.translator)
        backend.translator = recorded
        return recorded

    def translate_batch(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.translator.translate_batch(*args, **kwargs)


def _reference_scores(model: Any, kwargs: dict[str, Any]) -> list[float]:
    """The definition, computed independently with ``compute_transition_scores``: the
    same call with ``output_scores``, the mean over generated tokens up to the first
    end-of-sequence token, leaving out a forced first token and a forced final one."""
    kwargs = {
        k: v for k, v in kwargs.items() if k not in ("logits_processor", "return_dict_in_generate")
    }
    generation = model.generation_config
    beams = int(kwargs.get("num_beams", generation.num_beams or 1))
    with torch.inference_mode():
        # the class's generate: not the watched one
        out = type(model).generate(
            model, **kwargs, output_scores=True, return_dict_in_generate=True
        )
        steps = model.compute_transition_scores(
            out.sequences, out.scores, out.beam_indices if beams > 1 else None, True
        )
    eos = generation.eos_token_id
    forced_bos = kwargs.get("forced_bos_token_id", generation.forced_bos_token_id)
    forced_eos = kwargs.get("forced_eos_token_id", generation.forced_eos_token_id)
    tokens = out.sequences[:, -steps.shape[1] :]
    means = []
    for row, scores in zip(tokens.tolist(), steps.tolist(), strict=True):
        kept = []
        for t, (token, score) in enumerate(zip(row, scores, strict=True)):
            if beams > 1 and out.beam_indices[len(means), t] < 0:
                break  # this beam had ended
            if t == 0 and forced_bos is not None:
                continue
            if t == kwargs["max_new_tokens"] - 1 and forced_eos is not None and token == eos:
                break
            kept.append(score)
            if token == eos:
                break
        means.append(sum(kept) / len(kept))
    return means


@pytest.mark.parametrize("model_id", MODELS)
def test_scores_are_finite_log_probabilities_one_per_output(
    load: Load, ct2: MakeCt2, model_id: str
) -> None:
    loaded = load(model_id)
    backends: list[Any] = [loaded.transformers()]
    if loaded.spec.family in CT2_FAMILIES:
        backends.append(ct2(model_id))
    for backend in backends:
        for task in (loaded.task(), loaded.task(retry=True), loaded.task(length_cap=0.5)):
            result = backend.generate(TEXTS, task)
            assert len(result.scores) == len(result.outputs) == len(TEXTS)
            assert all(math.isfinite(s) and s <= 0 for s in result.scores), result.scores
            assert any(s < 0 for s in result.scores)  # the random models are never certain


@pytest.mark.parametrize("model_id", ["tiny-marian-en-fr", "tiny-mbart50", "tiny-t5", "tiny-bart"])
@pytest.mark.parametrize("retry", [False, True], ids=["greedy", "beam"])
def test_transformers_score_is_the_mean_of_transition_scores(
    load: Load, generate_calls: GenerateCalls, model_id: str, retry: bool
) -> None:
    # marian forces the final </s>, mbart50 the first (language) token, t5 neither
    loaded = load(model_id)
    calls = generate_calls(loaded.model)
    for text in (TEXTS[0], TEXTS[2]):
        result = loaded.transformers().generate([text], loaded.task(retry=retry))
        assert len(calls) == 1
        expected = _reference_scores(loaded.model, calls.pop())
        assert result.scores == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("model_id", CT2_MODELS)
def test_ctranslate2_scores_agree_with_transformers(
    load: Load, ct2: MakeCt2, model_id: str
) -> None:
    # tiny-mt5 included: ctranslate2's converter scaled its logits by d_model**-0.5
    # (same argmax, flatter probabilities) until convert_to_ct2 corrected it
    loaded = load(model_id)
    texts = [*TEXTS, LONG]
    for task in (loaded.task(), loaded.task(max_new_tokens=4)):
        expected = loaded.transformers().generate(texts, task)
        got = ct2(model_id).generate(texts, task)
        assert got.outputs == expected.outputs
        assert got.scores == pytest.approx(expected.scores, abs=1e-4)
    # beam search without a repetition penalty agrees too
    spec = dataclasses.replace(loaded.spec, generation={**loaded.spec.generation, "num_beams": 4})
    expected = loaded.transformers(spec).generate(texts, loaded.task())
    got = ct2(model_id, spec).generate(texts, loaded.task())
    assert got.outputs == expected.outputs
    assert got.scores == pytest.approx(expected.scores, abs=1e-4)


@pytest.mark.parametrize("model_id", MODELS)
def test_default_task_decodes_exactly_as_a_direct_generate(
    load: Load, generate_calls: GenerateCalls, model_id: str
) -> None:
    loaded = load(model_id)
    task = loaded.task()
    adapter = adapter_for(loaded.spec.family)
    if task.kind == "translate":
        prepared = adapter.prepare_translation(
            loaded.tokenizer, loaded.spec, TEXTS, task.source, task.target
        )
    else:
        prepared = adapter.prepare_summary(loaded.tokenizer, loaded.spec, TEXTS, task.source)
    with torch.inference_mode():
        direct = loaded.model.generate(
            **prepared.tensors(), **loaded.spec.generation, **prepared.generate_kwargs
        )
    calls = generate_calls(loaded.model)
    result = loaded.transformers().generate(TEXTS, task)
    expected = [t.strip() for t in loaded.tokenizer.batch_decode(direct, skip_special_tokens=True)]
    assert result.outputs == expected
    pad = loaded.model.generation_config.pad_token_id
    assert result.tokens_out == int((direct != pad).sum())
    # the decoding settings themselves are the entry's, nothing added
    (kwargs,) = calls
    settings = {k: v for k, v in kwargs.items() if k not in prepared.inputs}
    assert settings.pop("return_dict_in_generate") is False
    settings.pop("logits_processor")
    assert settings == {**loaded.spec.generation, **prepared.generate_kwargs}


@pytest.mark.parametrize("model_id", ["tiny-marian-en-fr", "tiny-bart", "tiny-t5"])
def test_retry_decodes_with_beams_and_repetition_guards(
    load: Load, ct2: MakeCt2, generate_calls: GenerateCalls, model_id: str
) -> None:
    loaded = load(model_id)
    calls = generate_calls(loaded.model)
    plain = loaded.transformers().generate(TEXTS, loaded.task())
    retried = loaded.transformers().generate(TEXTS, loaded.task(retry=True))
    default, retry = calls
    assert "no_repeat_ngram_size" not in default
    assert "repetition_penalty" not in default
    assert default["num_beams"] == 1
    assert retry["no_repeat_ngram_size"] == 3
    assert retry["repetition_penalty"] == 1.3
    assert retry["num_beams"] == 4
    # the rest of the entry's settings stay
    for key in ("max_new_tokens", "min_new_tokens", "do_sample"):
        assert retry[key] == default[key]
    assert retried.outputs != plain.outputs  # the tiny models loop; the retry does not

    # more beams in the catalogue stay
    spec = dataclasses.replace(loaded.spec, generation={**loaded.spec.generation, "num_beams": 6})
    loaded.transformers(spec).generate(TEXTS, loaded.task(retry=True))
    assert calls[-1]["num_beams"] == 6

    backend = ct2(model_id)
    recorded = Recorded.on(backend)
    backend.generate(TEXTS, loaded.task())
    backend.generate(TEXTS, loaded.task(retry=True))
    default, retry = recorded.calls
    assert (default["beam_size"], default["no_repeat_ngram_size"]) == (1, 0)
    assert default["repetition_penalty"] == 1.0
    assert (retry["beam_size"], retry["no_repeat_ngram_size"]) == (4, 3)
    assert retry["repetition_penalty"] == 1.3
    assert retry["max_decoding_length"] == default["max_decoding_length"]


def _without_length_limit(spec: ModelSpec, **extra: Any) -> ModelSpec:
    generation = {k: v for k, v in spec.generation.items() if k != "max_new_tokens"}
    return dataclasses.replace(spec, generation={**generation, **extra})


def test_length_cap_caps_new_tokens_by_the_longest_input(
    load: Load, ct2: MakeCt2, generate_calls: GenerateCalls
) -> None:
    loaded = load("tiny-marian-en-fr")
    spec = _without_length_limit(loaded.spec, min_new_tokens=40)
    calls = generate_calls(loaded.model)
    backend = loaded.transformers(spec)
    caps = {}
    for texts in ([TEXTS[0]], TEXTS, [TEXTS[2]]):
        longest = max(len(loaded.tokenizer(t)["input_ids"]) for t in texts)
        backend.generate(texts, loaded.task())
        uncapped = calls[-1]["max_new_tokens"]
        result = backend.generate(texts, loaded.task(length_cap=1.5))
        cap = math.ceil(1.5 * longest) + LENGTH_CAP_SLACK
        assert uncapped > cap  # the cap binds: 2 x input + 16 otherwise
        assert calls[-1]["max_new_tokens"] == cap
        assert calls[-1]["min_new_tokens"] == min(40, cap)
        assert result.tokens_out <= len(texts) * (cap + 1)  # + the decoder start token
        caps[len(texts)] = cap
    assert caps[1] != caps[3]  # longer inputs, larger cap (the batch's longest decides)

    backend = ct2("tiny-marian-en-fr", spec)
    recorded = Recorded.on(backend)
    backend.generate(TEXTS, loaded.task(length_cap=1.5))
    # forced </s>: transformers writes max_new_tokens - 1 tokens before it
    assert recorded.calls[-1]["max_decoding_length"] == caps[3] - 1


@pytest.mark.parametrize("model_id", ["tiny-marian-en-fr", "tiny-bart"])
def test_new_tokens_never_exceed_the_decoder_positions(
    load: Load, ct2: MakeCt2, generate_calls: GenerateCalls, model_id: str
) -> None:
    # Without the cap both backends crashed here: "No position encodings are defined for
    # positions >= 128" (CTranslate2), an index error (torch).
    loaded = load(model_id)
    positions = decoder_positions(loaded.model.config)
    assert positions == 128
    spec = _without_length_limit(loaded.spec, min_new_tokens=200)
    texts = [LONG, TEXTS[0]]
    task = loaded.task(max_new_tokens=500)
    calls = generate_calls(loaded.model)
    result = loaded.transformers(spec).generate(texts, task)
    assert calls[-1]["max_new_tokens"] == positions
    assert calls[-1]["min_new_tokens"] == positions
    backend = ct2(model_id, spec)
    recorded = Recorded.on(backend)
    got = backend.generate(texts, task)
    assert recorded.calls[-1]["max_decoding_length"] <= positions
    assert got.outputs == result.outputs
    assert got.scores == pytest.approx(result.scores, abs=1e-4)


def test_decoder_positions_of_each_kind_of_config(load: Load) -> None:
    from types import SimpleNamespace

    assert decoder_positions(load("tiny-t5").model.config) is None  # relative positions
    assert decoder_positions(load("tiny-nllb").model.config) == 128
    nested = SimpleNamespace(
        max_position_embeddings=512, decoder=SimpleNamespace(max_position_embeddings=64)
    )
    assert decoder_positions(nested) == 64


def test_scores_count_the_end_of_sequence_token_the_model_chose(
    load: Load, ct2: MakeCt2, generate_calls: GenerateCalls, tmp_path: Path
) -> None:
    # the tiny models never stop before the length limit; this copy's </s> is likelier
    # than any other token once min_new_tokens allows it
    import shutil

    from transformers import AutoModelForSeq2SeqLM

    original = load("tiny-marian-en-fr")
    assert original.spec.local_path is not None
    copy = tmp_path / "stops"
    shutil.copytree(original.spec.local_path, copy)
    model = AutoModelForSeq2SeqLM.from_pretrained(copy).eval()
    eos = model.config.eos_token_id
    with torch.no_grad():
        model.final_logits_bias[0, eos] = 1.0
    model.save_pretrained(copy)
    spec = dataclasses.replace(original.spec, id="tiny-stops", local_path=copy)
    loaded = Loaded(spec, original.tokenizer, model)
    calls = generate_calls(model)
    task = loaded.task()
    expected = loaded.transformers().generate(TEXTS, task)
    (kwargs,) = calls
    with torch.inference_mode():
        written = type(model).generate(model, **{**kwargs, "logits_processor": None})
    ends = [(row == eos).nonzero().flatten().tolist() for row in written]
    assert all(e and e[0] < kwargs["max_new_tokens"] for e in ends), ends  # stopped early
    assert expected.scores == pytest.approx(_reference_scores(model, kwargs), abs=1e-5)
    got = ct2(spec.id, spec, loaded).generate(TEXTS, task)
    assert got.outputs == expected.outputs
    assert got.scores == pytest.approx(expected.scores, abs=1e-4)
