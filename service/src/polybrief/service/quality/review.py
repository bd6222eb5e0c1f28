"""Checks of a whole output against its source, after the segment guard: the wrong
language, a copy of the input, low confidence, glossary terms missing."""

from __future__ import annotations

from collections.abc import Sequence

from polybrief.service.domain import Detection, QualityWarning, WarningCode
from polybrief.service.quality.checks import is_untranslated


def base_language(code: str) -> str:
    """``zh-Hant`` → ``zh``: the part a language detector can tell apart."""
    return code.split("-", 1)[0].split("_", 1)[0].lower()


def wrong_language(detected: Detection | None, target: str) -> bool:
    """Whether a reliable detection says the output is not in ``target``; outputs too
    short for the detector to judge are never wrong."""
    return (
        detected is not None
        and detected.reliable
        and base_language(detected.language) != base_language(target)
    )


def review(
    source_text: str,
    output: str,
    *,
    source_language: str,
    target_language: str,
    confidence: float,
    detected: Detection | None,
    low_confidence: float,
    expected_terms: Sequence[str] = (),
) -> list[QualityWarning]:
    """The whole-output warnings of ``output`` (``segment`` -1): WRONG_LANGUAGE (with the
    detected language), UNTRANSLATED, LOW_CONFIDENCE and TERM_NOT_APPLIED for every
    expected term output not found verbatim."""
    warnings = []
    if wrong_language(detected, target_language) and detected is not None:
        warnings.append(
            QualityWarning(
                WarningCode.WRONG_LANGUAGE,
                f"the output reads as {detected.language!r} "
                f"({detected.confidence:.2f}), not {target_language!r}",
                detected_language=detected.language,
            )
        )
    if is_untranslated(source_text, output, source_language, target_language):
        warnings.append(
            QualityWarning(
                WarningCode.UNTRANSLATED,
                f"the output is the input unchanged ({source_language} → {target_language})",
            )
        )
    if confidence < low_confidence:
        warnings.append(
            QualityWarning(
                WarningCode.LOW_CONFIDENCE,
                f"confidence {confidence:.2f} is under {low_confidence:.2f}",
            )
        )
    for term in dict.fromkeys(expected_terms):
        if term not in output:
            warnings.append(
                QualityWarning(
                    WarningCode.TERM_NOT_APPLIED, f"the term {term!r} is not in the output"
                )
            )
    return warnings
