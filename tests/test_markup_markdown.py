"""Markdown in, the same structure out (issue 11): polybrief.service.text.markup.markdown
with deterministic fake translators (no models)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from polybrief.service.text.markup import DEFAULT_PLACEHOLDERS, Placeholders
from polybrief.service.text.markup.markdown import plain_text, structure, translate_document

DATA = Path(__file__).parent / "data"
REAL = DATA / "rich-README.md"
_PH = re.compile(r"(</?x\d+>)")
_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


class Recorder:
    """A fake translator: ``fn`` over each text, every batch recorded."""

    def __init__(self, fn: Callable[[str], str]) -> None:
        self.fn = fn
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> list[str]:
        self.calls.append(list(texts))
        return [self.fn(t) for t in texts]


def upper(text: str) -> str:
    """Uppercases the text, placeholders left alone."""
    return "".join(p if _PH.fullmatch(p) else p.upper() for p in _PH.split(text))


def drop_first(text: str) -> str:
    return _PH.sub("", upper(text), count=1)


def duplicate(text: str) -> str:
    found = _PH.search(text)
    return upper(text) + (" " + found.group() if found else "")


def reverse_words(text: str) -> str:
    return " ".join(reversed(upper(text).split()))


def reverse_parts(text: str) -> str:
    """The text's pieces between placeholders and the placeholders in reverse order."""
    return "".join(reversed(_PH.split(upper(text))))


def mangle(text: str) -> str:
    return re.sub(r"<(/?)x(\d+)>", r"< \1X \2 >", upper(text))


def markdownish(text: str) -> str:
    """Output full of characters that are Markdown syntax."""
    return "- # 1. *a* _b_ [c](d) `e` <f> &amp; | ~~g~~ \\ " + upper(text) + " **"


def code_contents(source: str) -> list[str]:
    out: list[str] = []

    def walk(tokens: Sequence[object]) -> None:
        for token in tokens:
            kind = getattr(token, "type", "")
            if kind in ("fence", "code_block", "code_inline", "html_block", "html_inline"):
                out.append(getattr(token, "content", ""))
            for key in ("href", "src"):
                value = getattr(token, "attrs", {}).get(key)
                if value:
                    out.append(str(value))
            walk(getattr(token, "children", None) or [])

    walk(_MD.parse(source))
    return out


def letters_upper(source: str) -> bool:
    return source != source.upper()


SNIPPETS: dict[str, str] = {
    "headings": "# Title one\n\n## Second *level* ##\n\nSetext title\n============\n\ntext\n",
    "heading ending with hashes": "# C# and F# #\n\n### Closing sequence ###\n",
    "list with code": "- install with `pip install rich`\n- then run `python -m rich`\n"
    "  and watch\n\n1. first **step**\n2. second step\n",
    "nested list": "- outer item\n  - inner *item* here\n    continued line\n- last\n",
    "table": "| Name | Value |\n|:-----|------:|\n| *alpha* | `1` |\n| beta | two words |\n",
    "links with titles": 'See [the docs](https://example.com/docs "Read the docs") and '
    "[a reference][ref], [collapsed][] or [shortcut].\n\n"
    '[ref]: https://example.com/ref "Ref title"\n[collapsed]: /c\n[shortcut]: /s\n',
    "images": "![A *small* logo](https://example.com/logo.png 'Logo') under a title\n",
    "front matter": "---\ntitle: Hello\ntags: [a, b]\n---\n# Body heading\n\nBody text.\n",
    "trailing bold": "Line with **bold**\nand **more bold**\n",
    "block quote": "> Quoted *text* that\n> continues here\n>\n> > nested quote\n",
    "fenced and indented": "Intro text:\n\n```python\nprint('hello')  # stays\n```\n\n"
    "    indented code stays\n\nOutro text.\n",
    "html": "<div align='center'>\n<b>block html</b>\n</div>\n\nInline <span>html</span> here\n",
    "breaks": "First line with hard break  \nsecond line soft\nthird line\\\nfourth line\n",
    "escapes and entities": "Stars \\*not emphasis\\* &amp; &copy; caf&eacute; 5 \\> 3\n",
    "autolink and strike": "Mail <mailto:a@b.c> or <https://x.y/z> ~~gone~~ now\n",
    "nested emphasis": "***both*** and *em with **strong** inside* and __under__\n",
    "crlf": "# Title\r\n\r\nA paragraph\r\nover two lines with `code`\r\n",
    "numbers only": "1234\n\n-- 56 --\n\nWords here\n",
}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_uppercase_keeps_structure_and_changes_text(name: str) -> None:
    source = SNIPPETS[name]
    translate = Recorder(upper)
    result = translate_document(source, translate)
    assert structure(result.text) == structure(source)
    assert result.text != source
    assert result.fallbacks == ()
    assert len(translate.calls) == 1  # one batch with every unit
    assert result.units == len(translate.calls[0])
    # untouched parts (code, HTML, URLs) byte-identical
    assert code_contents(result.text) == code_contents(source)


