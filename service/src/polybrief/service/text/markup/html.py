"""HTML in, the same HTML out: translation units, masked inline markup, a fallback that
cannot lose a tag, and the readable text for summarisation.

Parser. The document is tokenised by Python's ``html.parser.HTMLParser`` -- the
maintained (CPython) tokeniser that BeautifulSoup itself runs on by default -- and the
tree is built here, keeping for every node the exact source text it came from. Of the
four parsers the issue names none can rebuild a document faithfully: lxml, html5lib,
selectolax and BeautifulSoup all decode entities into characters, drop the source
positions of text and end tags, and re-serialise start tags (quotes, spacing, ``<br/>``),
so ``&eacute;`` comes back as ``é``, ``<pre>`` is not byte-identical and lxml/html5lib
wrap a fragment in ``<html><body>``. Rebuilding from source spans instead, everything
that is not translated is emitted exactly as written: untouched subtrees (``code``,
``pre``, ...) byte-identical, entities as written, whitespace between tags, comments,
doctype, attribute quoting, implicit end tags -- and a fragment stays a fragment. No
dependency beyond the standard library.

Units. Inside every block element (``p``, ``h1``..``h6``, ``li``, ``td``, ``th``, ``dt``,
``dd``, ``figcaption``, ``caption``, ``title``, ``div`` or ``blockquote`` with direct
text, and the document itself for a bare fragment) each maximal run of inline content
(text and inline elements: ``b i em strong a span sup sub mark small u s abbr q cite``,
unknown elements, ...) holding a letter is one unit. An element whose name is inline but
which holds a block element is treated as a block. Whitespace runs inside a unit are
collapsed to one space (HTML renders them alike); the unit's leading and trailing
whitespace stays as written. The values of ``alt``, ``title`` and ``placeholder`` are
units of their own; no other attribute is ever changed. Text with no letter is not sent.

Masking. The i-th inline element of a unit reaches the model as
``open(i)...close(i)``. Atoms -- void elements (``br``, ``img``, ``wbr``, ``input``),
comments, untouched inline subtrees (inline ``code``, ``kbd``, ``samp``, ``script``,
``translate="no"``, ``class="notranslate"``), stray end tags -- are one open-only
placeholder ``open(i)`` and come back exactly as written. A translation is accepted when
every paired placeholder comes back once opened and once closed, every atom once and
never closed, each inside the same inline parent as in the source (siblings may change
order, as word order does); otherwise the unit goes through the FALLBACK: each of its
text runs is translated alone (one second batch for all failed units) and put back
between the original tags in the original order. A translation that comes back blank
for a text that was not keeps the source text.

Untouched (byte-identical): ``code pre script style textarea template svg math kbd
samp`` subtrees, any element with ``translate="no"`` or a ``notranslate`` class, with
everything inside it.

Leniency (unbalanced input). Void elements never take children; ``<x/>`` closes any
element at once; a start tag of a block closes an open ``p`` that is the current
element; ``li`` closes an open ``li`` (within its list), ``dt``/``dd`` an open ``dt`` or
``dd``, ``tr`` an open row, ``td``/``th`` an open cell, ``thead``/``tbody``/``tfoot`` an
open section, ``option`` an open option; an end tag closes the nearest open element of
its name with everything opened after it; an end tag with no open element of its name
is a stray token kept as written (never a node); whatever is open at the end closes
there. Implicit end tags are left implicit, except that an inline element inside a unit
translated whole gets its end tag written out (its placeholders may move, so its extent
must be explicit: the repair); the fallback keeps the source order and leaves them
implicit. A unit holding an unclosed untouched element (``<script>`` with no end runs to
the end of the document) always takes the fallback. Output is well-formed whenever the
input was, since only text (escaped) and the translated attribute values change.

RTL. With ``rtl=True`` ``<html>`` gets ``dir="rtl"`` (else ``<body>``; in a fragment,
every top-level block element except untouched and non-rendered ones: ``script style link meta
template`` and the list above); an existing ``dir`` is replaced.
"""

from __future__ import annotations

import html as _html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from polybrief.service.text.markup import (
    DEFAULT_PLACEHOLDERS,
    Placeholders,
    Rebuilt,
    TranslateBatch,
)

__all__ = ["plain_text", "structure", "translate_document"]


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


