"""The model-independent core of output quality (``polybrief.service.quality``): the
checks, the re-decoding guard against deterministic fake backends, glossary terms kept
verbatim (masking and its fallback), and names."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polybrief.service.domain import GlossaryTerm, QualityWarning, WarningCode
from polybrief.service.quality.checks import (
    MAX_LENGTH_RATIO,
    MIN_LENGTH_RATIO,
    combine,
    confidence,
    find_loop,
    is_untranslated,
    length_ratio,
    length_ratio_ok,
)
from polybrief.service.quality.glossary import (
    SENTINELS,
    Match,
    apply_terms,
    find_terms,
    pick_sentinel,
    term_output,
)
from polybrief.service.quality.guard import Scored, guard, split_pieces
from polybrief.service.quality.names import find_names

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "afp-putin-hollande.txt"
SHARED_SEED = ROOT.parent / "shared" / "seed" / "afp-putin-hollande.txt"

# --- find_loop -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        # word loops
        ("the the the the", "the"),
        ("He said the the the the the the the", "the"),
        ("in the city in the city in the city", "in the city"),
        ("In the city, in the city, in the city, in the", "In the city"),
        ("a b c a b c a b c", "a b c"),
        ("one two three four five six " * 3, "one two three four five six"),
        ("Le président a dit que que que que que", "que"),
        ("Hello. Hello. Hello. Hello.", "Hello"),
        ("la la la la la", "la"),
        ("你好 你好 你好 你好", "你好"),
        ("Путин сказал сказал сказал сказал", "сказал"),
        # character loops, in runs without spaces
        ("你好你好你好", "你好"),
        ("你好" * 256, "你好"),
        ("我们我们我们", "我们"),
        ("clclclclclclclclclclcl", "cl"),
        ("output: clclclclclclclcl", "cl"),
        ("thethethethe", "the"),
        ("aaaaaaaaaaaaaaaaaaaaa", "a"),
        ("утиутиóóóóóóóóó", "ó"),  # a tiny model's: one letter 9 times in a short run
        ("ありがとうありがとうありがとう", "ありがとう"),
    ],
)
def test_find_loop_finds(text: str, unit: str) -> None:
    assert find_loop(text) == unit


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "very very good",
        "ha ha",
        "ha ha ha",
        "hahaha",
        "1, 2, 3, 4",
        "0 0 0 0 0 0",
        "the the",
        "It is what it is.",
        "again and again and again",
        "Bora Bora",
        "New York, New York",
        "...",
        "- - - - -",
        "* * * *",
        "banana",
        "Mississippi",
        "1000000",
        "100000000000000",
        "Goooal",
        "Goooooal",
        "谢谢谢谢",
        "哈哈哈哈",
        "www.example.com",
        "President Vladimir Putin on Tuesday ordered the Russian navy to work with the French.",
        "Putin and Hollande agreed; Putin said Putin would call Hollande.",
        "普京总统周二命令俄罗斯海军与法国海军建立联系。",
    ],
)
def test_find_loop_ignores(text: str) -> None:
    assert find_loop(text) is None


def test_find_loop_on_the_seed_article() -> None:
    # the seed repeats its whole body once: a repeated paragraph is not a loop
    assert find_loop(SEED.read_text(encoding="utf-8")) is None


# --- length ratio ----------------------------------------------------------------------

LONG_EN = "President Vladimir Putin on Tuesday ordered the Russian navy to work with France."


@pytest.mark.parametrize(
    ("source", "output", "ok"),
    [
        (LONG_EN, "Le président Vladimir Poutine a ordonné mardi à la marine de coopérer.", True),
        (LONG_EN, "Президент Владимир Путин во вторник приказал флоту работать с Францией.", True),
        (LONG_EN, "普京总统周二命令俄罗斯海军与法国合作。", True),  # Han weighs 3
        (LONG_EN, "プーチン大統領は火曜日、ロシア海軍にフランスと協力するよう命じた。", True),
        (LONG_EN, "Le", False),  # stopped early
        (LONG_EN, "Le président.", False),
        (LONG_EN, LONG_EN * 4, False),  # ran on
        (LONG_EN, LONG_EN * 2, True),
        ("普京总统周二命令俄罗斯海军与法国合作。", LONG_EN, True),
        # short sources: no lower bound, only a cap of MAX_LENGTH_RATIO x the floor
        ("Yes.", "Oui.", True),
        ("NATO", "l'OTAN", True),
        ("Hi", "", True),
        ("Hello", "Bonjour à tous, et bienvenue", True),
        ("Hello", "你好" * 40, False),
        ("Hello", "bonjour " * 20, False),
        ("", "", True),
    ],
)
def test_length_ratio_ok(source: str, output: str, ok: bool) -> None:
    assert length_ratio_ok(source, output, "en", "fr") is ok


def test_length_ratio_values() -> None:
    assert length_ratio("Hello world", "Hello world!") == 1.0  # punctuation, spaces: 0
    assert length_ratio("abcdef", "abc") == 0.5
    assert length_ratio("Hello world", "你好世界") == pytest.approx(12 / 10)
    assert length_ratio("", "") == 1.0
    assert math.isinf(length_ratio("", "x"))
    assert MIN_LENGTH_RATIO < 1 < MAX_LENGTH_RATIO


# --- untranslated ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "output", "languages", "flagged"),
    [
        ("The navy will sail.", "The navy will sail.", ("en", "fr"), True),
        ("The navy will sail.", "the  navy will sail", ("en", "fr"), True),  # case, punct.
        ("The navy will sail.", "« The navy will sail ! »", ("en", "fr"), True),
        ("The navy will sail.", "La marine va appareiller.", ("en", "fr"), False),
        ("The navy will sail.", "The navy will sail.", ("en", "en"), False),  # same language
        ("The navy will sail.", "The navy will sail.", ("", "fr"), False),  # unknown source
        ("NATO", "NATO", ("en", "fr"), False),
        ("2024", "2024", ("en", "fr"), False),
        ("Vladimir Putin", "Vladimir Putin", ("en", "fr"), False),
        ("Charles de Gaulle", "Charles de Gaulle", ("en", "ru"), False),
        ("NATO 2024, G7", "NATO 2024, G7", ("en", "fr"), False),
        ("Internet", "Internet", ("en", "fr"), False),  # one word: often the same
        ("普京总统周二命令海军", "普京总统周二命令海军", ("zh", "en"), True),
        ("Путин сказал это", "Путин сказал это", ("ru", "en"), True),
    ],
)
def test_is_untranslated(
    source: str, output: str, languages: tuple[str, str], flagged: bool
) -> None:
    assert is_untranslated(source, output, *languages) is flagged


# --- confidence ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logprob", "expected"),
    [
        (0.0, 1.0),
        (0.3, 1.0),  # clipped
        (math.log(0.5), 0.5),
        (-1.0, math.exp(-1.0)),
        (-50.0, math.exp(-50.0)),
        (-math.inf, 0.0),
        (math.nan, 0.0),
    ],
)
def test_confidence(logprob: float, expected: float) -> None:
    assert confidence(logprob) == pytest.approx(expected)
    assert 0.0 <= confidence(logprob) <= 1.0


def test_confidence_is_monotonic() -> None:
    values = [confidence(x / 10) for x in range(-100, 5)]
    assert values == sorted(values)


@pytest.mark.parametrize(
    ("confidences", "weights", "expected"),
    [
        ([0.5], [10], 0.5),
        ([1.0, 0.0], [3, 1], 0.75),
        ([0.2, 0.8], [1, 1], 0.5),
        ([0.2, 0.8], [0, 0], 0.5),  # no weight: plain mean
        ([0.2, 0.8], [-5, 5], 0.8),  # negative counts as 0
        ([], [], 1.0),
    ],
)
def test_combine(confidences: list[float], weights: list[float], expected: float) -> None:
    assert combine(confidences, weights) == pytest.approx(expected)


def test_combine_needs_a_weight_per_confidence() -> None:
    with pytest.raises(ValueError, match="2 confidences but 1 weights"):
        combine([0.1, 0.2], [1])


# --- the guard -------------------------------------------------------------------------

Behaviour = Callable[[str, bool], Scored]


@dataclass
class FakeBackend:
    """A deterministic decode: ``behaviour`` per source, every call logged."""

    behaviour: Behaviour
    calls: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)

    def __call__(self, sources: Sequence[str], retry: bool) -> list[Scored]:
        self.calls.append((tuple(sources), retry))
        return [self.behaviour(source, retry) for source in sources]


def translated(source: str) -> str:
    """A fake translation: the same length, visibly changed."""
    return source.swapcase()


def fine(source: str, retry: bool) -> Scored:
    return Scored(translated(source), -0.5)


def copies(source: str, retry: bool) -> Scored:
    return Scored(source, -0.1)


def loops_unless_retry(source: str, retry: bool) -> Scored:
    if "loop" in source and not retry:
        return Scored("la " * 40, -0.2)
    return Scored(translated(source), -0.7 if retry else -0.5)


def loops_always(source: str, retry: bool) -> Scored:
    """Loops on anything holding "loop"; the first decode is the most confident."""
    if "loop" not in source:
        return Scored(translated(source), -0.4)
    return Scored("la " * 40, -1.0 if retry else -0.3)


def loops_on_long(source: str, retry: bool) -> Scored:
    """Loops on more than five words, however decoded: only the pieces come out right."""
    if len(source.split()) > 5:
        return Scored("la " * 40, -0.2)
    return Scored(translated(source), -0.6)


def stops_early_unless_retry(source: str, retry: bool) -> Scored:
    if retry:
        return Scored(translated(source), -0.8)
    return Scored(source.split(maxsplit=1)[0], -0.1)


def stops_early_always(source: str, retry: bool) -> Scored:
    return Scored(source.split(maxsplit=1)[0], -0.9 if retry else -0.2)


A = "The president spoke to the navy on Tuesday morning."
B = "The loop sentence, which this model cannot translate."
C = "Another fine sentence about the French carrier."
D = "The loop sentence again, with a second clause here."
LOOP = "la " * 40


def _repetition(index: int) -> QualityWarning:
    return QualityWarning(WarningCode.REPETITION, "the output repeats 'la' in a loop", index)


def _length(index: int, source: str, output: str) -> QualityWarning:
    ratio = length_ratio(source, output)
    return QualityWarning(
        WarningCode.LENGTH_RATIO,
        f"the output is {ratio:.2f}x the length of its source (expected 0.33x to 3.00x)",
        index,
    )


@dataclass(frozen=True)
class GuardRow:
    name: str
    behaviour: Behaviour
    sources: tuple[str, ...]
    texts: tuple[str, ...]
    logprobs: tuple[float, ...]
    warnings: tuple[tuple[QualityWarning, ...], ...]
    redecodes: tuple[int, ...]
    calls: tuple[tuple[tuple[str, ...], bool], ...]
    kind: str = "translate"


B_PIECES = ("The loop sentence,", "which this model cannot translate.")
D_PIECES = ("The loop sentence again,", "with a second clause here.")

GUARD_ROWS = [
    GuardRow(
        "fine: one call, nothing changed",
        fine,
        (A, C),
        (translated(A), translated(C)),
        (-0.5, -0.5),
        ((), ()),
        (0, 0),
        (((A, C), False),),
    ),
    GuardRow(
        "copies its input: no length warning (untranslated is the engine's check)",
        copies,
        (A, B),
        (A, B),
        (-0.1, -0.1),
        ((), ()),
        (0, 0),
        (((A, B), False),),
    ),
    GuardRow(
        "loops on some inputs: only those re-decoded, together, and fixed",
        loops_unless_retry,
        (A, B, C, D),
        (translated(A), translated(B), translated(C), translated(D)),
        (-0.5, -0.7, -0.5, -0.7),
        ((), (), (), ()),
        (0, 1, 0, 1),
        (((A, B, C, D), False), ((B, D), True)),
    ),
    GuardRow(
        "loops always: re-decoded twice, flagged, the most confident candidate kept",
        loops_always,
        (A, B, D),
        (translated(A), LOOP, LOOP),
        (-0.4, -0.3, -0.3),
        ((), (_repetition(1),), (_repetition(2),)),
        (0, 2, 2),
        (((A, B, D), False), ((B, D), True), ((*B_PIECES, *D_PIECES), True)),
    ),
    GuardRow(
        "loops on whole sentences: the pieces pass and are joined by a space",
        loops_on_long,
        (B, "Short and fine."),
        (" ".join(translated(p) for p in B_PIECES), translated("Short and fine.")),
        (-0.6, -0.6),
        ((), ()),
        (2, 0),
        (((B, "Short and fine."), False), ((B,), True), (B_PIECES, True)),
    ),
    GuardRow(
        "stops early: the length ratio triggers a re-decode that fixes it",
        stops_early_unless_retry,
        (A, "Oui."),
        (translated(A), "Oui."),
        (-0.8, -0.1),
        ((), ()),
        (1, 0),  # a short source is never held to the ratio
        (((A, "Oui."), False), ((A,), True)),
    ),
    GuardRow(
        "stops early always: flagged LENGTH_RATIO, the most confident candidate kept",
        stops_early_always,
        (A,),
        ("The",),
        (-0.2,),
        ((_length(0, A, "The"),),),
        (2,),
        (
            ((A,), False),
            ((A,), True),
            (("The president spoke to", "the navy on Tuesday morning."), True),
        ),
    ),
    GuardRow(
        "a summary is not held to the length ratio",
        stops_early_always,
        (A,),
        ("The",),
        (-0.2,),
        ((),),
        (0,),
        (((A,), False),),
        kind="summarize",
    ),
    GuardRow(
        "a summary that loops is re-decoded like a translation",
        loops_unless_retry,
        (B,),
        (translated(B),),
        (-0.7,),
        ((),),
        (1,),
        (((B,), False), ((B,), True)),
        kind="summarize",
    ),
    GuardRow(
        "empty and blank sources pass through undecoded",
        loops_unless_retry,
        ("", A, "  \n", B),
        ("", translated(A), "  \n", translated(B)),
        (0.0, -0.5, 0.0, -0.7),
        ((), (), (), ()),
        (0, 0, 0, 1),
        (((A, B), False), ((B,), True)),
    ),
    GuardRow(
        "nothing to decode: no call",
        fine,
        ("", " "),
        ("", " "),
        (0.0, 0.0),
        ((), ()),
        (0, 0),
        (),
    ),
    GuardRow(
        "a source that cannot be cut gets no third decode",
        lambda source, retry: Scored(LOOP, -1.0),
        ("x",),
        (LOOP,),
        (-1.0,),
        ((_repetition(0),),),
        (1,),
        ((("x",), False), (("x",), True)),
        kind="summarize",
    ),
]


@pytest.mark.parametrize("row", GUARD_ROWS, ids=[row.name for row in GUARD_ROWS])
def test_guard(row: GuardRow) -> None:
    backend = FakeBackend(row.behaviour)
    results = guard(row.sources, backend, kind=row.kind, source_language="en", target_language="fr")
    assert tuple(r.text for r in results) == row.texts
    assert tuple(r.logprob for r in results) == pytest.approx(row.logprobs)
    assert tuple(r.warnings for r in results) == row.warnings
    assert tuple(r.redecodes for r in results) == row.redecodes
    assert tuple(backend.calls) == row.calls


def test_guard_keeps_a_first_time_pass_unchanged() -> None:
    """Same object values as decoded, even when a re-decode would score better."""
    outputs = {A: Scored("Le président a parlé à la marine mardi matin.", -2.5)}
    backend = FakeBackend(lambda source, retry: outputs[source])
    [result] = guard([A], backend, kind="translate", source_language="en", target_language="fr")
    assert (result.text, result.logprob, result.warnings, result.redecodes) == (
        outputs[A].text,
        -2.5,
        (),
        0,
    )
    assert len(backend.calls) == 1


def test_guard_prefers_a_passing_candidate_over_a_more_confident_failing_one() -> None:
    backend = FakeBackend(
        lambda source, retry: Scored(translated(source), -3.0) if retry else Scored(LOOP, -0.01)
    )
    [result] = guard([B], backend, kind="translate", source_language="en", target_language="fr")
    assert (result.text, result.logprob, result.warnings) == (translated(B), -3.0, ())


def test_guard_joins_piece_logprobs_by_length() -> None:
    first, second = "The first piece came out fine", "and so did this"
    scores = {B: Scored(LOOP, -0.1), B_PIECES[0]: Scored(first, -1.0)}
    scores[B_PIECES[1]] = Scored(second, -3.0)
    backend = FakeBackend(lambda source, retry: scores[source])
    [result] = guard([B], backend, kind="summarize", source_language="en", target_language="en")
    assert result.text == f"{first} {second}"
    weights = len(first), len(second)
    assert result.logprob == pytest.approx((weights[0] * -1.0 + weights[1] * -3.0) / sum(weights))
    assert result.redecodes == 2


def test_guard_rejects_a_decode_that_loses_outputs() -> None:
    with pytest.raises(ValueError, match="1 outputs for 2 sources"):
        guard(
            [A, C],
            lambda sources, retry: [Scored("x", 0.0)],
            kind="translate",
            source_language="en",
            target_language="fr",
        )


@pytest.mark.parametrize(
    ("source", "pieces"),
    [
        ("one, two; three: four", ["one,", "two;", "three:", "four"]),
        ("a sentence without clauses here", ["a sentence", "without clauses here"]),
        ("1,000 people came", ["1,000", "people came"]),  # no space after the comma
        ("普京说，海军将合作；法国同意。", ["普京说，", "海军将合作；", "法国同意。"]),
        ("普京总统命令海军", ["普京总统", "命令海军"]),
        ("word", ["wo", "rd"]),
        ("x", ["x"]),
        ("  padded, text  ", ["padded,", "text"]),
    ],
)
def test_split_pieces(source: str, pieces: list[str]) -> None:
    assert split_pieces(source) == pieces


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab ,;:，\n你")))
def test_split_pieces_loses_nothing(source: str) -> None:
    pieces = split_pieces(source)
    assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", source)
    rest = source
    for piece in pieces:  # consecutive stretches of the source, in order
        assert piece
        assert piece in rest
        rest = rest[rest.index(piece) + len(piece) :]
    if len(source.strip()) > 1:
        assert len(pieces) > 1


# --- glossary: finding terms -------------------------------------------------------------

DE_GAULLE = GlossaryTerm("Charles de Gaulle")
GAULLE = GlossaryTerm("Gaulle", "GAULLE")
PUTIN = GlossaryTerm("Putin")
IS = GlossaryTerm("Islamic State", "État islamique")


def _found(text: str, matches: Sequence[Match]) -> list[tuple[str, str]]:
    return [(text[m.start : m.end], m.term.source) for m in matches]


@pytest.mark.parametrize(
    ("text", "terms", "ignore_case", "expected"),
    [
        # longest match wins at a position; a shorter term still matches elsewhere
        (
            "Charles de Gaulle met Gaulle.",
            [GAULLE, DE_GAULLE],
            False,
            [("Charles de Gaulle", "Charles de Gaulle"), ("Gaulle", "Gaulle")],
        ),
        (
            "Charles de Gaulle, not Charles",
            [GlossaryTerm("Charles", "Karl"), DE_GAULLE],
            False,
            [("Charles de Gaulle", "Charles de Gaulle"), ("Charles", "Charles")],
        ),
        (
            "New York City and New York",
            [GlossaryTerm("New York"), GlossaryTerm("New York City")],
            False,
            [("New York City", "New York City"), ("New York", "New York")],
        ),
        # whole words only
        ("Gaullet and Gaullism, not Gaulle2", [GAULLE], False, []),
        ("(Gaulle)", [GAULLE], False, [("Gaulle", "Gaulle")]),
        ("l'Élysée, Élyséen", [GlossaryTerm("Élysée")], False, [("Élysée", "Élysée")]),
        ("Путин, Путинизм и Путина", [GlossaryTerm("Путин")], False, [("Путин", "Путин")]),
        ("Президент Путин сказал", [GlossaryTerm("путин")], True, [("Путин", "путин")]),
        ("über Müller, Müllers", [GlossaryTerm("Müller")], False, [("Müller", "Müller")]),
        # terms holding spaces and punctuation
        (
            "The U.S. Army and C++ code",
            [GlossaryTerm("U.S."), GlossaryTerm("C++")],
            False,
            [("U.S.", "U.S."), ("C++", "C++")],
        ),
        ("G7 and G77", [GlossaryTerm("G7")], False, [("G7", "G7")]),
        # case
        ("putin and Putin", [PUTIN], False, [("Putin", "Putin")]),
        ("putin and Putin", [PUTIN], True, [("putin", "Putin"), ("Putin", "Putin")]),
        ("PUTIN", [GlossaryTerm("putin")], True, [("PUTIN", "putin")]),
        (
            "Die Straße, die STRASSE",
            [GlossaryTerm("strasse")],
            True,
            [("Straße", "strasse"), ("STRASSE", "strasse")],
        ),
        # left to right, non-overlapping
        (
            "New York City",
            [GlossaryTerm("York City"), GlossaryTerm("New York")],
            False,
            [("New York", "New York")],
        ),
        # the first of two terms equal after folding wins; empty terms are ignored
        (
            "Putin",
            [GlossaryTerm("putin", "P1"), GlossaryTerm("PUTIN", "P2")],
            True,
            [("Putin", "putin")],
        ),
        ("anything", [GlossaryTerm(""), GlossaryTerm("  ")], False, []),
        ("", [PUTIN], False, []),
    ],
)
def test_find_terms(
    text: str, terms: list[GlossaryTerm], ignore_case: bool, expected: list[tuple[str, str]]
) -> None:
    assert _found(text, find_terms(text, terms, ignore_case=ignore_case)) == expected


def test_find_terms_offsets_after_a_lengthening_casefold() -> None:
    text = "ßß Putin"
    [match] = find_terms(text, [PUTIN], ignore_case=True)
    assert (match.start, match.end) == (3, 8)


# --- glossary: applying terms ------------------------------------------------------------


def zxq(n: int) -> str:
    return f"ZXQ{n}"


@dataclass
class FakeTranslator:
    """A deterministic translate: ``rewrite`` per text, every call logged."""

    rewrite: Callable[[str], str]
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, texts: Sequence[str]) -> list[str]:
        self.calls.append(list(texts))
        return [self.rewrite(t) for t in texts]


def to_french(text: str) -> str:
    """A fake translation that leaves sentinels alone."""
    for en, fr in (("said", "a dit"), ("met", "a rencontré"), ("and", "et"), ("The", "Le")):
        text = text.replace(en, fr)
    return text


SENTENCE = "Putin met Charles de Gaulle and the Islamic State said no."
GLOSSARY = [GlossaryTerm("putin"), DE_GAULLE, IS]


#: What the fake translator is asked: the masked sentence, then (on fallback) the text
#: around the terms.
MASKED = ["ZXQ0 met ZXQ1 and the ZXQ2 said no."]
AROUND = ["met", "and the", "said no."]
FRENCH = "Putin a rencontré Charles de Gaulle et the État islamique a dit no."
UNCHANGED = "Putin met Charles de Gaulle and the État islamique said no."


def swap(old: str, new: str) -> Callable[[str], str]:
    """A fake translation that replaces ``old`` with ``new``."""
    return lambda text: text.replace(old, new)


@dataclass(frozen=True)
class TermRow:
    name: str
    rewrite: Callable[[str], str]
    text: str
    masked: bool


TERM_ROWS = [
    TermRow("keeps sentinels: masking holds", to_french, FRENCH, True),
    TermRow(
        "reorders sentinels: still masking",
        lambda t: "ZXQ2 ZXQ0 ZXQ1 ok",
        "État islamique Putin Charles de Gaulle ok",
        True,
    ),
    TermRow(
        "drops a sentinel: fallback", lambda t: to_french(t.replace("ZXQ1", "")), FRENCH, False
    ),
    TermRow("duplicates a sentinel: fallback", swap("ZXQ0", "ZXQ0 ZXQ0"), UNCHANGED, False),
    TermRow("re-cases sentinels: fallback", lambda t: t.lower(), UNCHANGED, False),
    TermRow(
        "translates sentinels: fallback",
        lambda t: to_french(t.replace("ZXQ", "ЗКЩ")),
        FRENCH,
        False,
    ),
    TermRow("adds a sentinel of its own: fallback", swap("ZXQ2", "ZXQ2 ZXQ3"), UNCHANGED, False),
    TermRow("pads a sentinel's number: fallback", swap("ZXQ2", "ZXQ02"), UNCHANGED, False),
]


@pytest.mark.parametrize("row", TERM_ROWS, ids=[row.name for row in TERM_ROWS])
def test_apply_terms(row: TermRow) -> None:
    matches = find_terms(SENTENCE, GLOSSARY, ignore_case=True)
    translator = FakeTranslator(row.rewrite)
    result = apply_terms(SENTENCE, matches, translator, zxq)
    assert result.text == row.text
    assert result.masked is row.masked
    assert result.applied == ("putin", "Charles de Gaulle", "Islamic State")
    assert translator.calls == ([MASKED] if row.masked else [MASKED, AROUND])


def test_do_not_translate_keeps_the_source_casing() -> None:
    """With ignore_case, "putin" in the glossary keeps the text's own "Putin"/"PUTIN"."""
    text = "Putin said PUTIN twice."
    matches = find_terms(text, [GlossaryTerm("putin")], ignore_case=True)
    assert [term_output(text, m) for m in matches] == ["Putin", "PUTIN"]
    dropped = apply_terms(text, matches, FakeTranslator(lambda t: "rien"), zxq)
    assert (dropped.text, dropped.masked) == ("Putin rien PUTIN rien", False)
    kept = apply_terms(text, matches, FakeTranslator(to_french), zxq)
    assert (kept.text, kept.masked) == ("Putin a dit PUTIN twice.", True)


