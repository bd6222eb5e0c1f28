"""Checks of one model output against its source, true of the text alone (no model): a
repetition loop, a length far off the source's, an output that is the input unchanged,
and the confidence read from the log-probability of what the model generated."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

# --- repetition loops ----------------------------------------------------------------

# A word n-gram (n = 1..MAX_LOOP_WORDS) repeated back to back at least this many times is
# a loop. One word needs 4 ("ha ha ha" and "no, no, no" are human; "the the the the" is
# not), a phrase 3 ("in the city in the city in the city": no writer does that, and
# "again and again and again" is only 2 repeats of "again and").
MAX_LOOP_WORDS = 6
MIN_WORD_REPEATS = 4
MIN_PHRASE_REPEATS = 3
# Inside a run of characters without spaces (CJK, Thai, or the tiny models' "clclcl"): a
# unit of 2 to MAX_LOOP_CHARS characters repeated at least MIN_CHAR_REPEATS times over at
# least MIN_CHAR_RUN weighted characters (an ideograph, kana or hangul syllable weighs 2,
# like two letters), or one letter MIN_SINGLE_CHAR_REPEATS times in a row, which no word
# of any language has ("óóóóóóóóó"). So "你好你好你好" (12) and "clclclclclcl" are loops;
# "哈哈哈哈", "hahaha", "banana", "Mississippi", "1000000" and "Goooooal" are not.
MAX_LOOP_CHARS = 20
MIN_CHAR_REPEATS = 3
MIN_SINGLE_CHAR_REPEATS = 8
MIN_CHAR_RUN = 10

_DENSE = re.compile(
    r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)


def _weight(text: str) -> int:
    return len(text) + len(_DENSE.findall(text))


def _norm_word(word: str) -> str:
    """A word as loops compare it: case-folded, without the punctuation around it."""
    stripped = "".join(c for c in word if c.isalnum())
    return stripped.casefold() if stripped else word


def _strip_punctuation(unit: str) -> str:
    start, end = 0, len(unit)
    while start < end and not unit[start].isalnum():
        start += 1
    while end > start and not unit[end - 1].isalnum():
        end -= 1
    return unit[start:end]


def _period_runs(items: Sequence[str], period: int) -> list[tuple[int, int]]:
    """(start, length) of every maximal stretch of ``items`` with this period, as
    ``items[start : start + length]`` where ``items[i] == items[i + period]`` throughout."""
    runs = []
    start = -1
    for i in range(len(items) - period):
        if items[i] == items[i + period]:
            if start < 0:
                start = i
        elif start >= 0:
            runs.append((start, i - start + period))
            start = -1
    if start >= 0:
        runs.append((start, len(items) - start))
    return runs


def _word_loop(text: str) -> str | None:
    words = text.split()
    keys = [_norm_word(w) for w in words]
    for n in range(1, MAX_LOOP_WORDS + 1):
        needed = MIN_WORD_REPEATS if n == 1 else MIN_PHRASE_REPEATS
        for start, length in _period_runs(keys, n):
            unit = words[start : start + n]
            if length // n >= needed and any(c.isalpha() for w in unit for c in w):
                return _strip_punctuation(" ".join(unit))
    return None


def _char_loop(text: str) -> str | None:
    for run in text.split():
        if len(run) < MIN_SINGLE_CHAR_REPEATS and _weight(run) < MIN_CHAR_RUN:
            continue
        for n in range(1, min(MAX_LOOP_CHARS, len(run) // 2) + 1):
            needed = MIN_SINGLE_CHAR_REPEATS if n == 1 else MIN_CHAR_REPEATS
            for start, length in _period_runs(run, n):
                unit = run[start : start + n]
                repeats = length // n
                long_enough = n == 1 or _weight(unit) * repeats >= MIN_CHAR_RUN
                if repeats >= needed and long_enough and any(c.isalpha() for c in unit):
                    return unit
    return None


def find_loop(text: str) -> str | None:
    """The repeated unit of a repetition loop anywhere in ``text``, else None: a word or
    phrase of up to ``MAX_LOOP_WORDS`` words repeated back to back (words compared
    case-folded, without surrounding punctuation; the unit is returned as first written,
    less the punctuation around it),
    or, inside a run without spaces, a unit of up to ``MAX_LOOP_CHARS`` characters. The
    smallest unit is reported ("the", not "the the")."""
    return _word_loop(text) or _char_loop(text)


# --- length ratio --------------------------------------------------------------------

# Output length over source length, both in script-weighted characters (letters and
# digits only: spaces and punctuation do not count). A Han ideograph carries about as
# much as three Latin letters, kana and hangul syllables about two, so "Hello world" and
# "你好世界" weigh alike. Measured so, human translations between any two languages stay
# within about 0.5-2x (en→de ≈ 1.2, en→fr ≈ 1.15, en→zh ≈ 1); the bounds leave room for
# the noise of single sentences, and 3x is also what Marian's decoder allows itself. Past
# them the model stopped after a word or ran on.
MIN_LENGTH_RATIO = 1 / 3
MAX_LENGTH_RATIO = 3.0
# A source under this weight (about four words) is too short for a ratio: "Yes." → "Oui."
# or "NATO" → "l'OTAN" must not be flagged. Its output is still held to MAX_LENGTH_RATIO
# times this floor (about a dozen words), which no translation of four words needs.
MIN_SOURCE_WEIGHT = 20

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\uac00-\ud7af]")


def _length(text: str) -> float:
    """Letters and digits of ``text``, a Han ideograph weighing 3, a kana or hangul 2."""
    plain = sum(c.isalnum() for c in text)
    return float(plain + 2 * len(_HAN.findall(text)) + len(_KANA_HANGUL.findall(text)))


def length_ratio(source: str, output: str) -> float:
    """Script-weighted length of ``output`` over that of ``source`` (1.0 when both are
    empty, ``inf`` for an output of an empty source)."""
    src, out = _length(source), _length(output)
    if src == 0:
        return 1.0 if out == 0 else math.inf
    return out / src


def length_ratio_ok(
    source: str, output: str, source_language: str = "", target_language: str = ""
) -> bool:
    """Whether a translation's length is plausible for its source: within
    ``MIN_LENGTH_RATIO``..``MAX_LENGTH_RATIO``, the lower bound waived for sources under
    ``MIN_SOURCE_WEIGHT``. The weighting by script makes the bounds hold for any pair, so
    the languages are not needed today (they are taken for pair-specific bounds)."""
    del source_language, target_language
    src, out = _length(source), _length(output)
    if src < MIN_SOURCE_WEIGHT:
        return out <= MAX_LENGTH_RATIO * MIN_SOURCE_WEIGHT
    return MIN_LENGTH_RATIO <= out / src <= MAX_LENGTH_RATIO


# --- untranslated ----------------------------------------------------------------------

# Fewer words than this are never "untranslated": single words are often the same in both
# languages ("Internet", "taxi", "Hotel").
MIN_UNTRANSLATED_WORDS = 2
_PARTICLES = "de du des la le van von der den al el bin ibn da di dos das del della y of the and"
_NAME_PARTICLES = frozenset(_PARTICLES.split())


def _normalized(text: str) -> str:
    """Case-folded, without spaces or punctuation: what "equal" means for a copy."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if c.isalnum())