VOID = _names("area base br col embed hr img input keygen link meta param source track wbr")
BLOCK = _names(
    """address article aside blockquote body button canvas caption center col colgroup
    datalist dd details dialog dir div dl dt fieldset figcaption figure footer form frame
    frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe legend li link main menu
    meta nav noscript object ol optgroup option p pre section select summary table tbody
    td tfoot th thead title tr ul video audio base"""
)
OPAQUE = _names("code pre script style textarea template svg math kbd samp")
TRANSLATED_ATTRIBUTES = ("alt", "title", "placeholder")
_CLOSES_P = _names(
    """address article aside blockquote center details dialog dir div dl fieldset
    figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr main menu nav ol p
    pre section summary table ul li dd dt"""
)
_P_SCOPE = _names("button table td th caption html template object")
_NOT_RTL = _names("script style link meta template base noscript")
#: plain_text leaves these subtrees out.
STRIPPED = _names(
    """script style noscript template head nav footer aside form button select textarea
    input iframe object embed svg math canvas audio video pre dialog menu"""
)
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_SPACE_CHARS = " \t\n\r\f"
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_TAG_NAME = re.compile(r"<[a-zA-Z][^\t\n\r\f />\x00]*")
# html.parser's own tolerant attribute pattern (Python 3.11).
_ATTR = re.compile(
    r"((?<=['\"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*"
    r"('[^']*'|\"[^\"]*\"|(?!['\"])[^>\s]*))?(?:\s|/(?!>))*"
)


# --------------------------------------------------------------------------- the tree


@dataclass(eq=False)
class _Text:
    raw: str

    @property
    def value(self) -> str:
        return _html.unescape(self.raw)


@dataclass(eq=False)
class _Other:
    """A comment, a declaration (doctype), a processing instruction, a stray end tag or
    source the tokeniser skipped: kept as written."""

    raw: str
    kind: str


@dataclass(eq=False)
class _Element:
    name: str
    attrs: list[tuple[str, str | None]]
    start: str
    end: str | None = None  # the end tag as written; None when closed implicitly
    children: list[_Node] = field(default_factory=list)
    parent: _Element | None = None
    inline: bool = False
    opaque: bool = False


_Node = _Text | _Other | _Element


