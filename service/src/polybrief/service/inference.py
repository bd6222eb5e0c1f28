"""Runs models: sentence-level translation with paragraph layout kept, and map-reduce
summarisation of text longer than the model window. Nothing is cut: every sentence
becomes (part of) a model input."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from polybrief.service.batching import Batcher
from polybrief.service.cache import TranslationCache
from polybrief.service.context import CallContext
from polybrief.service.models.backends import Task
from polybrief.service.models.registry import LoadedModel
from polybrief.service.text.chunking import Counter, pack
from polybrief.service.text.clean import has_letters
from polybrief.service.text.extractive import extract
from polybrief.service.text.segment import sentence_joiner, split_sentences

MAX_REDUCE_ROUNDS = 4
_LINE_BREAKS = re.compile(r"(\n+)")


def words_to_tokens(words: int) -> int:
    """Generation budget for a word budget (subword tokenisers average ~1.3-1.6 per word)."""
    return int(words * 1.6) + 8


class Runner:
    """Runs segments on models through the shared batcher, with the translation cache."""

    def __init__(
        self, batcher: Batcher, cache: TranslationCache, *, max_generated_tokens: int
    ) -> None:
        self.batcher = batcher
        self.cache = cache
        self.max_generated_tokens = max_generated_tokens

    def translate(
        self,
        loaded: LoadedModel,
        segments: Sequence[str],
        source: str,
        target: str,
        context: CallContext,
    ) -> list[str]:
        """Translations of model-sized segments; repeated and cached segments cost nothing."""
        keys = [self.cache.key(loaded.spec.id, source, target, s) for s in segments]
        found = {key: self.cache.get(key) for key in dict.fromkeys(keys)}
        missing = [s for s, key in zip(segments, keys, strict=True) if found[key] is None]
        missing = list(dict.fromkeys(missing))
        if missing:
            task = Task("translate", source, target, token_cap=self.max_generated_tokens)
            outputs = self.batcher.run(loaded.backend, loaded.spec.id, task, missing, context)
            for segment, output in zip(missing, outputs, strict=True):
                key = self.cache.key(loaded.spec.id, source, target, segment)
                self.cache.put(key, output)
                found[key] = output
        return [str(found[key]) for key in keys]

    def summarize(
        self,
        loaded: LoadedModel,
        texts: Sequence[str],
        language: str,
        words: int,
        context: CallContext,
    ) -> list[str]:
        task = Task(
            "summarize", language, language, words_to_tokens(words), self.max_generated_tokens
        )
        return self.batcher.run(loaded.backend, loaded.spec.id, task, texts, context)


def _counter(loaded: LoadedModel, task: str, source: str, target: str | None) -> Counter:
    """Counts a piece's input tokens for ``task`` on ``loaded``, as its family feeds them."""

    def count(piece: str) -> int:
        return loaded.adapter.count_tokens(
            loaded.tokenizer, loaded.spec, piece, task=task, source=source, target=target
        )

    return count


@dataclass(frozen=True)
class TranslatedText:
    text: str
    segments: int


def translate_text(
    runner: Runner, loaded: LoadedModel, text: str, source: str, target: str, context: CallContext
) -> TranslatedText:
    """Translates a text sentence by sentence, keeping its line and paragraph breaks.

    Lines without letters (numbers, emoji, rules) are kept unchanged. A sentence longer
    than the model window is split into window-sized pieces, never cut.
    """
    window = loaded.max_input_tokens
    count = _counter(loaded, "translate", source, target)
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
    translated = iter(runner.translate(loaded, segments, source, target, context))
    joiner = sentence_joiner(target)
    out = [
        part if isinstance(part, str) else joiner.join(next(translated) for _ in part)
        for part in layout
    ]
    return TranslatedText("".join(out), len(segments))


@dataclass(frozen=True)
class Summary:
    text: str
    chunks: int
    rounds: int


def summarize_sentences(
    runner: Runner,
    loaded: LoadedModel,
    sentences: Sequence[str],
    language: str,
    max_words: int,
    context: CallContext,
) -> Summary:
    """Abstractive summary of any length of text by map-reduce over window-sized chunks.

    Map: every chunk (consecutive sentences up to the window) is summarised. Reduce: the
    partial summaries are summarised again until they fit one window. If a reduce round
    does not shrink the text, the partial summaries are first narrowed extractively
    (extract-then-abstract) so the loop always ends.
    """
    window = loaded.max_input_tokens
    count = _counter(loaded, "summarize", language, None)
    chunks = [chunk.text for chunk in pack(sentences, count, window)]
    mapped = len(chunks)
    rounds = 0
    while True:
        rounds += 1
        outputs = runner.summarize(loaded, chunks, language, max_words, context)
        if len(chunks) == 1:
            return Summary(outputs[0], mapped, rounds)
        partial = [s for out in outputs for s in split_sentences(out, language) if s.strip()]
        next_chunks = [chunk.text for chunk in pack(partial, count, window)]
        if len(next_chunks) >= len(chunks) or rounds >= MAX_REDUCE_ROUNDS:
            next_chunks = _narrow(partial, count, window)
        chunks = next_chunks


def _narrow(sentences: Sequence[str], count: Counter, window: int) -> list[str]:
    """Selects the most central sentences that fit one window."""
    budget = max(window // 2, 10)
    while True:
        chosen = extract(sentences, budget)
        packed = pack(chosen, count, window)
        if len(packed) == 1 or budget <= 10:
            return [packed[0].text]
        budget //= 2