def test_fallback_keeps_whitespace_and_skips_pieces_without_letters() -> None:
    text = "Hello  Charles de Gaulle, 2024 Putin\tand bye"
    matches = find_terms(text, [DE_GAULLE, PUTIN], ignore_case=False)
    kept = apply_terms(text, matches, FakeTranslator(str.upper), lambda n: f"@@{n}@@")
    assert (kept.text, kept.masked) == ("HELLO  Charles de Gaulle, 2024 Putin\tAND BYE", True)
    drop = FakeTranslator(lambda t: t.replace("@", "").upper())
    result = apply_terms(text, matches, drop, lambda n: f"@@{n}@@")
    assert result.masked is False
    assert result.text == "HELLO  Charles de Gaulle, 2024 Putin\tAND BYE"
    assert drop.calls[1] == ["Hello", "and bye"]  # ", 2024 " has no letters: kept


def test_terms_at_the_edges_and_adjacent() -> None:
    text = "Putin Charles de Gaulle"
    matches = find_terms(text, [DE_GAULLE, PUTIN], ignore_case=False)
    translator = FakeTranslator(lambda t: "")
    result = apply_terms(text, matches, translator, zxq)
    assert (result.text, result.masked) == ("Putin Charles de Gaulle", False)
    assert translator.calls == [["ZXQ0 ZXQ1"]]  # nothing around the terms to translate


