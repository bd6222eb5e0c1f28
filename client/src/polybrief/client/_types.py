"""Result types of the client: frozen dataclasses mirroring the proto responses.

Enum values are lower-case strings, typed as ``Literal``s:

* ``SummaryMode``: "abstractive", "extractive" (an unset mode reads as "abstractive",
  as the proto says);
* ``StepKind``: "summarize", "extract", "translate";
* ``RouteKind``: "identity", "direct", "multilingual", "pivot", "cross_lingual" (a brief
  written straight in the target language by a cross-lingual summariser);
* ``ModelState``: "not_installed", "installed", "loaded", "failed".

A value the server leaves unset (or one newer than this client) reads as "" for step and
route kinds and "unknown" for model states. ``QualityWarning.code`` is a plain string (the
known codes are in ``WARNING_CODES``; a newer server may send others).

A glossary (``Glossary``) is given as a mapping ``{source: target}`` or as a sequence of
``GlossaryTerm`` (or plain ``(source, target)`` pairs); an empty target means "do not
translate: keep the source as it is".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, NamedTuple, TypeAlias, TypeVar

T = TypeVar("T")

SummaryMode = Literal["abstractive", "extractive"]
StepKind = Literal["summarize", "extract", "translate", ""]
RouteKind = Literal["identity", "direct", "multilingual", "pivot", "cross_lingual", ""]
ModelState = Literal["not_installed", "installed", "loaded", "failed", "unknown"]


class GlossaryTerm(NamedTuple):
    """A term to keep: ``source`` found in the text comes out as ``target``, verbatim, or
    as ``source`` itself when ``target`` is "" (do not translate). Unpacks as a pair."""

    source: str
    target: str = ""


#: A glossary: ``{"Charles de Gaulle": "", "navy": "marine"}``, or the same as a sequence
#: of ``GlossaryTerm`` / ``(source, target)`` pairs (which can repeat a source, so that the
#: server reports the duplicate instead of the mapping silently keeping the last one).
Glossary: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]

#: The warning codes this client knows (see ``QualityWarning``).
WARNING_CODES = (
    "REPETITION",
    "LENGTH_RATIO",
    "WRONG_LANGUAGE",
    "UNTRANSLATED",
    "LOW_CONFIDENCE",
    "TERM_NOT_APPLIED",
    "REROUTED",
    "MARKUP_FALLBACK",
)


@dataclass(frozen=True)
class QualityWarning:
    """Something about an output to check before publishing it (the output is still there).

    ``code`` is machine-readable: "REPETITION" (a repeated n-gram loop survived the
    server's guard), "LENGTH_RATIO" (output far longer or shorter than the source for the
    pair), "WRONG_LANGUAGE" (the output looks like ``detected_language``, not the target),
    "UNTRANSLATED" (output equals the input where it should not), "LOW_CONFIDENCE"
    (``confidence`` under the server's threshold), "TERM_NOT_APPLIED" (a glossary term
    could not be kept as asked), "REROUTED" (the first route's output was in the wrong
    language and was redone on another route; ``detected_language`` is what it looked
    like), "MARKUP_FALLBACK" (HTML/Markdown whose inline markup did not survive the model in
    some units, translated piece by piece there instead); a newer server may send other
    codes.
    """

    code: str
    message: str
    #: Index of the sentence or chunk concerned; -1 for the whole output.
    segment: int
    #: With "WRONG_LANGUAGE": the language the output looks like; "" otherwise.
    detected_language: str


@dataclass(frozen=True)
class Step:
    """One step of a route: a model (or the extractive summariser) applied to text."""

    kind: StepKind
    #: Catalogue id of the model; "" for "extract".
    model: str
    source_language: str
    target_language: str
    #: Model inputs (sentence batches or chunks) this step processed.
    segments: int


@dataclass(frozen=True)
class Route:
    """The path an output took, steps in order of execution."""

    kind: RouteKind
    steps: tuple[Step, ...]
    #: Set when ``kind`` is "pivot".
    pivot_language: str


@dataclass(frozen=True)
class ItemError:
    """Why one brief or translation could not be produced (the others are unaffected).

    ``code`` is machine-readable: "MODEL_NOT_INSTALLED", "UNSUPPORTED_LANGUAGE_PAIR",
    "UNSUPPORTED_LANGUAGE" or "MODEL_FAILED"; ``hint`` says what an operator can do.
    """

    code: str
    message: str
    model: str
    hint: str


class LanguageGuess(NamedTuple):
    """A candidate language and its confidence (0..1); unpacks as ``(language, p)``."""

    language: str
    confidence: float


@dataclass(frozen=True)
class DetectedLanguage:
    """The language of a text. ``language`` is "" when nothing could be detected."""

    language: str
    confidence: float
    #: False for short or ambiguous text: pass the source language explicitly then.
    reliable: bool
    #: Up to three candidates, best first.
    candidates: tuple[LanguageGuess, ...]


@dataclass(frozen=True)
class PipelineReport:
    """What the text pipeline did to the input before any model saw it."""

    input_characters: int
    removed_control_characters: int
    paragraphs: int
    duplicate_paragraphs_removed: int
    duplicate_sentences_removed: int
    sentences: int
    #: Model inputs summarised in the map step (0 for extractive briefs).
    chunks_summarized: int
    #: Rounds of map-reduce (0 for extractive, 1 when no reduce was needed).
    reduce_rounds: int


@dataclass(frozen=True, kw_only=True)
class Assessment:
    """How far to trust an output: what ``Brief`` and ``Translation`` carry besides it."""

    #: 0..1, from the models' length-normalised log-probability (the product over the
    #: steps of a route); 1.0 for text returned as it is (extractive sentences, identity
    #: routes); 0 with ``error``.
    confidence: float = 0.0
    #: What to check before publishing it; () when nothing was found.
    warnings: tuple[QualityWarning, ...] = ()
    #: Glossary terms (and, in briefs, protected names) found in the source and kept, as
    #: written in the output.
    applied_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Brief(Assessment):
    """A brief in one language; ``text`` is "" and ``error`` is set when it failed."""

    language: str
    text: str
    #: The mode actually used.
    mode: SummaryMode
    #: Why an abstractive request was served extractively; "" otherwise.
    fallback_reason: str
    route: Route
    error: ItemError | None


@dataclass(frozen=True)
class SummarizeResult:
    """Briefs in request order, the source language used and the pipeline report."""

    briefs: tuple[Brief, ...]
    source_language: str
    #: Set when no source language was given.
    detected_language: DetectedLanguage | None
    pipeline: PipelineReport


@dataclass(frozen=True)
class Translation(Assessment):
    """One translated text; ``error`` is set (and ``text`` "") when it failed."""

    text: str
    source_language: str
    #: Set when no source language was given.
    detected_language: DetectedLanguage | None
    route: Route
    error: ItemError | None


@dataclass(frozen=True)
class Ready(Generic[T]):
    """A streamed output, complete: the ``Brief`` (``stream_summarize``) or
    ``Translation`` (``stream_translate``) at ``index`` of the requested languages or
    texts."""

    index: int
    output: T


@dataclass(frozen=True)
class SummarizeDone:
    """``stream_summarize``'s last event: what ``SummarizeResult`` has besides the briefs."""

    source_language: str
    detected_language: DetectedLanguage | None
    pipeline: PipelineReport