class _Tokens(HTMLParser):
    """Events with the source offset where each begins."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.events: list[tuple[int, str, str, list[tuple[str, str | None]], str]] = []

    def _at(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _add(
        self, kind: str, name: str = "", attrs: list[tuple[str, str | None]] | None = None
    ) -> None:
        text = (self.get_starttag_text() or "") if kind in ("start", "startend") else ""
        self.events.append((self._at(), kind, name, attrs or [], text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("start", tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("startend", tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._add("end", tag)

    # Text, character and entity references are all text (kept as written); the two kinds
    # of declaration are alike.
    def _text(self, *_: str, **__: str) -> None:
        self._add("text")

    def _declaration(self, *_: str, **__: str) -> None:
        self._add("decl")

    handle_data = handle_entityref = handle_charref = _text
    handle_decl = unknown_decl = _declaration

    def handle_comment(self, data: str) -> None:
        self._add("comment")

    def handle_pi(self, data: str) -> None:
        self._add("pi")


def _is_opaque(element: _Element) -> bool:
    if element.name in OPAQUE:
        return True
    attrs = {k: (v or "") for k, v in element.attrs}
    return (
        attrs.get("translate", "").strip().lower() == "no"
        or "notranslate" in attrs.get("class", "").split()
    )


def _close_to(
    stack: list[_Element], targets: frozenset[str] | set[str], bounds: frozenset[str] | set[str]
) -> None:
    for depth in range(len(stack) - 1, 0, -1):
        name = stack[depth].name
        if name in targets:
            del stack[depth:]
            return
        if name in bounds:
            return


def _implied_ends(stack: list[_Element], name: str) -> None:
    if name in _CLOSES_P:
        _close_to(stack, {"p"}, _P_SCOPE | {"li", "dd", "dt", "div", "blockquote"} - {name})
    if name == "li":
        _close_to(stack, {"li"}, {"ul", "ol", "menu", "table"})
    elif name in ("dt", "dd"):
        _close_to(stack, {"dt", "dd"}, {"dl", "table"})
    elif name in ("td", "th"):
        _close_to(stack, {"td", "th"}, {"tr", "table"})
    elif name == "tr":
        _close_to(stack, {"tr"}, {"table", "thead", "tbody", "tfoot"})
    elif name in ("thead", "tbody", "tfoot"):
        _close_to(stack, {"thead", "tbody", "tfoot"}, {"table"})
    elif name == "option":
        _close_to(stack, {"option"}, {"select", "datalist", "optgroup"})
    elif name == "optgroup":
        _close_to(stack, {"option", "optgroup"}, {"select"})


def _parse(source: str) -> _Element:
    tokens = _Tokens(source)
    tokens.feed(source)
    tokens.close()
    root = _Element("", [], "")
    stack = [root]
    events = tokens.events
    for index, (pos, kind, name, attrs, tag_text) in enumerate(events):
        end = events[index + 1][0] if index + 1 < len(events) else len(source)
        parent = stack[-1]
        if kind == "text":
            last = parent.children[-1] if parent.children else None
            if isinstance(last, _Text):
                last.raw += source[pos:end]
            else:
                parent.children.append(_Text(source[pos:end]))
        elif kind in ("start", "startend"):
            tag_end = pos + len(tag_text) if tag_text and pos + len(tag_text) <= end else end
            if kind == "start":
                _implied_ends(stack, name)
            element = _Element(name, attrs, source[pos:tag_end], parent=stack[-1])
            stack[-1].children.append(element)
            if kind == "start" and name not in VOID:
                stack.append(element)
            else:
                element.end = ""
            if tag_end < end:  # source the tokeniser skipped
                stack[-1].children.append(_Other(source[tag_end:end], "gap"))
        elif kind == "end":
            open_at = next((d for d in range(len(stack) - 1, 0, -1) if stack[d].name == name), None)
            if open_at is None:
                parent.children.append(_Other(source[pos:end], "stray"))
            else:
                stack[open_at].end = source[pos:end]
                del stack[open_at:]
        else:
            parent.children.append(_Other(source[pos:end], kind))
    _classify(root)
    return root


def _classify(element: _Element) -> None:
    for child in element.children:
        if isinstance(child, _Element):
            child.opaque = _is_opaque(child) or element.opaque
            _classify(child)
    if element.name and element.name not in BLOCK:
        element.inline = element.opaque or all(
            c.inline for c in element.children if isinstance(c, _Element)
        )


def _elements(element: _Element) -> Iterator[_Element]:
    for child in element.children:
        if isinstance(child, _Element):
            yield child
            yield from _elements(child)


def _is_atom(node: _Node) -> bool:
    if isinstance(node, _Element):
        return node.opaque or node.name in VOID or node.end == ""
    return isinstance(node, _Other)


def _in_run(node: _Node) -> bool:
    if isinstance(node, _Element):
        return node.inline
    if isinstance(node, _Other):
        return node.kind in ("comment", "stray", "gap")
    return True


def _runs(container: _Element) -> Iterator[tuple[_Element, int, int]]:
    """(container, start, stop) for each maximal run of inline children, recursing into
    the block children that are not untouched."""
    children = container.children
    start = None
    for index, child in enumerate([*children, None]):
        if child is not None and _in_run(child):
            if start is None:
                start = index
            continue
        if start is not None:
            yield container, start, index
            start = None
        if isinstance(child, _Element) and not child.opaque:
            yield from _runs(child)


def _has_letter(text: str) -> bool:
    return any(unicodedata.category(c).startswith("L") for c in text)


def _run_text(nodes: Sequence[_Node]) -> str:
    out = []
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.value)
        elif isinstance(node, _Element) and not _is_atom(node):
            out.append(_run_text(node.children))
    return "".join(out)


def _rtl_targets(root: _Element) -> list[_Element]:
    elements = [e for e in _elements(root) if not e.opaque]
    for name in ("html", "body"):
        found = [e for e in elements if e.name == name]
        if found:
            return found[:1]
    return [
        c
        for c in root.children
        if isinstance(c, _Element) and not (c.opaque or c.inline or c.name in _NOT_RTL)
    ]


# ------------------------------------------------------------------------- rendering


def _render(node: _Node, starts: dict[int, str], runs: dict[int, tuple[int, str]]) -> str:
    if not isinstance(node, _Element):
        return node.raw
    out = [starts.get(id(node), node.start)]
    index = 0
    while index < len(node.children):
        child = node.children[index]
        if id(child) in runs:
            length, text = runs[id(child)]
            out.append(text)
            index += length
            continue
        out.append(_render(child, starts, runs))
        index += 1
    out.append(node.end or "")
    return "".join(out)


class _Escaper:
    """Escapes translated text; a character the source writes only as an entity (never
    as itself) is written with that entity again (``&nbsp;``, ``&eacute;``)."""

    def __init__(self, source: str) -> None:
        forms: dict[str, Counter[str]] = {}
        for match in _ENTITY.finditer(source):
            char = _html.unescape(match.group())
            if len(char) == 1 and char not in "&<>\"'":
                forms.setdefault(char, Counter())[match.group()] += 1
        self.entities = {
            char: counts.most_common(1)[0][0]
            for char, counts in forms.items()
            if char not in source
        }

    def text(self, text: str) -> str:
        out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return "".join(self.entities.get(c, c) for c in out) if self.entities else out

    def attribute(self, text: str, quote: str) -> str:
        out = self.text(text)
        return out.replace('"', "&quot;") if quote == '"' else out.replace("'", "&#39;")


def _attribute_spans(element: _Element) -> list[tuple[str, int, int, str]] | None:
    """(name, value start, value end, quote) for each attribute of the raw start tag, as
    html.parser reads it; None when this reading disagrees with the parser's."""
    match = _TAG_NAME.match(element.start)
    if match is None:
        return None
    spans = []
    pos = match.end()
    while pos < len(element.start) and element.start[pos] in " \t\n\r\f/":
        pos += 1
    while (m := _ATTR.match(element.start, pos)) and m.end() > pos:
        pos = m.end()
        value = m.group(3)
        if value is None:
            spans.append((m.group(1).lower(), m.end(1), m.end(1), ""))
            continue
        quote = value[0] if value[:1] in ("'", '"') and value[-1:] == value[:1] else ""
        spans.append((m.group(1).lower(), m.start(3), m.end(3), quote))
    if [s[0] for s in spans] != [name for name, _ in element.attrs]:
        return None
    return spans