def test_no_terms_is_one_plain_call() -> None:
    translator = FakeTranslator(to_french)
    result = apply_terms("The cat said [0].", [], translator, lambda n: f"[{n}]")
    assert (result.text, result.applied, result.masked) == ("Le cat a dit [0].", (), True)
    assert translator.calls == [["The cat said [0]."]]


def test_a_source_that_holds_a_sentinel_falls_back() -> None:
    text = "See [1] and Putin."
    matches = find_terms(text, [PUTIN], ignore_case=False)
    result = apply_terms(text, matches, FakeTranslator(lambda t: t), lambda n: f"[{n}]")
    assert (result.text, result.masked) == ("See [1] and Putin.", False)


def test_many_terms_sentinels_with_several_digits() -> None:
    terms = [GlossaryTerm(f"T{i}x", f"<{i}>") for i in range(12)]
    text = " ".join(f"w T{i}x" for i in range(12))
    matches = find_terms(text, terms, ignore_case=False)
    assert len(matches) == 12
    kept = apply_terms(text, matches, FakeTranslator(lambda t: t), zxq)
    assert kept.masked is True
    assert kept.text == " ".join(f"w <{i}>" for i in range(12))
    # "ZXQ10" turned into "ZXQ1" (a second ZXQ1): caught, not mistaken for ZXQ1
    broken = apply_terms(text, matches, FakeTranslator(swap("ZXQ10", "ZXQ1")), zxq)
    assert broken.masked is False
    assert broken.text == kept.text