@pytest.mark.parametrize("name", sorted(SNIPPETS))
@pytest.mark.parametrize(
    "fake", [drop_first, duplicate, reverse_words, reverse_parts, mangle, markdownish, lambda t: ""]
)
def test_broken_placeholders_keep_structure(name: str, fake: Callable[[str], str]) -> None:
    source = SNIPPETS[name]
    result = translate_document(source, Recorder(fake))
    assert structure(result.text) == structure(source)
    assert code_contents(result.text) == code_contents(source)


@pytest.mark.parametrize("fake", [drop_first, duplicate, reverse_parts, mangle])
def test_fallback_lists_the_units(fake: Callable[[str], str]) -> None:
    source = (
        "# Plain heading\n\nOne *emphasised* word and a [link](https://x.y/).\n\n"
        "- item with **strong** text\n"
    )
    translate = Recorder(fake)
    result = translate_document(source, translate)
    assert structure(result.text) == structure(source)
    assert len(translate.calls) == 2  # the batch, then every failed unit's runs
    assert result.units == 3
    assert [note.split(":")[0] for note in result.fallbacks] == ["paragraph 1", "paragraph 2"]
    # the fallback translated the runs between the tags and kept the tags as written
    assert result.text == (
        "# PLAIN HEADING\n\nONE *EMPHASISED* WORD AND A [LINK](https://x.y/).\n\n"
        "- ITEM WITH **STRONG** TEXT\n"
    )
    second = translate.calls[1]
    assert all(not _PH.search(text) for text in second)
    assert "emphasised" in second


def test_notes_name_the_lost_placeholder() -> None:
    result = translate_document("Some *text* here\n", Recorder(drop_first))
    assert result.fallbacks == ("paragraph 1: emphasis placeholder <x0> lost",)
    assert result.text == "SOME *TEXT* HERE\n"


def test_identity_keeps_the_document() -> None:
    for source in SNIPPETS.values():
        result = translate_document(source, Recorder(lambda t: t))
        assert structure(result.text) == structure(source)
        assert result.fallbacks == ()


def test_code_and_urls_never_reach_the_model() -> None:
    source = (
        "Run `secret_command --flag` then open [the page](https://hidden.example/path) "
        "and <https://auto.example/>.\n\n```\nfenced secret\n```\n\n<div>html secret</div>\n"
        "---\n"
    )
    translate = Recorder(upper)
    result = translate_document(source, translate)
    sent = " ".join(translate.calls[0])
    for secret in ("secret_command", "hidden.example", "auto.example", "fenced", "html secret"):
        assert secret not in sent
    assert translate.calls[0] == ["Run <x0></x0> then open <x1>the page</x1> and <x2></x2>."]
    assert "`secret_command --flag`" in result.text
    assert "```\nfenced secret\n```\n" in result.text


def test_front_matter_untouched() -> None:
    source = SNIPPETS["front matter"]
    translate = Recorder(upper)
    result = translate_document(source, translate)
    assert result.text.startswith("---\ntitle: Hello\ntags: [a, b]\n---\n")
    assert all(
        "title" not in text.lower() or "heading" in text.lower() for text in translate.calls[0]
    )
    assert translate.calls[0] == ["Body heading", "Body text."]


def test_text_without_letters_is_not_sent() -> None:
    translate = Recorder(upper)
    result = translate_document(SNIPPETS["numbers only"], translate)
    assert translate.calls == [["Words here"]]
    assert result.text == "1234\n\n-- 56 --\n\nWORDS HERE\n"
    assert translate_document("123\n\n```\ncode\n```\n", translate).units == 0