def _new_start(element: _Element, values: dict[str, str], escaper: _Escaper, *, rtl: bool) -> str:
    spans = _attribute_spans(element)
    raw = element.start
    if spans is None:
        return raw
    edits = []
    for name, start, end, quote in spans:
        if name in values:
            q = quote or '"'
            edits.append((start, end, q + escaper.attribute(values[name], q) + q))
        elif rtl and name == "dir":
            edits.append((start, end, '"rtl"'))
    if rtl and all(name != "dir" for name, *_ in spans):
        at = _TAG_NAME.match(raw)
        assert at is not None
        edits.append((at.end(), at.end(), ' dir="rtl"'))
    for start, end, text in sorted(edits, reverse=True):
        raw = raw[:start] + text + raw[end:]
    return raw


# ----------------------------------------------------------------------- translation


@dataclass
class _Slot:
    node: _Node
    paired: bool
    parent: int  # the enclosing paired slot, -1 at the unit's top


@dataclass
class _Unit:
    number: int
    label: str
    container: _Element
    start: int
    stop: int
    lead: str
    trail: str
    masked: str
    slots: list[_Slot]


def _mask(nodes: Sequence[_Node], ph: Placeholders, slots: list[_Slot], parent: int) -> str:
    out = []
    for node in nodes:
        if isinstance(node, _Text):
            out.append(_HTML_SPACE.sub(" ", node.value))
            continue
        index = len(slots)
        atom = _is_atom(node)
        slots.append(_Slot(node, not atom, parent))
        out.append(ph.open(index))
        if not atom:
            assert isinstance(node, _Element)
            out.append(_mask(node.children, ph, slots, index))
            out.append(ph.close(index))
    return "".join(out)


def _slot_name(node: _Node) -> str:
    if isinstance(node, _Element):
        return f"<{node.name}>"
    if isinstance(node, _Other):
        return {"comment": "comment", "stray": "stray end tag"}.get(node.kind, "markup")
    return "text"


