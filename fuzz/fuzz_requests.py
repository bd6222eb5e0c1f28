"""Coverage-guided fuzz target (atheris/libFuzzer) for request decoding, validation and
the text pipeline, in-process: no server, no models.

The first byte of an input picks what the rest is fed to:

0-2  the bytes as a serialized SummarizeRequest / TranslateRequest / DetectLanguageRequest:
     the server's lenient decoder (api/wire.py), then convert (api/convert.py) and
     validate (validation.py); a request that validates is run through the text pipeline
     (clean-up, paragraphs and sentences, extractive selection, chunking, language
     detection) as the engine would before any model runs.
3    strings made from the bytes through the text pipeline directly (lone surrogates
     included: a Python str can hold them), checking the documented invariants: clean-up
     is idempotent, sentence splitting and chunk packing lose no non-whitespace
     character, chunks fit the window.
4    a string as a language code.

Expected outcomes are the domain's: InvalidRequest (a field violation), LanguageCodeError
(a bad code), an Undecodable request. Any other exception, or a broken invariant, is a
crash that libFuzzer reports and saves.

    .venv/bin/python fuzz/fuzz_requests.py -runs=2000                   # bounded run
    .venv/bin/python fuzz/fuzz_requests.py /tmp/corpus fuzz/corpus      # open-ended,
        # new inputs go to the first directory; fuzz/corpus holds the seeds

Any libFuzzer flag works (-runs, -max_total_time, -max_len, -seed, -artifact_prefix...).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar

# atheris ships no type information (types-atheris covers only Setup/Fuzz/Mutate).
atheris: Any = importlib.import_module("atheris")

with atheris.instrument_imports(include=["polybrief"]):
    import grpc
    from google.protobuf import message
    from polybrief.service.api import convert
    from polybrief.service.api.status import to_status
    from polybrief.service.api.wire import Undecodable, lenient
    from polybrief.service.domain import Limits
    from polybrief.service.errors import InvalidRequest
    from polybrief.service.languages import LanguageCodeError, normalize_code
    from polybrief.service.server.compose import limits
    from polybrief.service.settings import Settings
    from polybrief.service.text.chunking import pack
    from polybrief.service.text.clean import clean, has_content
    from polybrief.service.text.detect import detect_language
    from polybrief.service.text.extractive import extract
    from polybrief.service.text.segment import build_document, split_sentences
    from polybrief.service.validation import (
        validate_detect,
        validate_summarize,
        validate_translate,
    )
    from polybrief.v1 import polybrief_pb2 as pb

LIMITS = limits(Settings())
LANGUAGES = ("en", "fr", "ru", "de", "zh", "ja", "th", "hi", "ar", "am", "el", "ur", "yue", "zu")
MAX_TEXT = 3_000  # characters of a text run through pysbd (kept short: iterations stay fast)
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
M = TypeVar("M", bound="message.Message")
R = TypeVar("R")
T = TypeVar("T")


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: one special token, then one token per 4 characters of a word."""
    return 1 + sum(1 + len(word) // 4 for word in text.split())


def _non_space(texts: list[str] | tuple[str, ...]) -> str:
    return "".join("".join(t.split()) for t in texts)


def check_pipeline(text: str, language: str, max_words: int, window: int) -> None:
    """The pipeline on one text, with its documented invariants."""
    cleaned = clean(text).text
    assert clean(cleaned).text == cleaned, "clean() is not idempotent"
    if not has_content(cleaned):
        return
    sample = cleaned[:MAX_TEXT]
    sentences = split_sentences(sample, language)
    assert _non_space(sentences) == _non_space([sample]), "split_sentences lost characters"
    document = build_document(sample, language)
    chosen = extract(document.sentences, max_words)
    assert chosen or not document.sentences, "extract() returned nothing for sentences"
    chunks = pack(sentences, count_tokens, window)
    assert _non_space([c.text for c in chunks]) == _non_space(sentences), "pack() lost text"
    for chunk in chunks:
        assert count_tokens(chunk.text) <= window or len(chunk.text) == 1, "chunk over window"
    detection = detect_language(text)
    assert 0.0 <= detection.confidence <= 1.0
    assert len(detection.candidates) <= 3


def _refused(error: InvalidRequest) -> None:
    """A refusal must name at least one field and map to INVALID_ARGUMENT."""
    assert error.violations, "refused without naming a field"
    assert to_status(error).code == INVALID_ARGUMENT


def _request(
    data: bytes,
    kind: type[M],
    to_domain: Callable[[M], R],
    validate: Callable[[R, Limits], T],
) -> T | None:
    """``data`` decoded as ``kind`` by the server's lenient decoder, converted and validated
    as the servicer and engine do; None when the decoder (Undecodable) or the validation
    (InvalidRequest) refused it."""
    decoded = lenient(kind)(data)
    if isinstance(decoded, Undecodable):
        _refused(InvalidRequest(decoded.violations))
        return None
    try:
        return validate(to_domain(decoded), LIMITS)
    except InvalidRequest as exc:
        _refused(exc)
        return None


def fuzz_summarize(data: bytes) -> None:
    req = _request(data, pb.SummarizeRequest, convert.summarize_request, validate_summarize)
    if req is not None:
        check_pipeline(req.text, req.source_language or "en", req.max_words, 16)


def fuzz_translate(data: bytes) -> None:
    req = _request(data, pb.TranslateRequest, convert.translate_request, validate_translate)
    if req is not None:
        for text in req.texts[:4]:
            check_pipeline(text, req.source_language or "en", 60, 16)


def fuzz_detect(data: bytes) -> None:
    texts = _request(data, pb.DetectLanguageRequest, lambda msg: tuple(msg.texts), validate_detect)
    for text in (texts or ())[:4]:
        detection = detect_language(text)
        assert 0.0 <= detection.confidence <= 1.0


def fuzz_text(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    language = LANGUAGES[fdp.ConsumeIntInRange(0, len(LANGUAGES) - 1)]
    max_words = fdp.ConsumeIntInRange(1, 400)
    window = fdp.ConsumeIntInRange(1, 64)
    text = fdp.ConsumeUnicode(fdp.remaining_bytes())
    check_pipeline(text, language, max_words, window)


def fuzz_language(data: bytes) -> None:
    code = atheris.FuzzedDataProvider(data).ConsumeUnicode(64)
    try:
        normalized = normalize_code(code)
    except LanguageCodeError:
        return
    assert normalized == normalized.lower()
    assert normalize_code(normalized) == normalized, "normalize_code is not idempotent"


TARGETS: tuple[Callable[[bytes], None], ...] = (
    fuzz_summarize,
    fuzz_translate,
    fuzz_detect,
    fuzz_text,
    fuzz_language,
)


def one_input(data: bytes) -> None:
    """libFuzzer's entry point: the first byte picks the target, the rest is its input."""
    if not data:
        return
    TARGETS[data[0] % len(TARGETS)](data[1:])


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