def _names_only(text: str) -> bool:
    """Every word is a number, a capitalised word or acronym, or a name particle:
    "Vladimir Putin", "NATO", "Charles de Gaulle", "2024"."""
    for word in text.split():
        letters = [c for c in word if c.isalpha()]
        if not letters:
            continue
        if not letters[0].isupper() and _normalized(word) not in _NAME_PARTICLES:
            return False
    return True


def _words(text: str) -> int:
    if _DENSE.search(text) or re.search(r"[\u0e00-\u0eff\u1780-\u17ff]", text):
        return math.ceil(sum(c.isalnum() for c in text) / 2)
    return len(text.split())


def is_untranslated(source: str, output: str, source_language: str, target_language: str) -> bool:
    """Whether ``output`` is ``source`` unchanged (up to case, spaces and punctuation)
    where it should have been translated: the languages differ, the source has letters,
    at least ``MIN_UNTRANSLATED_WORDS`` words, and is not names and numbers only (those
    are rightly kept: "Vladimir Putin", "NATO 2024")."""
    if not source_language or source_language == target_language:
        return False
    if not any(c.isalpha() for c in source) or _words(source) < MIN_UNTRANSLATED_WORDS:
        return False
    if _names_only(source):
        return False
    return _normalized(source) == _normalized(output)


# --- confidence ------------------------------------------------------------------------


def confidence(mean_logprob: float) -> float:
    """0..1 from the length-normalised log-probability of an output (the mean natural
    log-probability per generated token): its exponential, the geometric mean of the
    token probabilities, clipped to [0, 1] (NaN gives 0)."""
    if math.isnan(mean_logprob):
        return 0.0
    if mean_logprob >= 0:
        return 1.0
    return math.exp(mean_logprob)


def combine(confidences: Sequence[float], weights: Sequence[float]) -> float:
    """The confidence of an output made of several segments: their confidences averaged,
    weighted by ``weights`` (the segments' lengths; negative weights count as 0). Equal
    weights when they are all 0; 1.0 when there is no segment (nothing was generated)."""
    if len(confidences) != len(weights):
        raise ValueError(f"{len(confidences)} confidences but {len(weights)} weights")
    if not confidences:
        return 1.0
    clipped = [max(0.0, float(w)) for w in weights]
    total = sum(clipped)
    if total == 0:
        return sum(confidences) / len(confidences)
    return sum(c * w for c, w in zip(confidences, clipped, strict=True)) / total
