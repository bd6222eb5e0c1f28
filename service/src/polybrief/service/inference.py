"""Runs models: sentence-level translation with paragraph layout kept, and map-reduce
summarisation of text longer than the model window. Nothing is cut: every sentence
becomes (part of) a model input."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from polybrief.service.batching import Batcher
from polybrief.service.cache import TranslationCache
from polybrief.service.context import CallContext
from polybrief.service.domain import QualityWarning
from polybrief.service.models.backends import Task
from polybrief.service.models.registry import LoadedModel
from polybrief.service.quality import checks
from polybrief.service.quality.checks import combine
from polybrief.service.quality.guard import Guarded, Scored, guard
from polybrief.service.telemetry import NoTelemetry, Telemetry
from polybrief.service.text.chunking import Counter, pack
from polybrief.service.text.clean import has_letters
from polybrief.service.text.extractive import extract
from polybrief.service.text.segment import sentence_joiner, split_sentences

MAX_REDUCE_ROUNDS = 4
# With the guards on, a segment's output is capped at this many times its input tokens
# (plus a few): Marian's decoders stop at about 3x by default, and a loop stops there.
LENGTH_CAP = 3.0
_LINE_BREAKS = re.compile(r"(\n+)")


def words_to_tokens(words: int) -> int:
    """Generation budget for a word budget (subword tokenisers average ~1.3-1.6 per word)."""
    return int(words * 1.6) + 8


class Runner:
    """Runs segments on models through the shared batcher, with the translation cache and,
    when ``guards`` is on, the quality guard (loops and lengths checked, failing segments
    re-decoded; see ``quality.guard``)."""

    def __init__(
        self,
        batcher: Batcher,
        cache: TranslationCache,
        *,
        max_generated_tokens: int,
        guards: bool,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.batcher = batcher
        self.cache = cache
        self.max_generated_tokens = max_generated_tokens
        self.guards = guards
        self.telemetry: Telemetry = telemetry or NoTelemetry()
        self.stats = GuardStats()

    def _guarded(
        self, loaded: LoadedModel, task: Task, texts: Sequence[str], context: CallContext
    ) -> list[Guarded]:
        def decode(batch: Sequence[str], retry: bool) -> list[Scored]:
            variant = dataclasses.replace(task, retry=retry)
            return self.batcher.run(loaded.backend, loaded.spec.id, variant, batch, context)

        if not self.guards:
            return [Guarded(s.text, s.logprob, (), 0) for s in decode(texts, False)]
        results = guard(
            texts,
            decode,
            kind=task.kind,
            source_language=task.source,
            target_language=task.target,
        )
        self.stats.count(results)
        for result in results:
            for warning in result.warnings:
                self.telemetry.output_warned(loaded.spec.id, warning.code.value)
        return results

    def translate(
        self,
        loaded: LoadedModel,
        segments: Sequence[str],
        source: str,
        target: str,
        context: CallContext,
    ) -> list[Guarded]:
        """Translations of model-sized segments; repeated and cached segments cost nothing."""
        context.check()  # a call that ended while its text was prepared does nothing more
        keys = [self.cache.key(loaded.spec.id, source, target, s) for s in segments]
        found = {key: self.cache.get(key) for key in dict.fromkeys(keys)}
        missing = [s for s, key in zip(segments, keys, strict=True) if found[key] is None]
        missing = list(dict.fromkeys(missing))
        if missing:
            task = Task(
                "translate",
                source,
                target,
                token_cap=self.max_generated_tokens,
                length_cap=LENGTH_CAP if self.guards else None,
            )
            for segment, output in zip(
                missing, self._guarded(loaded, task, missing, context), strict=True
            ):
                key = self.cache.key(loaded.spec.id, source, target, segment)
                self.cache.put(key, output)
                found[key] = output
        return [_present(found[key]) for key in keys]

    def summarize(
        self,
        loaded: LoadedModel,
        texts: Sequence[str],
        language: str,
        words: int,
        context: CallContext,
        target: str | None = None,
    ) -> list[Guarded]:
        """Summaries of ``texts`` (written in ``language``) in ``target`` (default: the
        same language; another one needs a cross-lingual summariser)."""
        task = Task(
            "summarize",
            language,
            target or language,
            words_to_tokens(words),
            self.max_generated_tokens,
        )
        return self._guarded(loaded, task, texts, context)


@dataclass
class GuardStats:
    """What the guard did since start: segments checked, re-decodes, segments still
    flagged (figures for the benchmark and the tests)."""

    segments: int = 0
    redecodes: int = 0
    flagged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, results: Sequence[Guarded]) -> None:
        with self.lock:
            self.segments += len(results)
            self.redecodes += sum(r.redecodes for r in results)
            self.flagged += sum(1 for r in results if r.warnings)


def _present(value: Guarded | None) -> Guarded:
    if value is None:  # every key was either found or computed just above
        raise RuntimeError("translation missing from the cache")
    return value


def _counter(loaded: LoadedModel, task: str, source: str, target: str | None) -> Counter:
    """Counts a piece's input tokens for ``task`` on ``loaded``, as its family feeds them."""

    def count(piece: str) -> int:
        return loaded.adapter.count_tokens(
            loaded.tokenizer, loaded.spec, piece, task=task, source=source, target=target
        )

    return count