def test_breaks_reach_the_model_as_spaces_and_come_back() -> None:
    source = SNIPPETS["breaks"]
    translate = Recorder(lambda t: " ".join(w + " " + w for w in upper(t).split()))
    result = translate_document(source, translate)
    assert translate.calls[0] == [
        "First line with hard break second line soft third line fourth line"
    ]
    assert structure(result.text) == structure(source)  # same breaks, same kinds, same lines
    lines = result.text.split("\n")
    assert len(lines) == len(source.split("\n"))
    assert lines[0].endswith("  ")
    assert lines[2].endswith("\\")


def test_breaks_inside_block_quote_keep_the_markers() -> None:
    source = "> one two three four\n> five six seven\n> eight nine\n"
    result = translate_document(source, Recorder(lambda t: upper(t) + " extra words added"))
    assert structure(result.text) == structure(source)
    assert all(line.startswith("> ") for line in result.text.splitlines())


def test_breaks_in_a_script_without_spaces() -> None:
    source = "one two\nthree four\n"
    result = translate_document(source, Recorder(lambda t: "一二三四五六"))
    assert structure(result.text) == structure(source)
    assert result.text.count("\n") == 2


def test_markdown_in_the_translation_is_escaped() -> None:
    source = "Plain words\nin two lines\n\n| a | b |\n|---|---|\n| c | d |\n\n## Head\n"
    result = translate_document(source, Recorder(markdownish))
    assert structure(result.text) == structure(source)
    assert result.fallbacks == ()


def test_whitespace_between_elements_survives() -> None:
    source = "**Bold** *em* [link](u)\n"
    result = translate_document(source, Recorder(lambda t: t.replace("> <", "><")))
    assert result.text == "**Bold** *em* [link](u)\n"


def test_text_put_inside_an_atom_goes_after_it() -> None:
    source = "Call `f()` now\n"
    result = translate_document(source, Recorder(lambda t: "Rufe <x0>jetzt</x0> auf"))
    assert result.text == "Rufe `f()` jetzt auf\n"
    assert structure(result.text) == structure(source)


def test_custom_placeholders() -> None:
    placeholders = Placeholders(lambda i: f"[{i}]", lambda i: f"[/{i}]")
    translate = Recorder(lambda t: t.upper())
    result = translate_document("A *b* [c](d)\n", translate, placeholders)
    assert translate.calls[0] == ["A [0]b[/0] [1]c[/1]"]
    assert result.text == "A *B* [C](d)\n"
    assert DEFAULT_PLACEHOLDERS.open(3) == "<x3>"


def test_translate_must_answer_every_text() -> None:
    with pytest.raises(ValueError, match="returned 0 texts for 1"):
        translate_document("Hello\n", lambda texts: [])


def test_plain_text() -> None:
    source = (
        "---\ntitle: front matter words\n---\n# Title\n\nSee [the docs](https://docs.example) "
        "and ![an image](img.png) with `inline code`.\n\n```\nfenced code words\n```\n\n"
        "    indented code words\n\n<div>html block words</div>\n\n- item *one*\n- item two\n\n"
        "> quoted\n> text\n\n| h1 | h2 |\n|----|----|\n| c1 | c2 |\n\n[ref]: https://ref.example\n"
    )
    text = plain_text(source)
    assert text == (
        "Title\n\nSee the docs and with inline code.\n\nitem one\n\nitem two\n\n"
        "quoted text\n\nh1 | h2\nc1 | c2"
    )
    for gone in ("front matter", "fenced", "indented", "html block", "https", "img.png", "image"):
        assert gone not in text


# ------------------------------------------------------------------ property over documents

_WORDS = st.sampled_from(
    ["alpha", "beta", "gamma", "delta", "Paris", "news", "x", "déjà", "Москва", "42", "a.b", "—"]
)


