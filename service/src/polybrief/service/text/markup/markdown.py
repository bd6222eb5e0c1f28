"""Markdown in, Markdown out: CommonMark (plus GFM tables and strikethrough) parsed with
markdown-it-py, the translations put back into the SOURCE text.

Nothing is re-rendered from tokens: the output is the source with the span of each unit
of translation replaced, so everything that is not translated (code, HTML blocks, front
matter, link destinations and titles, reference definitions, list markers, indentation,
blank lines, the table's pipes) stays byte-identical.

Units of translation: the inline content of paragraphs (in lists and block quotes too),
headings (ATX and setext) and table cells. Inside a unit:

- emphasis, strong, strikethrough, links and images are paired placeholders
  (``open(i)`` … ``close(i)``); a link's text and an image's alt text are translated in
  their sentence, the link's ``](url "title")`` / ``][ref]`` and the image's are kept as
  written: link and image **titles are kept, not translated** (they live in the
  destination part, and reference definitions are outside every unit);
- code spans, inline HTML and autolinks are atoms: an empty pair ``open(i)close(i)``
  whose content never reaches the model; text the model puts inside the pair is put
  after the atom;
- soft and hard line breaks reach the model as a space, so it sees whole sentences; on
  the way back the same breaks (each kept as written, the next line's block-quote marker
  or indentation with it) are put back in the same order, at the spaces nearest their
  proportional place in the translated text. A paragraph keeps its number of lines, so
  the document's line numbers do not move;
- escapes and entities reach the model decoded; the translated text is escaped again
  where a character would otherwise become markup.

The placeholders must come back exactly once each and in the source's order (so the
token stream, links' order included, is the source's); a unit whose placeholders did
not, or whose rebuilt text would parse to different markup, goes through the fallback:
its text runs (between markup and line breaks) are translated one by one, in one more
``translate`` call for all such units, and put back between the markup as written. A
unit whose fallback would still change the markup is kept untranslated, and said so.
A last check parses the whole result and reverts any unit the comparison blames.

Not sent: units without letters; cells whose content markdown-it rewrites (an escaped
``\\|`` in a table cell) and lines with tabs inside a container's indentation, which
cannot be mapped back to the source byte for byte: those stay as written.
There is no ``rtl`` argument (the HTML module's): Markdown has nowhere to say the
direction; a viewer renders it from the text.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.helpers import parseLinkLabel
from markdown_it.rules_inline import image as _image_rule
from markdown_it.rules_inline import link as _link_rule
from markdown_it.rules_inline.state_inline import StateInline
from markdown_it.token import Token
from polybrief.service.text.markup import (
    DEFAULT_PLACEHOLDERS,
    Placeholders,
    Rebuilt,
    TranslateBatch,
)

__all__ = ["plain_text", "structure", "translate_document"]

_RuleFn = Callable[[StateInline, bool], bool]


def _tracked(rule: _RuleFn, label_from: int, disable_nested: bool, kind: str) -> _RuleFn:
    """``rule`` (link or image) recording on its token where it starts, where its label
    ends and where it ends, relative to the inline source it was parsed from."""

    def run(state: StateInline, silent: bool) -> bool:
        start, count = state.pos, len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent:
            end = state.pos
            state.pos = start
            label_end = parseLinkLabel(state, start + label_from, disable_nested)
            state.pos = end
            for token in state.tokens[count:]:
                if token.type == kind and "src" not in token.meta:
                    token.meta["src"] = (start, label_end, end)
                    break
        return True

    return run


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("text_join")
    md.inline.ruler.at("link", _tracked(_link_rule, 0, True, "link_open"))
    md.inline.ruler.at("image", _tracked(_image_rule, 1, False, "image"))
    return md


_MD = _parser()

# --------------------------------------------------------------------------- front matter

_FENCE = re.compile(r"---[ \t]*(?:\r\n|\r|\n)")
_FENCE_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


def _front_matter(source: str) -> int:
    """Length of the YAML front matter at the top of ``source`` (``---`` on the first
    line, up to the next line that is ``---`` or ``...``, its line end included); 0 when
    there is none."""
    opening = _FENCE.match(source)
    if opening is None:
        return 0
    closing = _FENCE_END.search(source, opening.end())
    if closing is None:
        return 0
    end = closing.end()
    for eol in ("\r\n", "\r", "\n"):
        if source.startswith(eol, end):
            return end + len(eol)
    return end


# ------------------------------------------------------------------------------ structure

_VERBATIM_CONTENT = {"code_inline", "code_block", "fence", "html_block", "html_inline"}
_KEPT_ATTRS = {"href", "src", "title", "start", "style"}


def _token_structure(tokens: Sequence[Token]) -> tuple[Any, ...]:
    out: list[Any] = []
    for token in tokens:
        if token.type in ("text", "text_special"):
            if out and out[-1] == ("text",):
                continue  # adjacent text runs are one text node
            out.append(("text",))
            continue
        attrs = tuple(sorted((k, str(v)) for k, v in token.attrs.items() if k in _KEPT_ATTRS))
        content = token.content if token.type in _VERBATIM_CONTENT else ""
        children = _token_structure(token.children) if token.children else ()
        out.append(
            (
                token.type,
                token.tag,
                token.nesting,
                token.markup,
                token.info,
                attrs,
                content,
                tuple(token.map) if token.map else None,
                children,
            )
        )
    return tuple(out)


def structure(source: str) -> object:
    """The markdown-it token stream of ``source`` with text blanked: every token's type,
    tag, nesting, markup, info, line map and ``href``/``src``/``title`` attributes, the
    content of code, fences and HTML as written, text nodes (adjacent runs merged, escapes
    and entities included) as a bare ``("text",)``; the front matter as written first."""
    start = _front_matter(source)
    return (source[:start], _token_structure(_MD.parse(source[start:])))


# ----------------------------------------------------------------------------- plain text


def _inline_plain(tokens: Sequence[Token]) -> str:
    parts: list[str] = []
    skip = 0
    for token in tokens:
        if token.type == "link_open" and token.markup == "autolink":
            skip += 1
            continue
        if token.type == "link_close" and skip:
            skip -= 1
            continue
        if skip:
            continue
        if token.type in ("text", "text_special", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def plain_text(source: str) -> str:
    """The readable text of a Markdown document for summarisation, paragraphs separated by
    blank lines: each paragraph, heading and list-item or block-quote paragraph as one
    paragraph; a table as one paragraph, a row a line, its cells joined by `` | ``.
    Left out: the front matter, fenced and indented code blocks, HTML blocks and inline
    HTML, link and image URLs and titles, images (their alt text too), autolinks,
    reference definitions and horizontal rules; all markup characters. Code spans inside
    a sentence are kept as their text (the sentence reads wrong without them)."""
    tokens = _MD.parse(source[_front_matter(source) :])
    blocks: list[str] = []
    row: list[str] = []
    rows: list[str] = []
    in_cell = False
    for token in tokens:
        if token.type in ("th_open", "td_open", "th_close", "td_close"):
            in_cell = token.nesting == 1
        elif token.type == "inline":
            text = _inline_plain(token.children or [])
            if in_cell:
                row.append(text)
            elif text:
                blocks.append(text)
        elif token.type == "tr_close":
            rows.append(" | ".join(row))
            row = []
        elif token.type == "table_close":
            if any(r.strip(" |") for r in rows):
                blocks.append("\n".join(rows))
            rows = []
    return "\n\n".join(blocks)


# ----------------------------------------------------------------------------- the units


@dataclass
class _Piece:
    kind: str  # "text", "break", "open", "close", "atom"
    start: int  # content-space offsets
    end: int
    decoded: str = ""
    index: int = -1
    name: str = ""


@dataclass
class _Unit:
    name: str
    content: str
    pieces: list[_Piece]
    line_starts: list[int]  # content offset of each content line
    line_sources: list[int]  # source offset of each content line
    line_start: bool  # the unit's first character begins a line
    in_heading: bool
    in_cell: bool
    first_line: int
    last_line: int
    reference: tuple[Any, ...] = ()
    markup: list[_Piece] = field(default_factory=list)

    def src(self, position: int) -> int:
        k = bisect.bisect_right(self.line_starts, position) - 1
        return self.line_sources[k] + position - self.line_starts[k]

    @property
    def span(self) -> tuple[int, int]:
        return self.src(0), self.src(len(self.content))


class _Unmappable(Exception):
    """The inline content cannot be aligned with the source byte for byte."""


_ELEMENT_NAMES = {
    "em": "emphasis",
    "strong": "strong",
    "s": "strikethrough",
    "link": "link",
    "image": "image",
    "code_inline": "code",
    "html_inline": "inline HTML",
    "autolink": "autolink",
}


def _expect(content: str, text: str, pos: int) -> int:
    if not content.startswith(text, pos):
        raise _Unmappable
    return pos + len(text)


def _walk(
    tokens: Sequence[Token], content: str, base: int, pieces: list[_Piece], counter: list[int]
) -> None:
    """Append the pieces of ``tokens`` (parsed from ``content[base:]``) to ``pieces``."""
    pos = base
    stack: list[_Piece] = []
    links: list[tuple[int, int]] = []
    tokens = list(tokens)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "text":
            end = _expect(content, token.content, pos)
            pieces.append(_Piece("text", pos, end, token.content))
            pos = end
        elif kind == "text_special":
            end = _expect(content, token.markup, pos)
            pieces.append(_Piece("text", pos, end, token.content))
            pos = end
        elif kind in ("softbreak", "hardbreak"):
            start = pos
            if kind == "hardbreak" and content.startswith("\\\n", pos):
                pos += 1
            while pos < len(content) and content[pos] == " ":
                pos += 1
            pos = _expect(content, "\n", pos)
            while pos < len(content) and content[pos] in " \t":
                pos += 1
            pieces.append(_Piece("break", start, pos, " ", name=kind))
        elif kind in ("em_open", "strong_open", "s_open"):
            end = _expect(content, token.markup, pos)
            piece = _Piece("open", pos, end, index=counter[0], name=_ELEMENT_NAMES[token.tag])
            counter[0] += 1
            stack.append(piece)
            pieces.append(piece)
            pos = end
        elif kind in ("em_close", "strong_close", "s_close"):
            end = _expect(content, token.markup, pos)
            if not stack:
                raise _Unmappable
            opened = stack.pop()
            pieces.append(_Piece("close", pos, end, index=opened.index, name=opened.name))
            pos = end
        elif kind == "link_open" and token.markup == "autolink":
            end = content.find(">", pos) + 1
            if not content.startswith("<", pos) or end <= 0:
                raise _Unmappable
            pieces.append(_Piece("atom", pos, end, index=counter[0], name="autolink"))
            counter[0] += 1
            pos = end
            while i < len(tokens) and tokens[i].type != "link_close":
                i += 1
        elif kind == "link_open":
            start, label_end, end = token.meta.get("src", (-1, -1, -1))
            if start != pos - base or label_end < 0:
                raise _Unmappable
            pos = _expect(content, "[", pos)
            piece = _Piece("open", start + base, pos, index=counter[0], name="link")
            counter[0] += 1
            stack.append(piece)
            links.append((label_end + base, end + base))
            pieces.append(piece)
        elif kind == "link_close":
            if not links or not stack:
                raise _Unmappable
            label_end, end = links.pop()
            if pos != label_end:
                raise _Unmappable
            opened = stack.pop()
            pieces.append(_Piece("close", pos, end, index=opened.index, name="link"))
            pos = end
        elif kind == "image":
            start, label_end, end = token.meta.get("src", (-1, -1, -1))
            if start != pos - base or label_end < 0:
                raise _Unmappable
            index = counter[0]
            counter[0] += 1
            label_start = _expect(content, "![", pos)
            pieces.append(_Piece("open", pos, label_start, index=index, name="image"))
            _walk(token.children or [], content[: label_end + base], label_start, pieces, counter)
            pieces.append(_Piece("close", label_end + base, end + base, index=index, name="image"))
            pos = end + base
        elif kind == "code_inline":
            opening = _expect(content, token.markup, pos)
            tick = re.escape(token.markup)
            closing = re.compile(f"(?<!`){tick}(?!`)").search(content, opening)
            if closing is None:
                raise _Unmappable
            pieces.append(_Piece("atom", pos, closing.end(), index=counter[0], name="code"))
            counter[0] += 1
            pos = closing.end()
        elif kind == "html_inline":
            end = _expect(content, token.content, pos)
            pieces.append(_Piece("atom", pos, end, index=counter[0], name="inline HTML"))
            counter[0] += 1
            pos = end
        else:
            raise _Unmappable
        i += 1
    if stack or links or pos != len(content):
        raise _Unmappable


def _lines(source: str) -> tuple[list[int], list[str]]:
    starts = [0]
    texts: list[str] = []
    for found in re.finditer(r"\r\n|\r|\n", source):
        texts.append(source[starts[-1] : found.start()])
        starts.append(found.end())
    texts.append(source[starts[-1] :])
    return starts, texts


def _align(
    content: str, first: int, line_starts: list[int], line_texts: list[str], kind: str
) -> tuple[list[int], list[int]]:
    """Content offset and source offset of each line of ``content``, which markdown-it
    took from source lines ``first``, ``first + 1``, …"""
    frags = content.split("\n")
    c_starts: list[int] = []
    s_starts: list[int] = []
    offset = 0
    for k, frag in enumerate(frags):
        line = first + k
        if line >= len(line_texts):
            raise _Unmappable
        text = line_texts[line]
        if kind == "heading" and len(frags) == 1:
            hashes = re.match(r"[^#]*#+", text)
            at = text.find(frag, hashes.end() if hashes else 0)
        else:
            stripped = text.rstrip() if k == len(frags) - 1 else text
            at = len(stripped) - len(frag) if stripped.endswith(frag) else -1
        if at < 0:
            raise _Unmappable
        c_starts.append(offset)
        s_starts.append(line_starts[line] + at)
        offset += len(frag) + 1
    return c_starts, s_starts


def _has_letters(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def _collect(body: str, offset: int) -> tuple[list[_Unit], dict[str, Any]]:
    env: dict[str, Any] = {}
    tokens = _MD.parse(body, env)
    line_starts, line_texts = _lines(body)
    units: list[_Unit] = []
    counts: dict[str, int] = {}
    context = "paragraph"
    setext = False
    row_cursor: dict[int, int] = {}
    for token in tokens:
        if token.type in ("paragraph_open", "heading_open"):
            context = token.type.removesuffix("_open")
            setext = token.markup in ("=", "-")  # its first line starts a line
            continue
        if token.type in ("th_open", "td_open"):
            context = "table cell"
            continue
        if token.type != "inline" or not token.map or not token.content.strip():
            continue
        counts[context] = counts.get(context, 0) + 1
        name = f"{context} {counts[context]}"
        try:
            if context == "table cell":
                line = token.map[0]
                text = line_texts[line]
                at = text.find(token.content, row_cursor.get(line, 0))
                if at < 0:
                    raise _Unmappable
                row_cursor[line] = at + len(token.content)
                c_starts, s_starts = [0], [line_starts[line] + at]
            else:
                c_starts, s_starts = _align(
                    token.content, token.map[0], line_starts, line_texts, context
                )
            pieces: list[_Piece] = []
            _walk(token.children or [], token.content, 0, pieces, [0])
        except _Unmappable:
            continue
        masked_text = "".join(p.decoded for p in pieces if p.kind == "text")
        if not _has_letters(masked_text):
            continue
        unit = _Unit(
            name=name,
            content=token.content,
            pieces=pieces,
            line_starts=c_starts,
            line_sources=[s + offset for s in s_starts],
            line_start=context == "paragraph" or setext,
            in_heading=context == "heading",
            in_cell=context == "table cell",
            first_line=token.map[0],
            last_line=token.map[1],
            reference=_inline_reference(token.content, env),
            markup=[p for p in pieces if p.kind in ("open", "close", "atom")],
        )
        units.append(unit)
    return units, env


def _inline_reference(content: str, env: dict[str, Any]) -> tuple[Any, ...]:
    tokens = _MD.parseInline(content, env)
    return _token_structure(tokens[0].children or []) if tokens else ()


# ------------------------------------------------------------------------------ escaping

_ALWAYS = re.compile(r"([\\`*_\[\]<~])")
_ENTITY = re.compile(r"&(?=#\d+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
_LINE_START = re.compile(r"(?:[#>+\-=|~]|\d{1,9}(?=[.)]))")


def _escape(text: str, unit: _Unit) -> str:
    text = _ALWAYS.sub(r"\\\1", text)
    text = _ENTITY.sub(r"\\&", text)
    if unit.in_cell:
        text = text.replace("|", "\\|")
    if unit.in_heading:
        text = re.sub(r"(?<!\\)#", r"\\#", text)
    return text


def _escape_line_start(text: str) -> str:
    found = _LINE_START.match(text)
    if found is None:
        return text
    if found.group().isdigit():
        end = found.end()
        return f"{text[:end]}\\{text[end:]}"
    return "\\" + text


def _collapse(text: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", text).strip(" ")


# ------------------------------------------------------------------------------ rebuild

# An output item: a span of the source unit (content offsets) kept as written, or new text.
_Item = tuple[int, int] | str


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _place_breaks(core: str, breaks: list[_Piece], fractions: list[float]) -> list[_Item]:
    """``core`` with ``breaks`` put back at the spaces nearest ``fractions`` of its length
    (a space is replaced by the break), else between two characters."""
    if not breaks:
        return [core]
    spaces = [i for i, ch in enumerate(core) if ch == " "]
    chosen: list[tuple[int, int]] = []  # (position, width replaced)
    candidates = [(i, 1) for i in spaces]
    if len(candidates) < len(breaks):  # scripts written without spaces
        candidates = sorted(
            candidates
            + [(i, 0) for i in range(1, len(core)) if core[i - 1] not in " \\" and core[i] != " "]
        )
    if len(candidates) < len(breaks):
        raise _Failed("too little text to put its line breaks back")
    last = -1
    for k, fraction in enumerate(fractions):
        remaining = len(breaks) - k - 1
        usable = [j for j in range(last + 1, len(candidates) - remaining) if candidates[j][0] > 0]
        if not usable:
            raise _Failed("too little text to put its line breaks back")
        target = fraction * len(core)
        best = min(usable, key=lambda j: abs(candidates[j][0] - target))
        chosen.append(candidates[best])
        last = best
    items: list[_Item] = []
    at = 0
    for (position, width), piece in zip(chosen, breaks, strict=True):
        items.append(core[at:position])
        items.append((piece.start, piece.end))
        at = position + width
    items.append(core[at:])
    return items


def _text_items(
    unit: _Unit, group: list[_Piece], translated: str, at_line_start: bool
) -> list[_Item]:
    """The output of a group of text and break pieces whose translation is
    ``translated``: the group's leading and trailing whitespace and breaks as written,
    the translation (escaped) with the inner breaks put back in between."""
    group = [p for p in group if p.kind == "break" or p.end > p.start]  # empty runs: none
    if not group:
        return []
    content = unit.content
    lead_end = group[0].start
    i = 0
    while i < len(group) and group[i].kind == "break":
        lead_end = group[i].end
        i += 1
    if i < len(group):
        raw = content[group[i].start : group[i].end]
        lead_end = group[i].start + len(raw) - len(raw.lstrip(" \t"))
    trail_start = group[-1].end
    j = len(group) - 1
    while j >= 0 and group[j].kind == "break":
        trail_start = group[j].start
        j -= 1
    if j >= 0 and j >= i:
        raw = content[group[j].start : group[j].end]
        trail_start = min(trail_start, group[j].end - (len(raw) - len(raw.rstrip(" \t"))))
    if lead_end >= trail_start:
        return [(group[0].start, group[-1].end)]
    core = _collapse(translated)
    inner = [p for p in group if p.kind == "break" and lead_end <= p.start < trail_start]
    source_core = "".join(p.decoded for p in group if lead_end <= p.start < trail_start)
    fractions: list[float] = []
    seen = 0
    for p in group:
        if not (lead_end <= p.start < trail_start):
            continue
        if p.kind == "break":
            fractions.append(seen / max(len(source_core), 1))
        seen += len(p.decoded)
    merged: list[_Piece] = []  # breaks one after the other go back together
    merged_fractions: list[float] = []
    for piece, fraction in zip(inner, fractions, strict=True):
        if merged and merged[-1].end == piece.start:
            merged[-1] = _Piece("break", merged[-1].start, piece.end, " ")
        else:
            merged.append(piece)
            merged_fractions.append(fraction)
    escaped = _escape(core, unit)
    items = _place_breaks(escaped, merged, merged_fractions)
    starts_line = i > 0 or at_line_start
    fixed: list[_Item] = []
    for k, item in enumerate(items):
        line_start = isinstance(item, str) and (k > 0 or starts_line)
        fixed.append(_escape_line_start(item) if isinstance(item, str) and line_start else item)
    out: list[_Item] = [(group[0].start, lead_end)] if lead_end > group[0].start else []
    out.extend(fixed)
    if trail_start < group[-1].end:
        out.append((trail_start, group[-1].end))
    return out


def _slots(unit: _Unit) -> list[list[_Piece]]:
    slots: list[list[_Piece]] = [[]]
    for piece in unit.pieces:
        if piece.kind in ("text", "break"):
            slots[-1].append(piece)
        else:
            slots.append([])
    return slots


def _masked(unit: _Unit, ph: Placeholders) -> str:
    parts = []
    for piece in unit.pieces:
        if piece.kind in ("text", "break"):
            parts.append(piece.decoded)
        elif piece.kind == "open":
            parts.append(ph.open(piece.index))
        elif piece.kind == "close":
            parts.append(ph.close(piece.index))
        else:
            parts.append(ph.open(piece.index) + ph.close(piece.index))
    return _collapse("".join(parts))


def _expected(unit: _Unit, ph: Placeholders) -> list[tuple[str, _Piece]]:
    out: list[tuple[str, _Piece]] = []
    for piece in unit.markup:
        if piece.kind in ("open", "atom"):
            out.append((ph.open(piece.index), piece))
        if piece.kind in ("close", "atom"):
            out.append((ph.close(piece.index), piece))
    return out


def _split_output(unit: _Unit, output: str, ph: Placeholders) -> list[str]:
    """The texts between the placeholders of ``output``, one per slot of ``unit``; raises
    ``_Failed`` unless every placeholder is there once and in the source's order."""
    expected = _expected(unit, ph)
    if not expected:
        return [output]
    strings = [s for s, _ in expected]
    pattern = re.compile(
        "|".join(re.escape(s) for s in sorted(set(strings), key=len, reverse=True))
    )
    found = [m.group() for m in pattern.finditer(output)]
    for string, piece in expected:
        count = found.count(string)
        if count != 1:
            state = "lost" if count == 0 else "duplicated"
            raise _Failed(f"{piece.name} placeholder {string} {state}")
    if found != strings:
        raise _Failed("placeholders out of order")
    return _merge_atom_slots(unit, pattern.split(output))