@dataclass(frozen=True)
class TranslatedText:
    """A translated text: its segments' confidence combined by length, and their
    warnings (``segment`` = the index of the sentence or piece in this text)."""

    text: str
    segments: int
    confidence: float
    warnings: tuple[QualityWarning, ...]


def translate_texts(
    runner: Runner,
    loaded: LoadedModel,
    texts: Sequence[str],
    source: str,
    target: str,
    context: CallContext,
) -> list[TranslatedText]:
    """Translates texts sentence by sentence (all their segments in one submission, so
    they share batches), keeping each text's line and paragraph breaks.

    Lines without letters (numbers, emoji, rules) are kept unchanged. A sentence longer
    than the model window is split into window-sized pieces, never cut.
    """
    window = loaded.max_input_tokens
    count = _counter(loaded, "translate", source, target)
    layouts: list[list[list[str] | str]] = []
    segments: list[str] = []
    for text in texts:
        layout: list[list[str] | str] = []
        for index, part in enumerate(_LINE_BREAKS.split(text)):
            if index % 2 == 1 or not has_letters(part):
                layout.append(part)
                continue
            pieces: list[str] = []
            for sentence in split_sentences(part, source):
                pieces.extend(chunk.text for chunk in pack([sentence], count, window))
            layout.append(pieces)
            segments.extend(pieces)
        layouts.append(layout)
    translated = iter(runner.translate(loaded, segments, source, target, context))
    joiner = sentence_joiner(target)
    results = []
    for layout in layouts:
        out: list[str] = []
        done: list[tuple[str, Guarded]] = []
        for part in layout:
            if isinstance(part, str):
                out.append(part)
                continue
            pairs = [(piece, next(translated)) for piece in part]
            done.extend(pairs)
            out.append(joiner.join(result.text for _, result in pairs))
        results.append(_translated_text("".join(out), done))
    return results


def _translated_text(text: str, done: Sequence[tuple[str, Guarded]]) -> TranslatedText:
    warnings = tuple(
        dataclasses.replace(w, segment=index)
        for index, (_, result) in enumerate(done)
        for w in result.warnings
    )
    # a text with nothing to translate (no letters) is its own output: combine gives 1.0
    confidence = combine(
        [checks.confidence(result.logprob) for _, result in done],
        [len(source) for source, _ in done],
    )
    return TranslatedText(text, len(done), confidence, warnings)


def translate_text(
    runner: Runner, loaded: LoadedModel, text: str, source: str, target: str, context: CallContext
) -> TranslatedText:
    """``translate_texts`` of one text."""
    return translate_texts(runner, loaded, [text], source, target, context)[0]


@dataclass(frozen=True)
class Summary:
    """The summary, with the confidence and warnings of the pass that wrote it."""

    text: str
    chunks: int
    rounds: int
    confidence: float
    warnings: tuple[QualityWarning, ...]


def summarize_sentences(
    runner: Runner,
    loaded: LoadedModel,
    sentences: Sequence[str],
    language: str,
    max_words: int,
    context: CallContext,
    target: str | None = None,
) -> Summary:
    """Abstractive summary of any length of text by map-reduce over window-sized chunks,
    in ``target`` when given (a cross-lingual summariser), else in ``language``.

    Map: every chunk (consecutive sentences up to the window) is summarised. Reduce: the
    partial summaries are summarised again until they fit one window (cross-lingual: they
    are in the target already, and are read as such where the model summarises it). If
    a reduce round does not shrink the text, the partial summaries are first narrowed
    extractively (extract-then-abstract) so the loop always ends.
    """
    output_language = target or language
    window = loaded.max_input_tokens
    count = _counter(loaded, "summarize", language, None)
    chunks = [chunk.text for chunk in pack(sentences, count, window)]
    mapped = len(chunks)
    rounds = 0
    reading = language
    while True:
        rounds += 1
        results = runner.summarize(loaded, chunks, reading, max_words, context, output_language)
        if len(chunks) == 1:
            [final] = results
            confidence = checks.confidence(final.logprob)
            return Summary(final.text, mapped, rounds, confidence, final.warnings)
        if loaded.spec.summarizes(output_language, output_language):
            reading = output_language
            count = _counter(loaded, "summarize", reading, None)
        outputs = [result.text for result in results]
        partial = [s for out in outputs for s in split_sentences(out, output_language) if s.strip()]
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