def test_a_sentinel_without_a_prefix_and_suffix_form_is_checked_exactly() -> None:
    def odd(n: int) -> str:
        return f"#{n}#{n}"

    text = "Putin met Charles de Gaulle."
    matches = find_terms(text, [PUTIN, DE_GAULLE], ignore_case=False)
    kept = apply_terms(text, matches, FakeTranslator(lambda t: t), odd)
    assert (kept.text, kept.masked) == (text, True)
    lost = apply_terms(text, matches, FakeTranslator(swap("#1#1", "")), odd)
    assert (lost.text, lost.masked) == (text, False)


_WORDS = ["le", "chat", "Putin", "de", "Gaulle", ",", "2024", "Москва", "é", "x"]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(_WORDS), max_size=30),
    terms=st.lists(
        st.tuples(
            st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3),
            st.sampled_from(["", "T", "de Gaulle", "ZXQ0", "Ж"]),
        ),
        max_size=5,
    ),
    ignore_case=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_every_term_survives_a_garbage_translator(
    words: list[str], terms: list[tuple[list[str], str]], ignore_case: bool, seed: int
) -> None:
    text = " ".join(words)
    glossary = [GlossaryTerm(" ".join(source), target) for source, target in terms]
    matches = find_terms(text, glossary, ignore_case=ignore_case)
    rng = random.Random(seed)
    alphabet = "abc ZXQ0123[]@<>,.Жé"

    def garbage(texts: Sequence[str]) -> list[str]:
        return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))) for _ in texts]

    result = apply_terms(text, matches, garbage, zxq)
    outputs = [term_output(text, m) for m in matches]
    for output in set(outputs):
        assert result.text.count(output) >= outputs.count(output)
    if not result.masked:  # the fallback also keeps them in order
        pos = 0
        for output in outputs:
            pos = result.text.index(output, pos) + len(output)