def _tokens(text: str, ph: Placeholders, count: int) -> list[str | tuple[str, int]]:
    table: dict[str, tuple[str, int]] = {}
    for i in range(count):
        table.setdefault(ph.open(i), ("o", i))
        table.setdefault(ph.close(i), ("c", i))
    if not table:
        return [text] if text else []
    pattern = re.compile("|".join(map(re.escape, sorted(table, key=len, reverse=True))))
    out: list[str | tuple[str, int]] = []
    pos = 0
    for match in pattern.finditer(text):
        if match.start() > pos:
            out.append(text[pos : match.start()])
        out.append(table[match.group()])
        pos = match.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def _problems(tokens: list[str | tuple[str, int]], slots: list[_Slot]) -> list[str]:
    opens = Counter(t[1] for t in tokens if isinstance(t, tuple) and t[0] == "o")
    closes = Counter(t[1] for t in tokens if isinstance(t, tuple) and t[0] == "c")
    problems = []
    for i, slot in enumerate(slots):
        name = _slot_name(slot.node)
        if opens[i] == 0:
            problems.append(f"{name} placeholder lost")
        elif opens[i] > 1:
            problems.append(f"{name} placeholder duplicated")
        elif slot.paired and closes[i] != 1:
            problems.append(
                f"{name} closing placeholder {'lost' if not closes[i] else 'duplicated'}"
            )
        elif not slot.paired and closes[i]:
            problems.append(f"{name} got a closing placeholder")
    if problems:
        return problems
    stack = [-1]
    for token in tokens:
        if isinstance(token, str):
            continue
        kind, i = token
        slot = slots[i]
        if kind == "c":
            if stack[-1] != i:
                return [f"{_slot_name(slot.node)} placeholders out of order"]
            stack.pop()
        elif slot.parent != stack[-1]:
            return [f"{_slot_name(slot.node)} placeholder moved out of its parent"]
        elif slot.paired:
            stack.append(i)
    return []


def _end_tag(element: _Element) -> str:
    return element.end if element.end else f"</{element.name}>"


class _Rebuild:
    def __init__(self, escaper: _Escaper, starts: dict[int, str]) -> None:
        self.escaper = escaper
        self.starts = starts

    def atom(self, node: _Node) -> str:
        return _render(node, self.starts, {})

    def element_start(self, element: _Element) -> str:
        return self.starts.get(id(element), element.start)

    def masked(self, tokens: list[str | tuple[str, int]], slots: list[_Slot]) -> str:
        out = []
        for token in tokens:
            if isinstance(token, str):
                out.append(self.escaper.text(token))
                continue
            kind, i = token
            node = slots[i].node
            if not slots[i].paired:
                out.append(self.atom(node))
            else:
                assert isinstance(node, _Element)
                out.append(self.element_start(node) if kind == "o" else _end_tag(node))
        return "".join(out)

    def pieces(self, nodes: Sequence[_Node], texts: dict[int, str]) -> str:
        out = []
        for node in nodes:
            if isinstance(node, _Text):
                out.append(self.escaper.text(texts[id(node)]) if id(node) in texts else node.raw)
            elif _is_atom(node):
                out.append(self.atom(node))
            else:
                assert isinstance(node, _Element)
                out.append(self.element_start(node))
                out.append(self.pieces(node.children, texts))
                out.append(node.end or "")  # source order: implicit ends stay implicit
        return "".join(out)


def _text_nodes(nodes: Sequence[_Node]) -> Iterator[_Text]:
    for node in nodes:
        if isinstance(node, _Text):
            yield node
        elif isinstance(node, _Element) and not _is_atom(node):
            yield from _text_nodes(node.children)


def _split_space(raw: str) -> tuple[str, str, str]:
    core = raw.strip(_SPACE_CHARS)
    if not core:
        return raw, "", ""
    lead = raw[: len(raw) - len(raw.lstrip(_SPACE_CHARS))]
    trail = raw[len(raw.rstrip(_SPACE_CHARS)) :]
    return lead, core, trail


