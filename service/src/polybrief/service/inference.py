"""Runs models: sentence-level translation with paragraph layout kept, and map-reduce
summarisation of text longer than the model window. Nothing is cut: every sentence
becomes (part of) a model input."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polybrief.service.models.registry import LoadedModel
from polybrief.service.text.chunking import pack
from polybrief.service.text.clean import has_letters
from polybrief.service.text.extractive import extract
from polybrief.service.text.segment import split_sentences

BATCH_SIZE = 16
MAX_REDUCE_ROUNDS = 4
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my"})
_LINE_BREAKS = re.compile(r"(\n+)")


def words_to_tokens(words: int) -> int:
    """Generation budget for a word budget (subword tokenisers average ~1.3-1.6 per word)."""
    return int(words * 1.6) + 8


def sentence_joiner(language: str) -> str:
    return "" if language in NO_SPACE_LANGUAGES else " "


def _generate(loaded: LoadedModel, prepared_inputs: Any, kwargs: dict[str, Any]) -> list[str]:
    import torch

    with torch.inference_mode():
        output = loaded.model.generate(**prepared_inputs, **kwargs)
    decoded = loaded.tokenizer.batch_decode(output, skip_special_tokens=True)
    return [str(text).strip() for text in decoded]


def _generation_settings(
    loaded: LoadedModel, extra: dict[str, Any], max_new_tokens: int | None
) -> dict[str, Any]:
    settings: dict[str, Any] = dict(loaded.spec.generation)
    if max_new_tokens is not None:
        settings["max_new_tokens"] = min(
            int(settings.get("max_new_tokens", max_new_tokens)), max_new_tokens
        )
    if "min_new_tokens" in settings and "max_new_tokens" in settings:
        settings["min_new_tokens"] = min(
            int(settings["min_new_tokens"]), int(settings["max_new_tokens"])
        )
    settings.update(extra)
    return settings


def translate_segments(
    loaded: LoadedModel, segments: Sequence[str], source: str, target: str
) -> list[str]:
    """Translates model-sized segments; identical segments are computed once."""
    unique = list(dict.fromkeys(segments))
    order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
    results: dict[str, str] = {}
    with loaded.lock:
        for start in range(0, len(order), BATCH_SIZE):
            batch = [unique[i] for i in order[start : start + BATCH_SIZE]]
            prepared = loaded.adapter.prepare_translation(
                loaded.tokenizer, loaded.spec, batch, source, target
            )
            budget = None
            if "max_new_tokens" not in loaded.spec.generation:
                budget = int(prepared.inputs["input_ids"].shape[1]) * 2 + 16
            settings = _generation_settings(loaded, prepared.generate_kwargs, budget)
            for text, out in zip(batch, _generate(loaded, prepared.inputs, settings), strict=True):
                results[text] = out
    return [results[s] for s in segments]


@dataclass(frozen=True)
class TranslatedText:
    text: str
    segments: int


def translate_text(loaded: LoadedModel, text: str, source: str, target: str) -> TranslatedText:
    """Translates a text sentence by sentence, keeping its line and paragraph breaks.

    Lines without letters (numbers, emoji, rules) are kept unchanged. A sentence longer
    than the model window is split into window-sized pieces, never cut.
    """
    window = loaded.max_input_tokens

    def count(piece: str) -> int:
        return int(
            loaded.adapter.count_tokens(
                loaded.tokenizer, loaded.spec, piece, task="translate", source=source, target=target
            )
        )

    parts = _LINE_BREAKS.split(text)
    layout: list[list[str] | str] = []
    segments: list[str] = []
    for index, part in enumerate(parts):
        if index % 2 == 1 or not has_letters(part):
            layout.append(part)
            continue
        pieces: list[str] = []
        for sentence in split_sentences(part, source):
            pieces.extend(chunk.text for chunk in pack([sentence], count, window))
        layout.append(pieces)
        segments.extend(pieces)
    translated = iter(translate_segments(loaded, segments, source, target))
    joiner = sentence_joiner(target)
    out = [
        part if isinstance(part, str) else joiner.join(next(translated) for _ in part)
        for part in layout
    ]
    return TranslatedText("".join(out), len(segments))


def _summaries(loaded: LoadedModel, texts: Sequence[str], language: str, words: int) -> list[str]:
    outputs: list[str] = []
    with loaded.lock:
        for start in range(0, len(texts), BATCH_SIZE):
            batch = list(texts[start : start + BATCH_SIZE])
            prepared = loaded.adapter.prepare_summary(
                loaded.tokenizer, loaded.spec, batch, language
            )
            settings = _generation_settings(
                loaded, prepared.generate_kwargs, words_to_tokens(words)
            )
            outputs.extend(_generate(loaded, prepared.inputs, settings))
    return outputs


@dataclass(frozen=True)
class Summary:
    text: str
    chunks: int
    rounds: int


def summarize_sentences(
    loaded: LoadedModel, sentences: Sequence[str], language: str, max_words: int
) -> Summary:
    """Abstractive summary of any length of text by map-reduce over window-sized chunks.

    Map: every chunk (consecutive sentences up to the window) is summarised. Reduce: the
    partial summaries are summarised again until they fit one window. If a reduce round
    does not shrink the text, the partial summaries are first narrowed extractively
    (extract-then-abstract) so the loop always ends.
    """
    window = loaded.max_input_tokens

    def count(piece: str) -> int:
        return int(
            loaded.adapter.count_tokens(
                loaded.tokenizer, loaded.spec, piece, task="summarize", source=language, target=None
            )
        )

    chunks = [chunk.text for chunk in pack(sentences, count, window)]
    mapped = len(chunks)
    rounds = 0
    while True:
        rounds += 1
        outputs = _summaries(loaded, chunks, language, max_words)
        if len(chunks) == 1:
            return Summary(outputs[0], mapped, rounds)
        partial = [s for out in outputs for s in split_sentences(out, language) if s.strip()]
        next_chunks = [chunk.text for chunk in pack(partial, count, window)]
        if len(next_chunks) >= len(chunks) or rounds >= MAX_REDUCE_ROUNDS:
            next_chunks = _narrow(partial, count, window, language)
        chunks = next_chunks


def _narrow(sentences: Sequence[str], count: Any, window: int, language: str) -> list[str]:
    """Selects the most central sentences that fit one window."""
    budget = max(window // 2, 10)
    while True:
        chosen = extract(sentences, budget, language)
        packed = pack(chosen, count, window)
        if len(packed) == 1 or budget <= 10:
            return [packed[0].text]
        budget //= 2