# --- glossary: sentinels -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("roundtrip", "expected"),
    [
        (lambda s: s, "ZXQ3"),
        (lambda s: s.lower(), "[3]"),  # re-cased ZXQ
        (lambda s: s.lower().replace("[", "").replace("]", ""), "<x3>"),
        (lambda s: re.sub(r"[\[\]<>]", "", s.lower()), "@@3@@"),
        (lambda s: re.sub(r"[\[\]<>@]", "", s.lower()), "ZXQ3"),  # none survives: the first
        (lambda s: s.replace("ZXQ12", "ZXQ 12"), "[3]"),  # split inside a sentence
        (lambda s: " " + s + " ", "ZXQ3"),  # surrounding spaces are fine
        (lambda s: re.sub(r"(ZXQ\d+) and", r"\1and", s), "[3]"),  # glued to the next word
    ],
)
def test_pick_sentinel(roundtrip: Callable[[str], str], expected: str) -> None:
    assert pick_sentinel(roundtrip)(3) == expected


def test_sentinel_formats() -> None:
    assert all("{n}" in fmt for fmt in SENTINELS)
    assert len(set(SENTINELS)) == len(SENTINELS) >= 3


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [SEED, SHARED_SEED], ids=["examples", "shared"])
def test_find_names_in_the_seed_article(seed: Path) -> None:
    if not seed.exists():
        pytest.skip(f"{seed} is absent")
    names = find_names(seed.read_text(encoding="utf-8"))
    for name in ["Vladimir Putin", "Francois Hollande", "Charles de Gaulle", "Raqa"]:
        assert name in names
    assert "Rami Abdel Rahman" in names
    for word in ["The", "President", "French", "Russian", "Tuesday", "Meanwhile", "Dozens"]:
        assert word not in names
    assert "French President Francois Hollande" not in names
    assert names == sorted(names, key=len, reverse=True)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("He met Angela Merkel in Berlin.", ["Angela Merkel"]),
        ("The talks were held. The talks ended.", []),
        ("In Raqa, fighters fled. Strikes hit Raqa and then Raqa again.", ["Raqa"]),
        ("Strikes hit Raqa once.", []),  # once is not enough for a single word
        ("They met Bashar al-Assad in Damascus.", ["Bashar al-Assad"]),
        (
            "Ludwig van Beethoven and Ursula von der Leyen spoke.",
            ["Ludwig van Beethoven", "Ursula von der Leyen"],
        ),  # same length: text order
        ("French President Francois Hollande spoke.", ["Francois Hollande"]),
        ("Mr. John Smith arrived.", ["John Smith"]),
        ("He flew on Tuesday and Tuesday again in May and May.", []),  # days and months
        ("a French and a French plan by Russian and Russian", []),  # nationalities
        ("the Britain-based group and the Britain-based one", []),
        (
            "Путин встретился с Владимиром Путиным и Сергеем Лавровым.",
            ["Владимиром Путиным", "Сергеем Лавровым"],
        ),
        ("Vladimir Putin’s plan and Putin’s words, said Putin.", ["Vladimir Putin", "Putin"]),
        ("北京和上海", []),  # no case, no names
    ],
)
def test_find_names(text: str, names: list[str]) -> None:
    assert find_names(text) == names