def _merge_atom_slots(unit: _Unit, texts: list[str]) -> list[str]:
    slots = [texts[0]]
    k = 1
    for piece in unit.markup:
        if piece.kind == "atom":
            slots.append(texts[k] + texts[k + 1])
            k += 2
        else:
            slots.append(texts[k])
            k += 1
    return slots


def _assemble(unit: _Unit, slot_texts: list[str]) -> list[_Item]:
    items: list[_Item] = []
    slots = _slots(unit)
    for k, (group, translated) in enumerate(zip(slots, slot_texts, strict=True)):
        source_text = "".join(p.decoded for p in group)
        if not _has_letters(_collapse(translated)):
            if _has_letters(source_text):
                raise _Failed("the text of an element came back empty")
            if group:
                items.append((group[0].start, group[-1].end))
        else:
            at_line_start = unit.line_start and k == 0
            items.extend(_text_items(unit, group, translated, at_line_start))
        if k < len(unit.markup):
            piece = unit.markup[k]
            items.append((piece.start, piece.end))
    return items


def _runs(unit: _Unit) -> list[list[_Piece]]:
    """The unit's text runs: maximal sequences of text pieces."""
    runs: list[list[_Piece]] = []
    current: list[_Piece] = []
    for piece in unit.pieces:
        if piece.kind == "text":
            current.append(piece)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _fallback_items(unit: _Unit, translated: dict[int, str]) -> list[_Item]:
    items: list[_Item] = []
    run_index = 0
    at = 0
    pieces = unit.pieces
    while at < len(pieces):
        piece = pieces[at]
        if piece.kind != "text":
            items.append((piece.start, piece.end))
            at += 1
            continue
        end = at
        while end < len(pieces) and pieces[end].kind == "text":
            end += 1
        run = pieces[at:end]
        output = translated.get(run_index)
        starts_line = (at == 0 and unit.line_start) or (at > 0 and pieces[at - 1].kind == "break")
        if output is None or not _has_letters(output):
            items.append((run[0].start, run[-1].end))
        else:
            items.extend(_text_items(unit, run, output, starts_line))
        run_index += 1
        at = end
    return items


