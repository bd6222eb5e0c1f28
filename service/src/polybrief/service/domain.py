"""Plain request and result types of the engine (no grpc, no protobuf)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from polybrief.service.models.catalog import ModelSpec

T = TypeVar("T")


class Mode(enum.Enum):
    """How a brief is produced."""

    ABSTRACTIVE = "abstractive"
    EXTRACTIVE = "extractive"


class StepKind(enum.Enum):
    SUMMARIZE = "summarize"
    EXTRACT = "extract"
    TRANSLATE = "translate"


class RouteKind(enum.Enum):
    IDENTITY = "identity"
    DIRECT = "direct"
    MULTILINGUAL = "multilingual"
    PIVOT = "pivot"
    CROSS_LINGUAL = "cross_lingual"  # briefs: a summariser wrote straight in the target


class ModelState(enum.Enum):
    NOT_INSTALLED = "not_installed"
    INSTALLED = "installed"
    LOADED = "loaded"
    FAILED = "failed"


@dataclass(frozen=True)
class Step:
    """One model (or extractive) pass over the text."""

    kind: StepKind
    model: str
    source_language: str
    target_language: str
    segments: int = 0


@dataclass(frozen=True)
class Route:
    """The path an output took, in order of execution."""

    kind: RouteKind | None
    steps: tuple[Step, ...] = ()
    pivot_language: str = ""


@dataclass(frozen=True)
class ItemError:
    """A per-item problem that does not invalidate the whole request."""

    code: str
    message: str
    model: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Detection:
    """Result of language identification for one text."""

    language: str
    confidence: float
    reliable: bool
    candidates: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class PipelineReport:
    input_characters: int = 0
    removed_control_characters: int = 0
    paragraphs: int = 0
    duplicate_paragraphs_removed: int = 0
    duplicate_sentences_removed: int = 0
    sentences: int = 0
    chunks_summarized: int = 0
    reduce_rounds: int = 0


PLAIN, HTML, MARKDOWN = "text/plain", "text/html", "text/markdown"
#: The formats requests may declare (``mime_type``).
MIME_TYPES = (PLAIN, HTML, MARKDOWN)


class WarningCode(enum.Enum):
    """What a QualityWarning says about an output (the proto's ``QualityWarning.code``)."""

    REPETITION = "REPETITION"  # a repeated n-gram loop survived the guard
    LENGTH_RATIO = "LENGTH_RATIO"  # output far longer or shorter than the source
    WRONG_LANGUAGE = "WRONG_LANGUAGE"  # detected output language is not the target
    UNTRANSLATED = "UNTRANSLATED"  # output equals the input where it should not
    LOW_CONFIDENCE = "LOW_CONFIDENCE"  # confidence under the server's threshold
    TERM_NOT_APPLIED = "TERM_NOT_APPLIED"  # a glossary term could not be kept as asked
    REROUTED = "REROUTED"  # the first route's output failed the language check; redone
    MARKUP_FALLBACK = "MARKUP_FALLBACK"  # inline markup translated piece by piece


@dataclass(frozen=True)
class QualityWarning:
    """Something about an output a desk should look at before publishing it."""

    code: WarningCode
    message: str
    segment: int = -1  # index of the segment (sentence or chunk) concerned; -1: the whole
    detected_language: str = ""  # with WRONG_LANGUAGE: what the output looks like


@dataclass(frozen=True)
class GlossaryTerm:
    """A term to keep: ``source`` found in the text becomes ``target`` verbatim, or stays
    ``source`` verbatim when ``target`` is empty (do not translate)."""

    source: str
    target: str = ""

    @property
    def output(self) -> str:
        return self.target or self.source


@dataclass(frozen=True)
class SummarizeRequest:
    """Raw summarisation request; validated by the engine."""

    text: str
    target_languages: tuple[str, ...] = ()
    source_language: str = ""
    max_words: int = 0
    mode: Mode = Mode.ABSTRACTIVE
    model: str = ""
    translation_model: str = ""
    glossary: tuple[GlossaryTerm, ...] = ()
    glossary_ignore_case: bool = False
    mime_type: str = ""


@dataclass(frozen=True, kw_only=True)
class Assessment:
    """How far to trust an output (0..1) and what to check before publishing it; the
    glossary terms (and protected names) found in the source and kept, as output."""

    confidence: float = 0.0
    warnings: tuple[QualityWarning, ...] = ()
    applied_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Brief(Assessment):
    language: str
    text: str
    mode: Mode
    route: Route
    fallback_reason: str = ""
    error: ItemError | None = None


@dataclass(frozen=True)
class SummarizeResult:
    briefs: tuple[Brief, ...]
    source_language: str
    detected: Detection | None
    pipeline: PipelineReport


@dataclass(frozen=True)
class TranslateRequest:
    """Raw translation request; validated by the engine."""

    texts: tuple[str, ...]
    target_language: str
    source_language: str = ""
    model: str = ""
    glossary: tuple[GlossaryTerm, ...] = ()
    glossary_ignore_case: bool = False
    mime_type: str = ""


@dataclass(frozen=True)
class Translation(Assessment):
    text: str
    source_language: str
    route: Route
    detected: Detection | None = None
    error: ItemError | None = None


@dataclass(frozen=True)
class TranslateResult:
    translations: tuple[Translation, ...]
    target_language: str


@dataclass(frozen=True)
class Ready(Generic[T]):
    """A streamed output, complete: the brief (or translation) at ``index`` of the
    request's target languages (or texts)."""

    index: int
    output: T


@dataclass(frozen=True)
class SummaryDone:
    """The last event of a streamed summary: what the whole call reports."""

    source_language: str
    detected: Detection | None
    pipeline: PipelineReport


@dataclass(frozen=True)
class TranslationDone:
    """The last event of a streamed translation."""

    target_language: str


SummarizeEvent = Ready[Brief] | SummaryDone
TranslateEvent = Ready[Translation] | TranslationDone


@dataclass(frozen=True)
class ModelInfo:
    """A catalogue entry and its state in this server; ``max_input_tokens`` is the
    window the engine chunks to."""

    spec: ModelSpec
    state: ModelState
    state_detail: str = ""
    max_input_tokens: int = 0


@dataclass(frozen=True)
class LanguageInfo:
    code: str
    name: str
    translate_source: bool
    translate_target: bool
    summarize_abstractive: bool


@dataclass(frozen=True)
class Limits:
    """Request limits, enforced before any model runs (values: ``Settings``)."""

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
    max_glossary_terms: int
    max_glossary_term_characters: int


@dataclass(frozen=True)
class Capabilities:
    languages: tuple[LanguageInfo, ...]
    models: tuple[ModelInfo, ...]
    limits: Limits
    pivot_language: str


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass(frozen=True)
class Violations:
    """Accumulates field violations while a request is validated."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_name: str, description: str) -> None:
        self.items.append(FieldViolation(field_name, description))
