"""The segment guard: outputs with a repetition loop (or, for translations, a length far
off the source's) are re-decoded, first whole with the backend's careful settings, then in
smaller pieces, and the best candidate by log-probability is kept. Independent of any
model: ``decode`` is any callable from a batch of sources to scored outputs."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from polybrief.service.domain import QualityWarning, WarningCode
from polybrief.service.quality.checks import (
    MAX_LENGTH_RATIO,
    MIN_LENGTH_RATIO,
    find_loop,
    length_ratio,
    length_ratio_ok,
)


@dataclass(frozen=True)
class Scored:
    """An output and its mean log-probability per generated token (natural log)."""

    text: str
    logprob: float


# (sources, retry) -> one output per source, in order; one model batch per call. With
# ``retry`` the backend decodes carefully (beam search, no_repeat_ngram_size,
# repetition_penalty).
Decode = Callable[[Sequence[str], bool], Sequence[Scored]]


@dataclass(frozen=True)
class Guarded:
    """The kept output of one segment, the warnings it still deserves (``segment`` set to
    its index) and how many extra decodes it got (0, 1 or 2)."""

    text: str
    logprob: float
    warnings: tuple[QualityWarning, ...]
    redecodes: int


# Clause boundaries a segment is split at for the last re-decode: after , ; : (and their
# full-width forms, which need no space after them).
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|(?<=[，；：、])\s*")


def split_pieces(source: str) -> list[str]:
    """``source`` in smaller pieces for a last re-decode: its clauses (cut after , ; :),
    else its two halves by words (by characters in a text without spaces). Nothing is
    lost: the pieces are consecutive stretches of ``source`` and only the whitespace at
    the cuts is left out, so ``" ".join(pieces)`` reads as ``source``. A source that
    cannot be cut (one character) is its own only piece."""
    text = source.strip()
    pieces = [p for p in _CLAUSE_END.split(text) if p]
    if len(pieces) > 1:
        return pieces
    words = text.split()
    if len(words) > 1:
        half = len(words) // 2
        cut = _word_offset(text, half)
        return [text[:cut].rstrip(), text[cut:]]
    if len(text) > 1:
        half = len(text) // 2
        return [text[:half], text[half:]]
    return [text] if text else []


def _word_offset(text: str, index: int) -> int:
    """Where word ``index`` (0-based) of ``text`` starts."""
    return [m.start() for m in re.finditer(r"\S+", text)][index]


def _failures(source: str, output: str, kind: str, index: int) -> tuple[QualityWarning, ...]:
    warnings = []
    unit = find_loop(output)
    if unit is not None:
        warnings.append(
            QualityWarning(
                WarningCode.REPETITION,
                f"the output repeats {unit!r} in a loop",
                segment=index,
            )
        )
    if kind == "translate" and not length_ratio_ok(source, output):
        ratio = length_ratio(source, output)
        warnings.append(
            QualityWarning(
                WarningCode.LENGTH_RATIO,
                f"the output is {ratio:.2f}x the length of its source "
                f"(expected {MIN_LENGTH_RATIO:.2f}x to {MAX_LENGTH_RATIO:.2f}x)",
                segment=index,
            )
        )
    return tuple(warnings)


@dataclass(frozen=True)
class _Candidate:
    scored: Scored
    warnings: tuple[QualityWarning, ...]


def _decode(decode: Decode, sources: Sequence[str], retry: bool) -> list[Scored]:
    outputs = list(decode(sources, retry))
    if len(outputs) != len(sources):
        raise ValueError(f"decode returned {len(outputs)} outputs for {len(sources)} sources")
    return outputs


def _joined(outputs: Sequence[Scored]) -> Scored:
    """Pieces' outputs as one: texts joined by a space, log-probabilities averaged
    weighted by output length (a stand-in for their token counts)."""
    text = " ".join(o.text.strip() for o in outputs if o.text.strip())
    weights = [max(1, len(o.text)) for o in outputs]
    logprob = sum(o.logprob * w for o, w in zip(outputs, weights, strict=True)) / sum(weights)
    return Scored(text, logprob)


def _best(candidates: Sequence[_Candidate]) -> _Candidate:
    """The passing candidate with the best log-probability, else the best of all (the
    first on a tie: the earlier, cheaper decode)."""
    passing = [c for c in candidates if not c.warnings]
    pool = passing or list(candidates)
    return max(pool, key=lambda c: c.scored.logprob)


def guard(
    sources: Sequence[str],
    decode: Decode,
    *,
    kind: str,
    source_language: str,
    target_language: str,
) -> list[Guarded]:
    """Decodes ``sources`` (one call), re-decodes only the segments whose output fails a
    check (a loop; for ``kind == "translate"`` also the length ratio) in one call with
    ``retry``, and those still failing once more cut in pieces (``split_pieces``; all
    their pieces in one call, outputs joined by a space). Each segment keeps its passing
    candidate with the best log-probability, else its best candidate with that one's
    warnings. A segment that passed at once is returned as decoded; empty or
    whitespace-only sources are returned as they are without decoding (log-prob 0)."""
    del source_language, target_language  # the checks are script-weighted, pair-free
    live = [i for i, s in enumerate(sources) if s.strip()]
    candidates: dict[int, list[_Candidate]] = {}
    redecodes = dict.fromkeys(live, 0)
    if live:
        first = _decode(decode, [sources[i] for i in live], False)
        for i, out in zip(live, first, strict=True):
            candidates[i] = [_Candidate(out, _failures(sources[i], out.text, kind, i))]

    def failing() -> list[int]:
        return [i for i in live if all(c.warnings for c in candidates[i])]

    retry = failing()
    if retry:
        again = _decode(decode, [sources[i] for i in retry], True)
        for i, out in zip(retry, again, strict=True):
            candidates[i].append(_Candidate(out, _failures(sources[i], out.text, kind, i)))
            redecodes[i] += 1
    split = {i: split_pieces(sources[i]) for i in failing()}
    split = {i: pieces for i, pieces in split.items() if len(pieces) > 1}
    if split:
        flat = [piece for pieces in split.values() for piece in pieces]
        outputs = iter(_decode(decode, flat, True))
        for i, pieces in split.items():
            out = _joined([next(outputs) for _ in pieces])
            candidates[i].append(_Candidate(out, _failures(sources[i], out.text, kind, i)))
            redecodes[i] += 1

    results = []
    for i, source in enumerate(sources):
        if i not in candidates:
            results.append(Guarded(source, 0.0, (), 0))
            continue
        best = _best(candidates[i])
        results.append(Guarded(best.scored.text, best.scored.logprob, best.warnings, redecodes[i]))
    return results