def _render(unit: _Unit, items: list[_Item], source: str) -> tuple[str, str]:
    """(content-space text, source-space text) of ``items``."""
    content_parts: list[str] = []
    source_parts: list[str] = []
    for item in items:
        if isinstance(item, str):
            content_parts.append(item)
            source_parts.append(item)
        else:
            start, end = item
            content_parts.append(unit.content[start:end])
            source_parts.append(source[unit.src(start) : unit.src(end)])
    return "".join(content_parts), "".join(source_parts)


def _check(unit: _Unit, content: str, env: dict[str, Any]) -> bool:
    return _inline_reference(content, env) == unit.reference


def translate_document(
    source: str,
    translate: TranslateBatch,
    placeholders: Placeholders = DEFAULT_PLACEHOLDERS,
) -> Rebuilt:
    """``source`` with the text of every unit translated (see the module's docstring):
    one ``translate`` call with every unit, a second one for the runs of the units that
    went through the fallback (none when no unit did)."""
    front = _front_matter(source)
    units, env = _collect(source[front:], front)
    if not units:
        return Rebuilt(source, 0, ())
    outputs = translate([_masked(unit, placeholders) for unit in units])
    if len(outputs) != len(units):
        raise ValueError(f"translate returned {len(outputs)} texts for {len(units)}")
    replaced: dict[int, str] = {}
    failed: dict[int, str] = {}
    for n, (unit, output) in enumerate(zip(units, outputs, strict=True)):
        try:
            content, text = _render(
                unit, _assemble(unit, _split_output(unit, output, placeholders)), source
            )
            if not _check(unit, content, env):
                raise _Failed("the translation would change its markup")
            replaced[n] = text
        except _Failed as failure:
            failed[n] = failure.reason
    notes: dict[int, str] = {n: f"{units[n].name}: {reason}" for n, reason in failed.items()}
    if failed:
        batch: list[str] = []
        where: list[tuple[int, int]] = []
        for n in failed:
            for r, run in enumerate(_runs(units[n])):
                text = _collapse("".join(p.decoded for p in run))
                if _has_letters(text):
                    batch.append(text)
                    where.append((n, r))
        run_outputs = translate(batch) if batch else []
        if len(run_outputs) != len(batch):
            raise ValueError(f"translate returned {len(run_outputs)} texts for {len(batch)}")
        per_unit: dict[int, dict[int, str]] = {n: {} for n in failed}
        for (n, r), output in zip(where, run_outputs, strict=True):
            per_unit[n][r] = output
        for n in failed:
            unit = units[n]
            try:
                content, text = _render(unit, _fallback_items(unit, per_unit[n]), source)
                if not _check(unit, content, env):
                    raise _Failed("")
                replaced[n] = text
            except _Failed:
                notes[n] += "; kept untranslated (the fallback would change its markup)"
    rebuilt = _splice(source, units, replaced)
    expected = structure(source)
    while replaced and structure(rebuilt) != expected:
        blamed = _blame(source, rebuilt, units, replaced, front)
        replaced.pop(blamed)
        notes[blamed] = notes.get(blamed, units[blamed].name) + (
            "; kept untranslated (the document would change its structure)"
            if blamed in notes
            else ": kept untranslated (the document would change its structure)"
        )
        rebuilt = _splice(source, units, replaced)
    return Rebuilt(rebuilt, len(units), tuple(notes[n] for n in sorted(notes)))


