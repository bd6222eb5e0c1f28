"""Request validation: every limit and field rule of the contract, checked before any
model runs. Raises InvalidRequest listing every offending field at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from polybrief.service.domain import (
    MIME_TYPES,
    PLAIN,
    GlossaryTerm,
    Limits,
    Mode,
    SummarizeRequest,
    TranslateRequest,
    Violations,
)
from polybrief.service.errors import InvalidRequest
from polybrief.service.languages import LanguageCodeError, normalize_code
from polybrief.service.text.clean import Cleaned, clean, has_content


@dataclass(frozen=True)
class CleanSummarize:
    """A validated summarisation request: cleaned text, normalised codes, defaults applied,
    and what the clean-up did."""

    text: str
    removed_control_characters: int
    input_characters: int
    target_languages: tuple[str, ...]
    source_language: str
    max_words: int
    mode: Mode
    model: str
    translation_model: str
    glossary: tuple[GlossaryTerm, ...]
    glossary_ignore_case: bool
    mime_type: str


def _language(raw: str, field_name: str, violations: Violations, *, required: bool) -> str:
    if not raw:
        if required:
            violations.add(field_name, "required: a language code such as 'fr'")
        return ""
    try:
        return normalize_code(raw)
    except LanguageCodeError as exc:
        violations.add(field_name, str(exc))
        return ""


def _text(
    raw: str, field_name: str, max_chars: int, violations: Violations, *, markup: bool = False
) -> Cleaned:
    """The cleaned text (its whitespace kept when it is ``markup``). One without letters
    or digits passes: translation returns it unchanged; summarisation refuses it itself."""
    cleaned = clean(raw, markup=markup)
    if not cleaned.text.strip():
        violations.add(field_name, "must not be empty or whitespace only")
    if len(cleaned.text) > max_chars:
        violations.add(
            field_name,
            f"{len(cleaned.text)} characters; the limit is {max_chars} (split the input)",
        )
    return cleaned


def _texts(
    raw: Sequence[str], limits: Limits, violations: Violations, *, markup: bool = False
) -> list[str]:
    """The cleaned items of a ``texts`` field (translation, detection)."""
    if not raw:
        violations.add("texts", "at least one text is required")
    if len(raw) > limits.max_translate_items:
        violations.add("texts", f"{len(raw)} items; at most {limits.max_translate_items}")
    return [
        _text(item, f"texts[{index}]", limits.max_item_characters, violations, markup=markup).text
        for index, item in enumerate(raw[: limits.max_translate_items])
    ]


def _term_text(raw: str, field_name: str, limit: int, violations: Violations) -> str:
    """A glossary term's source or target, cleaned like a text, within ``limit``."""
    text = clean(raw).text
    if len(text) > limit:
        violations.add(field_name, f"{len(text)} characters; the limit is {limit}")
    return text


def _glossary(
    raw: Sequence[GlossaryTerm], ignore_case: bool, limits: Limits, violations: Violations
) -> tuple[GlossaryTerm, ...]:
    """The cleaned terms of a ``glossary`` field: at most ``max_glossary_terms``, each
    source non-empty and unique (case-insensitively with ``ignore_case``), source and
    target within ``max_glossary_term_characters`` and the item limit."""
    if len(raw) > limits.max_glossary_terms:
        violations.add("glossary", f"{len(raw)} terms; at most {limits.max_glossary_terms}")
    limit = min(limits.max_glossary_term_characters, limits.max_item_characters)
    terms: list[GlossaryTerm] = []
    first: dict[str, int] = {}  # source (case-folded with ignore_case) → first index
    for index, term in enumerate(raw[: limits.max_glossary_terms]):
        where = f"glossary[{index}]"
        source = _term_text(term.source, f"{where}.source", limit, violations)
        target = _term_text(term.target, f"{where}.target", limit, violations)
        key = source.casefold() if ignore_case else source
        if not source:
            violations.add(f"{where}.source", "must not be empty or whitespace only")
        elif key in first:
            case = " (ignoring case)" if ignore_case else ""
            violations.add(f"{where}.source", f"duplicate of glossary[{first[key]}]{case}")
        else:
            first[key] = index
        terms.append(GlossaryTerm(source, target))
    return tuple(terms)


def validate_summarize(request: SummarizeRequest, limits: Limits) -> CleanSummarize:
    """Normalises a summarisation request or raises InvalidRequest."""
    v = Violations()
    mime_type = _mime_type(request.mime_type, v)
    markup = mime_type != PLAIN
    cleaned = _text(request.text, "text", limits.max_text_characters, v, markup=markup)
    text = cleaned.text
    if text.strip() and not has_content(text):
        v.add("text", "has no letters or digits: nothing to summarise")
    targets: list[str] = []
    if len(request.target_languages) > limits.max_target_languages:
        v.add(
            "target_languages",
            f"{len(request.target_languages)} languages; at most {limits.max_target_languages}",
        )
    for index, raw in enumerate(request.target_languages[: limits.max_target_languages]):
        code = _language(raw, f"target_languages[{index}]", v, required=True)
        if code and code in targets:
            v.add(f"target_languages[{index}]", f"duplicate language {code!r}")
        elif code:
            targets.append(code)
    source = _language(request.source_language, "source_language", v, required=False)
    words = request.max_words or limits.default_words
    if not limits.min_words <= words <= limits.max_words:
        v.add("max_words", f"{words} is out of range {limits.min_words}..{limits.max_words}")
    glossary = _glossary(request.glossary, request.glossary_ignore_case, limits, v)
    if v.items:
        raise InvalidRequest(v.items)
    return CleanSummarize(
        text=text,
        removed_control_characters=cleaned.removed_control_characters,
        input_characters=len(request.text),
        target_languages=tuple(targets),
        source_language=source,
        max_words=words,
        mode=request.mode,
        model=request.model.strip(),
        translation_model=request.translation_model.strip(),
        glossary=glossary,
        glossary_ignore_case=request.glossary_ignore_case,
        mime_type=mime_type,
    )


def validate_translate(request: TranslateRequest, limits: Limits) -> TranslateRequest:
    """The request with its texts cleaned and its codes normalised, or InvalidRequest."""
    v = Violations()
    mime_type = _mime_type(request.mime_type, v)
    texts = _texts(request.texts, limits, v, markup=mime_type != PLAIN)
    total = sum(len(text) for text in texts)
    if total > limits.max_total_characters:
        v.add("texts", f"{total} characters in total; the limit is {limits.max_total_characters}")
    target = _language(request.target_language, "target_language", v, required=True)
    source = _language(request.source_language, "source_language", v, required=False)
    glossary = _glossary(request.glossary, request.glossary_ignore_case, limits, v)
    if v.items:
        raise InvalidRequest(v.items)
    return TranslateRequest(
        texts=tuple(texts),
        target_language=target,
        source_language=source,
        model=request.model.strip(),
        glossary=glossary,
        glossary_ignore_case=request.glossary_ignore_case,
        mime_type=mime_type,
    )


def _mime_type(raw: str, v: Violations) -> str:
    """The declared format, normalised ("" → text/plain; parameters and case dropped)."""
    value = raw.split(";", 1)[0].strip().lower() or PLAIN
    if value not in MIME_TYPES:
        v.add("mime_type", f"{raw!r} is not one of {', '.join(MIME_TYPES)}")
    return value


def validate_detect(texts: tuple[str, ...], limits: Limits) -> tuple[str, ...]:
    """Cleans texts for language detection or raises InvalidRequest."""
    v = Violations()
    cleaned = _texts(texts, limits, v)
    if v.items:
        raise InvalidRequest(v.items)
    return tuple(cleaned)
