"""Person, place and organisation names in a text, by a heuristic (no model, no lexicon
beyond a few closed word lists): what a brief's translation leg keeps verbatim.

A name is
- a sequence of two or more capitalised words ("Vladimir Putin", "Islamic State"),
  allowing lower-case particles inside ("Charles de Gaulle", "Bashar al-Assad",
  "Observatory for Human Rights"), with a leading run of titles and nationalities dropped
  when it holds a title ("French President Francois Hollande" → "Francois Hollande"),
  and a sentence's first word dropped when it is a common word ("The Kremlin" → a
  single "Kremlin");
- or a single capitalised word found standing alone, not at a sentence start, at least
  ``MIN_RECURRENCE`` times ("Raqa", "Putin", "IS"), unless it is a nationality word
  ("French", "Syrian", "Islamic": the translation must translate those), a title, or a
  day or month name (translated too: "Tuesday" → "mardi").
Capitalised means the first letter is upper case: scripts without case (Arabic, CJK)
yield no names. Words written "Britain-based" or "anti-IS" are not name words; "al-Assad"
and "Abdel-Rahman" are."""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_RECURRENCE = 2


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


PARTICLES = _set(
    "de du des d la le les van von der den ter ten zu al el bin ibn ben abu bint da di "
    "do dos das del della degli y e of for the"
)
# Particles that only connect words of an organisation's name, never start one.
_CONNECTORS = frozenset({"of", "for", "the", "e", "y"})
_MAX_PARTICLES = 2  # in a row, inside a name
TITLES = _set(
    "President Vice Prime Minister Premier Chancellor King Queen Prince Princess Pope "
    "Sheikh Emir Sultan General Gen Colonel Col Lieutenant Lt Captain Capt Admiral Major "
    "Sergeant Senator Sen Representative Rep Governor Gov Mayor Judge Justice Secretary "
    "Ambassador Director Chairman Chief Commander Foreign Defence Defense Interior Mr Mrs "
    "Ms Miss Dr Prof Professor Sir Dame Lord Lady Saint St Father Rev Reverend Cardinal "
    "Bishop Archbishop Ayatollah Imam Rabbi"
)
_ABBREVIATIONS = _set("Mr Mrs Ms Dr Prof St Gen Col Lt Capt Sen Rep Gov Rev Jr Sr Mt Ft")
NATIONALITIES = _set(
    "French Dutch Greek Thai Swiss Arab Czech Welsh Scots Iraqi Israeli Pakistani Saudi "
    "Yemeni Afghan Kuwaiti Qatari Emirati Omani Bahraini Bangladeshi Nepali Somali German "
    "American Mexican African Cuban Moroccan Kenyan Ugandan Tibetan Sudanese Filipino "
    "Basque Kurd Serb Croat Slovak Pole Turk Dane Swede Finn Scot Briton Latin Anglo "
    "Western Eastern Northern Southern Arabic"
)
# Nationality and other adjective endings: "Russian", "European", "Chinese", "British",
# "Islamic" (the words a translation must translate).
_ADJECTIVE_END = re.compile(r"(?:ian|ean|ese|ish|ic)$")
DAYS_AND_MONTHS = _set(
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March "
    "April May June July August September October November December"
)
# Function words and sentence openers that are capitalised only because they start a
# sentence (a sentence's first word is also dropped when the text has it in lower case).
COMMON = _set(
    "A An The This That These Those It Its He She They We I You His Her Their Our My Your "
    "In On At By For From To Of With Without After Before During Since Until As If When "
    "While Where But And Or So Yet Also Then There Here However Meanwhile Although Though "
    "Because Both Some Many Most All Each Every No Not One Two Three Several Other Such "
    "What Who Why How Which Last Next New Earlier Later Today Yesterday Tomorrow Mid Under "
    "Over Between Among Against According Despite"
)

_WORD = re.compile(r"[^\W\d_](?:[\w’'-]*[^\W_])?")
_POSSESSIVE = re.compile(r"[’']s$")
_SPACE_GAP = re.compile(r"[ \u00a0]+")
_SENTENCE_GAP = re.compile(r"[.!?…:;\n“«„\"]")