def _splice(source: str, units: list[_Unit], replaced: dict[int, str]) -> str:
    parts: list[str] = []
    at = 0
    for n, unit in enumerate(units):
        if n not in replaced:
            continue
        start, end = unit.span
        parts.append(source[at:start])
        parts.append(replaced[n])
        at = end
    parts.append(source[at:])
    return "".join(parts)


def _blame(
    source: str, rebuilt: str, units: list[_Unit], replaced: dict[int, str], front: int
) -> int:
    """The replaced unit nearest before the first token where ``rebuilt`` and ``source``
    parse differently."""
    before = _flat(_MD.parse(source[front:]))
    after = _flat(_MD.parse(rebuilt[front:]))
    line = 0
    for a, b in zip(before, after, strict=False):
        if a[0] != b[0]:
            line = a[1]
            break
    else:
        line = before[min(len(before), len(after)) - 1][1] if before else 0
    candidates = [n for n in replaced if units[n].first_line <= line]
    return max(candidates, key=lambda n: units[n].first_line) if candidates else min(replaced)


def _flat(tokens: Sequence[Token]) -> list[tuple[Any, int]]:
    out: list[tuple[Any, int]] = []
    line = 0
    for token in tokens:
        if token.map:
            line = token.map[0]
        out.append((_token_structure([token]), line))
    return out