def translate_document(
    source: str,
    translate: TranslateBatch,
    placeholders: Placeholders = DEFAULT_PLACEHOLDERS,
    *,
    rtl: bool = False,
) -> Rebuilt:
    """``source`` with every unit translated (one ``translate`` call for all units and
    attribute values; a second one for the text runs of the units whose placeholders did
    not survive) and everything else as written."""
    root = _parse(source)
    escaper = _Escaper(source)
    units: list[_Unit] = []
    collisions: list[tuple[_Unit, str]] = []
    attr_units: list[tuple[_Element, str, str]] = []
    for element in _elements(root):
        if element.opaque:
            continue
        for name, value in element.attrs:
            if name in TRANSLATED_ATTRIBUTES and value and _has_letter(value):
                attr_units.append((element, name, value))
    for container, start, stop in _runs(root):
        nodes = container.children[start:stop]
        if not _has_letter(_run_text(nodes)):
            continue
        lead = trail = ""
        first, last = nodes[0], nodes[-1]
        if isinstance(first, _Text):
            lead = first.raw[: len(first.raw) - len(first.raw.lstrip(_SPACE_CHARS))]
        if isinstance(last, _Text):
            trail = last.raw[len(last.raw.rstrip(_SPACE_CHARS)) :]
            if first is last and len(lead) + len(trail) > len(first.raw):
                trail = ""
        slots: list[_Slot] = []
        masked = _mask(nodes, placeholders, slots, -1).strip(_SPACE_CHARS)
        unit = _Unit(
            len(units) + len(collisions) + 1,
            container.name or "fragment",
            container,
            start,
            stop,
            lead,
            trail,
            masked,
            slots,
        )
        expected = sum(2 if s.paired else 1 for s in slots)
        found = sum(1 for t in _tokens(masked, placeholders, len(slots)) if isinstance(t, tuple))
        unclosed = [
            s.node.name
            for s in slots
            if isinstance(s.node, _Element) and s.node.opaque and s.node.end is None
        ]
        if found != expected:
            collisions.append((unit, "placeholder text already in the source"))
        elif unclosed:  # an unclosed <script> runs to the end: nothing may follow it
            collisions.append((unit, f"unclosed <{unclosed[0]}> in the unit"))
        else:
            units.append(unit)

    batch = [u.masked for u in units] + [value for _, _, value in attr_units]
    results = list(translate(batch)) if batch else []
    if len(results) != len(batch):
        raise ValueError(f"translate returned {len(results)} texts for {len(batch)}")
    values: dict[int, dict[str, str]] = {}
    for (element, name, value), result in zip(attr_units, results[len(units) :], strict=True):
        values.setdefault(id(element), {})[name] = result if result.strip() else value
    targets = {id(e) for e in _rtl_targets(root)} if rtl else set()
    starts = {}
    for element in _elements(root):
        if id(element) in values or id(element) in targets:
            starts[id(element)] = _new_start(
                element, values.get(id(element), {}), escaper, rtl=id(element) in targets
            )
    rebuild = _Rebuild(escaper, starts)

    runs: dict[int, tuple[int, str]] = {}
    failed = list(collisions)
    for unit, result in zip(units, results[: len(units)], strict=True):
        tokens = _tokens(result, placeholders, len(unit.slots))
        problems = _problems(tokens, unit.slots)
        if not problems and not "".join(t for t in tokens if isinstance(t, str)).strip():
            problems = ["translation empty"]
        if problems:
            failed.append((unit, "; ".join(problems)))
            continue
        text = unit.lead + rebuild.masked(tokens, unit.slots) + unit.trail
        runs[id(unit.container.children[unit.start])] = (unit.stop - unit.start, text)

    pieces: list[tuple[_Text, str, str, str]] = []
    for unit, _ in failed:
        for node in _text_nodes(unit.container.children[unit.start : unit.stop]):
            lead, core, trail = _split_space(node.raw)
            core_text = _HTML_SPACE.sub(" ", _html.unescape(core))
            if _has_letter(core_text):
                pieces.append((node, lead, core_text, trail))
    second = list(translate([p[2] for p in pieces])) if pieces else []
    if len(second) != len(pieces):
        raise ValueError(f"translate returned {len(second)} texts for {len(pieces)}")
    texts: dict[int, str] = {}
    for (node, lead, core, trail), result in zip(pieces, second, strict=True):
        texts[id(node)] = lead + (result if result.strip() else core) + trail
    for unit, _ in failed:
        nodes = unit.container.children[unit.start : unit.stop]
        text = rebuild.pieces(nodes, texts)
        runs[id(nodes[0])] = (len(nodes), text)

    notes = tuple(
        f"unit {unit.number} (<{unit.label}>): {why}"
        for unit, why in sorted(failed, key=lambda f: f[0].number)
    )
    return Rebuilt(_render(root, starts, runs), len(batch), notes)


# ------------------------------------------------------------------------- structure


def _struct_attrs(element: _Element, skip_dir: bool) -> tuple[tuple[str, str | None], ...]:
    return tuple(
        (name, "" if name in TRANSLATED_ATTRIBUTES else value)
        for name, value in element.attrs
        if not (skip_dir and name == "dir")
    )