@dataclass(frozen=True)
class _Word:
    text: str  # without a possessive 's
    start: int
    end: int
    initial: bool  # starts a sentence
    joined: bool  # only spaces between it and the word before


def _words(text: str) -> list[_Word]:
    words: list[_Word] = []
    for found in _WORD.finditer(text):
        raw = found.group()
        word = _POSSESSIVE.sub("", raw)
        start, end = found.start(), found.start() + len(word)
        prev = words[-1] if words else None
        gap = text[prev.end : start] if prev else ""
        after_abbreviation = prev is not None and prev.text in _ABBREVIATIONS and gap[:1] == "."
        initial = prev is None or (
            bool(_SENTENCE_GAP.search(gap)) and not (after_abbreviation and gap.count(".") == 1)
        )
        joined = prev is not None and (
            bool(_SPACE_GAP.fullmatch(gap))
            or (after_abbreviation and bool(re.fullmatch(r"\.[ \u00a0]+", gap)))
        )
        words.append(_Word(word, start, end, initial, joined))
        if word != raw:  # a possessive ends the name: an empty word breaks the run
            words.append(_Word("", end, found.end(), False, False))
    return words


def _capitalised(word: str) -> bool:
    if not word or not word[0].isupper():
        first, _, rest = word.partition("-")
        return first.casefold() in PARTICLES and bool(rest) and rest[0].isupper()
    parts = word.split("-")
    return all(p[:1].isupper() for p in parts if p)


def _adjective(word: str) -> bool:
    parts = [p for p in word.split("-") if p]
    return bool(parts) and all(
        p in NATIONALITIES or (len(p) > 3 and bool(_ADJECTIVE_END.search(p))) for p in parts
    )


def _sequences(words: list[_Word]) -> list[list[_Word]]:
    """Runs of capitalised words, particles allowed inside, joined by spaces only."""
    runs: list[list[_Word]] = []
    current: list[_Word] = []
    pending: list[_Word] = []
    for word in words:
        if current and not word.joined:
            runs.append(current)
            current, pending = [], []
        if word.text and _capitalised(word.text):
            current += [*pending, word]
            pending = []
        elif (
            current
            and word.text.casefold() in PARTICLES
            and word.text.islower()
            and len(pending) < _MAX_PARTICLES
        ):
            pending.append(word)
        else:
            if current:
                runs.append(current)
            current, pending = [], []
    if current:
        runs.append(current)
    return runs


def _trim(run: list[_Word], lowered: set[str]) -> list[_Word]:
    """``run`` without a common sentence-initial first word and without a leading run of
    titles and nationalities that holds a title."""
    if run and run[0].initial and (run[0].text in COMMON or run[0].text.casefold() in lowered):
        run = run[1:]
    lead = 0
    while lead < len(run) and (run[lead].text in TITLES or _adjective(run[lead].text)):
        lead += 1
    if any(w.text in TITLES for w in run[:lead]):
        run = run[lead:]
    while run and run[0].text.casefold() in _CONNECTORS:
        run = run[1:]
    return run


def find_names(text: str) -> list[str]:
    """The distinct names of ``text`` (see the module's docstring for what counts), as
    written in it, longest first (then in order of appearance)."""
    words = _words(text)
    lowered = {w.text for w in words if w.text and w.text.islower()}
    found: dict[str, int] = {}
    alone: dict[str, list[_Word]] = {}
    for run in _sequences(words):
        kept = _trim(run, lowered)
        if len(kept) >= 2:
            found.setdefault(text[kept[0].start : kept[-1].end], kept[0].start)
        elif len(kept) == 1 and not kept[0].initial:
            alone.setdefault(kept[0].text, []).append(kept[0])
    for word, seen in alone.items():
        if (
            len(seen) >= MIN_RECURRENCE
            and len(word) > 1
            and word not in TITLES
            and word not in DAYS_AND_MONTHS
            and word not in COMMON
            and not _adjective(word)
        ):
            found.setdefault(word, seen[0].start)
    return sorted(found, key=lambda name: (-len(name), found[name]))