@dataclass(frozen=True)
class TranslateDone:
    """``stream_translate``'s last event."""

    target_language: str


#: What ``stream_summarize`` yields: a ``Ready`` brief per language, then a ``SummarizeDone``.
SummarizeEvent: TypeAlias = "Ready[Brief] | SummarizeDone"
#: What ``stream_translate`` yields: a ``Ready`` translation per text, then a ``TranslateDone``.
TranslateEvent: TypeAlias = "Ready[Translation] | TranslateDone"


@dataclass(frozen=True)
class LanguagePair:
    """A translation direction."""

    source_language: str
    target_language: str


@dataclass(frozen=True)
class ModelInfo:
    """A model of the server's catalogue."""

    #: Catalogue id, as accepted by the ``model`` arguments.
    id: str
    #: "marian", "m2m100", "nllb", "mbart50", "t5", "mt5", "crosssum", "bart", "pegasus".
    family: str
    #: "translate" and/or "summarize".
    tasks: tuple[str, ...]
    #: Hugging Face hub id or local directory, and revision.
    source: str
    revision: str
    license: str
    pairs: tuple[LanguagePair, ...]
    summary_languages: tuple[str, ...]
    languages: tuple[str, ...]
    state: ModelState
    state_detail: str
    #: Input window in tokens; longer input is chunked, never cut.
    max_input_tokens: int
    #: Cross-lingual summarisers: the languages written besides the source's own.
    summary_targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class LanguageInfo:
    """A language of the catalogue and what can be done with it."""

    code: str
    name: str
    translate_source: bool
    translate_target: bool
    #: An abstractive summariser exists (extractive briefs work for every language).
    summarize_abstractive: bool


@dataclass(frozen=True)
class Limits:
    """The server's limits: requests over the input limits are INVALID_ARGUMENT; calls
    past the capacity limits (concurrent calls, queued segments) RESOURCE_EXHAUSTED."""

    max_text_characters: int
    max_translate_items: int
    max_item_characters: int
    max_total_characters: int
    max_target_languages: int
    min_words: int
    max_words: int
    default_words: int
    max_receive_message_bytes: int
    max_generated_tokens: int
    max_concurrent_calls: int
    max_queued_segments: int
    default_deadline_ms: int
    #: Terms of one call's glossary; characters of one term's source or target.
    max_glossary_terms: int
    max_glossary_term_characters: int


@dataclass(frozen=True)
class Capabilities:
    """Languages, models and limits of a server (``ListCapabilities``)."""

    languages: tuple[LanguageInfo, ...]
    models: tuple[ModelInfo, ...]
    limits: Limits
    pivot_language: str
