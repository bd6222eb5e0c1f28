"""Result types of the client: plain frozen dataclasses mirroring the proto responses.

Enum values are lower-case strings: modes "abstractive"/"extractive"; step kinds
"summarize"/"extract"/"translate"; route kinds "identity"/"direct"/"multilingual"/"pivot"
("" when unset); model states "not_installed"/"installed"/"loaded"/"failed".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    kind: str
    model: str
    source_language: str
    target_language: str
    segments: int


@dataclass(frozen=True)
class Route:
    kind: str
    steps: tuple[Step, ...]
    pivot_language: str


@dataclass(frozen=True)
class ItemError:
    """Why one brief or translation could not be produced (the others are unaffected)."""

    code: str
    message: str
    model: str
    hint: str


@dataclass(frozen=True)
class DetectedLanguage:
    language: str
    confidence: float
    reliable: bool
    candidates: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PipelineReport:
    input_characters: int
    removed_control_characters: int
    paragraphs: int
    duplicate_paragraphs_removed: int
    duplicate_sentences_removed: int
    sentences: int
    chunks_summarized: int
    reduce_rounds: int


@dataclass(frozen=True)
class Brief:
    language: str
    text: str
    mode: str
    fallback_reason: str
    route: Route
    error: ItemError | None


@dataclass(frozen=True)
class SummarizeResult:
    briefs: tuple[Brief, ...]
    source_language: str
    detected_language: DetectedLanguage | None
    pipeline: PipelineReport


@dataclass(frozen=True)
class Translation:
    text: str
    source_language: str
    detected_language: DetectedLanguage | None
    route: Route
    error: ItemError | None


@dataclass(frozen=True)
class LanguagePair:
    source_language: str
    target_language: str


@dataclass(frozen=True)
class ModelInfo:
    id: str
    family: str
    tasks: tuple[str, ...]
    source: str
    revision: str
    license: str
    pairs: tuple[LanguagePair, ...]
    summary_languages: tuple[str, ...]
    languages: tuple[str, ...]
    state: str
    state_detail: str
    max_input_tokens: int


@dataclass(frozen=True)
class LanguageInfo:
    code: str
    name: str
    translate_source: bool
    translate_target: bool
    summarize_abstractive: bool


@dataclass(frozen=True)
class Limits:
    max_text_characters: int
    max_translate_items: int
    max_item_characters: int
    max_total_characters: int
    max_target_languages: int
    min_words: int
    max_words: int
    default_words: int
    max_receive_message_bytes: int


@dataclass(frozen=True)
class Capabilities:
    languages: tuple[LanguageInfo, ...]
    models: tuple[ModelInfo, ...]
    limits: Limits
    pivot_language: str