@st.composite
def _inline(draw: st.DrawFn, depth: int = 0) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        choice = draw(st.integers(0, 8 if depth < 2 else 2))
        words = " ".join(draw(st.lists(_WORDS, min_size=1, max_size=4)))
        if choice <= 2:
            parts.append(words)
        elif choice == 3:
            parts.append(f"*{draw(_inline(depth + 1))}*")
        elif choice == 4:
            parts.append(f"**{draw(_inline(depth + 1))}**")
        elif choice == 5:
            title = draw(st.sampled_from(["", ' "A title"']))
            parts.append(f"[{draw(_inline(depth + 1))}](https://e.x/{len(parts)}{title})")
        elif choice == 6:
            parts.append(f"![{words}](i{len(parts)}.png)")
        elif choice == 7:
            parts.append(f"`code {len(parts)} *x*`")
        else:
            parts.append(f"~~{words}~~")
    return draw(st.sampled_from([" ", "\n"])).join(parts)


@st.composite
def _document(draw: st.DrawFn) -> str:
    blocks: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 6))
        text = draw(_inline())
        if kind == 0:
            blocks.append("#" * draw(st.integers(1, 6)) + " " + text.replace("\n", " "))
        elif kind == 1:
            blocks.append(text)
        elif kind == 2:
            items = draw(st.lists(_inline(), min_size=1, max_size=3))
            marker = draw(st.sampled_from(["-", "*", "1."]))
            blocks.append(
                "\n".join(
                    f"{marker} " + i.replace("\n", "\n" + " " * (len(marker) + 1)) for i in items
                )
            )
        elif kind == 3:
            blocks.append("> " + text.replace("\n", "\n> "))
        elif kind == 4:
            blocks.append("```text\n" + text + "\n  keep   me\n```")
        elif kind == 5:
            cells = [draw(_inline()).replace("\n", " ") for _ in range(2)]
            blocks.append(
                f"| {cells[0]} | {cells[1]} |\n|---|---|\n| {text.replace(chr(10), ' ')} | z |"
            )
        else:
            blocks.append("<div>\nhtml *kept*\n</div>")
    return "\n\n".join(blocks) + "\n"


def _chaos(seed: int) -> Callable[[str], str]:
    rng = random.Random(seed)

    def translate(text: str) -> str:
        words = upper(text).split(" ")
        action = rng.randrange(6)
        if action == 0:
            rng.shuffle(words)
        elif action == 1 and words:
            words.pop(rng.randrange(len(words)))
        elif action == 2 and words:
            words.insert(rng.randrange(len(words) + 1), rng.choice(words))
        elif action == 3:
            words = [w + " " + w[::-1] for w in words]
        elif action == 4:
            return ""
        return " ".join(words)

    return translate


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document())
def test_property_uppercase(source: str) -> None:
    translate = Recorder(upper)
    result = translate_document(source, translate)
    assert structure(result.text) == structure(source)
    assert result.fallbacks == ()
    assert code_contents(result.text) == code_contents(source)
    if result.units:
        assert result.text != source


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document(), st.integers(0, 10_000))
def test_property_chaos(source: str, seed: int) -> None:
    result = translate_document(source, Recorder(_chaos(seed)))
    assert structure(result.text) == structure(source)
    assert code_contents(result.text) == code_contents(source)


# --------------------------------------------------------------------------- a real file


def test_real_file_round_trip() -> None:
    source = REAL.read_text(encoding="utf-8")
    translate = Recorder(upper)
    result = translate_document(source, translate)
    assert structure(result.text) == structure(source)
    assert result.fallbacks == ()
    assert result.units > 50
    assert code_contents(result.text) == code_contents(source)
    chaotic = translate_document(source, Recorder(reverse_words))
    assert structure(chaotic.text) == structure(source)
    assert chaotic.fallbacks
    sent = translate.calls[0]
    sent_chars = sum(len(t) for t in sent)
    placeholder_chars = sum(len("".join(_PH.findall(t))) for t in sent)
    plain = plain_text(source)
    print(
        f"\n{REAL.name}: {len(source)} chars, {result.units} units, {sent_chars} chars sent "
        f"({1000 * sent_chars / len(source):.0f} per 1,000 source chars), placeholders "
        f"{placeholder_chars} chars ({1000 * placeholder_chars / max(sent_chars, 1):.0f} per "
        f"1,000 sent), plain text {len(plain)} chars; reverse-words fallbacks "
        f"{len(chaotic.fallbacks)}"
    )