def _struct_inline(node: _Node, roots: set[int]) -> object:
    if isinstance(node, _Text):
        return None
    if isinstance(node, _Other):
        return (node.kind, node.raw)
    if node.opaque:
        return ("untouched", _render(node, {}, {}))
    children = sorted(
        (s for s in (_struct_inline(c, roots) for c in node.children) if s is not None), key=repr
    )
    return ("el", node.name, _struct_attrs(node, id(node) in roots), tuple(children))


def _struct_block(element: _Element, roots: set[int]) -> object:
    if element.opaque:
        return ("untouched", _render(element, {}, {}))
    out: list[object] = []
    children = element.children
    start = None
    for index, child in enumerate([*children, None]):
        if child is not None and _in_run(child):
            start = index if start is None else start
            continue
        if start is not None:
            run = children[start:index]
            if any(isinstance(n, _Element) for n in run) or _run_text(run).strip(_SPACE_CHARS):
                inner = (_struct_inline(n, roots) for n in run)
                out.append(("run", tuple(sorted((s for s in inner if s), key=repr))))
            else:
                out.append(("raw", "".join(_render(n, {}, {}) for n in run)))
            start = None
        if isinstance(child, _Element):
            out.append(_struct_block(child, roots))
        elif isinstance(child, _Other):
            out.append((child.kind, child.raw))
    return ("el", element.name, _struct_attrs(element, id(element) in roots), tuple(out))


def structure(source: str) -> object:
    """The document's tree with translatable content blanked: text inside units dropped,
    the inline elements of each unit as a sorted multiset (translation may reorder them),
    the values of ``alt``/``title``/``placeholder`` blanked and the ``dir`` attribute of
    the elements ``rtl=True`` marks left out; untouched subtrees, comments, strays and the
    whitespace between blocks as written."""
    root = _parse(source)
    roots = {id(e) for e in _rtl_targets(root)}
    return _struct_block(root, roots)


# ------------------------------------------------------------------------ plain text


def _hidden(element: _Element) -> bool:
    attrs = {k: (v or "") for k, v in element.attrs}
    return (
        element.name in STRIPPED
        or "hidden" in attrs
        or attrs.get("aria-hidden", "").lower() == "true"
        or attrs.get("role", "").lower() in ("navigation", "banner", "contentinfo", "search")
    )


def plain_text(source: str) -> str:
    """The readable text: of the first ``<main>`` if there is one, else of the
    ``<article>`` elements, else of the whole document. Left out: ``script style noscript
    template head nav footer aside form button select textarea input iframe object embed
    svg math canvas audio video pre dialog menu`` subtrees, elements with ``hidden``,
    ``aria-hidden="true"`` or role navigation/banner/contentinfo/search, ``<header>``
    outside ``<main>``/``<article>``, comments and the doctype. Inline ``code`` stays (it
    is part of its sentence; code blocks are ``pre``). Each block element is a paragraph
    (paragraphs joined by a blank line), ``<br>`` a line break, whitespace collapsed."""
    root = _parse(source)
    elements = list(_elements(root))
    scope = [e for e in elements if e.name == "main"][:1] or [
        e
        for e in elements
        if e.name == "article" and not any(a.name == "article" for a in _ancestors(e))
    ]
    in_article = bool(scope)
    paragraphs: list[str] = []
    line: list[str] = []

    def flush() -> None:
        text = "".join(line)
        line.clear()
        lines = [_HTML_SPACE.sub(" ", part).strip() for part in text.split("\n")]
        block = "\n".join(part for part in lines if part)
        if block:
            paragraphs.append(block)

    def walk(element: _Element) -> None:
        for child in element.children:
            if isinstance(child, _Text):
                line.append(_HTML_SPACE.sub(" ", child.value))
            elif isinstance(child, _Element):
                if _hidden(child) or (child.name == "header" and not in_article):
                    continue
                if child.name == "br":
                    line.append("\n")
                elif child.inline:
                    walk(child)
                else:
                    flush()
                    walk(child)
                    flush()

    for element in scope or [root]:
        walk(element)
        flush()
    return "\n\n".join(paragraphs)


def _ancestors(element: _Element) -> Iterator[_Element]:
    parent = element.parent
    while parent is not None:
        yield parent
        parent = parent.parent
