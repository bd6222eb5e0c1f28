"""HTML and Markdown through a real server on the tiny models: Translate keeps the
structure (a real page and a real README from this machine, see tests/data/README-markup.md),
untouched parts stay byte for byte, a model that loses the placeholders still gives the
same structure and says MARKUP_FALLBACK, and Summarize briefs the readable text only."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from polybrief.client import Client, InvalidArgumentError
from polybrief.service.models.backends import Generated
from polybrief.service.text.markup import html, markdown
from server_harness import ServerThread, running

DATA = Path(__file__).resolve().parent / "data"
PAGE = DATA / "rustdoc-what-is-rustdoc.html"
README = DATA / "rich-README.md"
POLYBRIEF = str(Path(sys.executable).parent / "polybrief")


def _pre_blocks(text: str) -> list[str]:
    return re.findall(r"<pre\b.*?</pre>", text, flags=re.S)


def _fenced(text: str) -> list[str]:
    return re.findall(r"^```.*?^```", text, flags=re.S | re.M)


@pytest.fixture(scope="module")
def roomy(tiny_dir: Path) -> Any:
    """A client of a server whose per-text limit fits the real page (27,000 characters,
    markup included: the limits count what is sent)."""
    with (
        running(tiny_dir / "catalog.toml", max_item_characters=40_000) as server,
        Client(server.address, timeout=600) as c,
    ):
        yield c


@pytest.mark.parametrize(
    ("path", "mime", "module", "untouched"),
    [
        (PAGE, "text/html", html, _pre_blocks),
        (README, "text/markdown", markdown, _fenced),
    ],
    ids=["html-page", "markdown-readme"],
)
def test_a_real_document_keeps_its_structure(
    roomy: Client, path: Path, mime: str, module: Any, untouched: Any
) -> None:
    """Same structure, code untouched byte for byte, every link target kept."""
    document = path.read_text(encoding="utf-8")
    [item] = roomy.translate(document, to="fr", source="en", mime_type=mime)
    assert item.error is None, item.error
    assert item.text != document
    assert module.structure(item.text) == module.structure(document)
    assert untouched(item.text) == untouched(document)
    assert _targets(item.text) == _targets(document)
    assert item.route.kind == "direct"
    assert 0 < item.confidence <= 1


def _targets(text: str) -> list[str]:
    """Link targets, HTML and Markdown."""
    return re.findall(r'href="[^"]*"|\]\(\S+?\)', text)


@pytest.fixture
def placeholder_dropping(tiny_server: ServerThread) -> Any:
    """The en→fr model made to answer every text without its placeholders (a fake
    backend for the one model: the fallback path, deterministically)."""
    backend = tiny_server.engine.registry.get("tiny-marian-en-fr").backend
    original = backend.generate

    def generate(texts: Any, task: Any) -> Generated:
        out = [re.sub(r"ZXQ\d+|\[\d+\]|</?x\d+>|@@\d+@@", "", t).upper() for t in texts]
        return Generated(out, len(texts), len(texts), [-0.1] * len(texts))

    backend.generate = generate
    yield original
    del backend.generate


def test_lost_placeholders_keep_the_structure_and_say_so(
    client: Client, placeholder_dropping: Any
) -> None:
    source = (
        '<p>The <b>navy</b> sailed with <a href="https://example.org/x">the French</a> '
        "allies.</p>\n<ul><li>One <em>ship</em></li><li>Two</li></ul>"
    )
    [item] = client.translate(source, to="fr", source="en", mime_type="text/html; charset=utf-8")
    assert html.structure(item.text) == html.structure(source)
    assert 'href="https://example.org/x"' in item.text
    [warning] = [w for w in item.warnings if w.code == "MARKUP_FALLBACK"]
    assert "2 of 3 units" in warning.message
    assert "NAVY" in item.text  # the text between the tags was translated


def test_markdown_with_lost_placeholders_keeps_the_structure(
    client: Client, placeholder_dropping: Any
) -> None:
    source = "# The *navy*\n\nShips of **the French** and [allies](https://a.example/y).\n"
    [item] = client.translate(source, to="fr", source="en", mime_type="text/markdown")
    assert markdown.structure(item.text) == markdown.structure(source)
    assert "(https://a.example/y)" in item.text
    assert any(w.code == "MARKUP_FALLBACK" for w in item.warnings)


def test_summarize_briefs_the_readable_text_of_a_page(client: Client) -> None:
    page = (
        "<html><head><title>t</title><style>p { color: red }</style></head><body>"
        "<nav><a href='/'>Home</a> Navigation menu entries for everyone</nav>"
        "<script>var secret = 'Scripts never reach a brief';</script>"
        "<article><p>President Vladimir Putin on Tuesday ordered the Russian navy to work "
        "with the French as allies.</p><p>The order came after the attacks in Paris, "
        "officials said in Moscow.</p></article></body></html>"
    )
    result = client.summarize(
        page, to=["en"], source="en", mode="extractive", mime_type="text/html"
    )
    [brief] = result.briefs
    assert "Putin" in brief.text
    assert "<" not in brief.text
    for hidden in ("secret", "Navigation", "color"):
        assert hidden not in brief.text
    assert result.pipeline.input_characters == len(page)


@pytest.mark.parametrize("mime", ["text/rtf", "html", "application/json"])
def test_an_unknown_mime_type_names_the_field(client: Client, mime: str) -> None:
    with pytest.raises(InvalidArgumentError) as translate:
        client.translate("Ships sail.", to="fr", mime_type=mime)
    assert [f for f, _ in translate.value.field_violations] == ["mime_type"]
    with pytest.raises(InvalidArgumentError) as summarize:
        client.summarize("Ships sail.", mime_type=mime)
    assert [f for f, _ in summarize.value.field_violations] == ["mime_type"]


def test_a_page_without_readable_text_is_invalid(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        client.summarize("<script>x = 1</script><pre>code</pre>", mime_type="text/html")
    assert [f for f, _ in err.value.field_violations] == ["text"]


def test_markup_counts_towards_the_limits(client: Client, tiny_server: ServerThread) -> None:
    """The limits count the document as sent: markup alone can exceed them."""
    limit = tiny_server.settings.max_item_characters
    page = "<div>" * (limit // 5) + "<p>Ships.</p>"
    with pytest.raises(InvalidArgumentError) as err:
        client.translate(page, to="fr", source="en", mime_type="text/html")
    assert [f for f, _ in err.value.field_violations] == ["texts[0]"]


def test_unbalanced_html_is_parsed_leniently(client: Client) -> None:
    """Unclosed elements are closed where a browser would close them; the output has the
    structure of that repaired tree and every tag the input had."""
    source = "<p>The <b>navy sailed<p>With <i>allies</p>"
    [item] = client.translate(source, to="fr", source="en", mime_type="text/html")
    assert item.error is None
    assert html.structure(item.text) == html.structure(source)
    for tag in ("<p>", "<b>", "<i>"):
        assert item.text.count(tag) == source.count(tag)


def test_the_cli_translates_a_page_from_standard_input(server_address: str) -> None:
    import json
    import subprocess

    source = '<p>The <b>navy</b> sailed <a href="https://example.org/">home</a>.</p>'
    done = subprocess.run(
        [
            POLYBRIEF,
            "translate",
            "-",
            "--to",
            "fr",
            "--from",
            "en",
            "--format",
            "html",
            "--json",
            "--server",
            server_address,
        ],
        input=source.encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [item] = json.loads(done.stdout)
    assert html.structure(item["text"]) == html.structure(source)
    bad = subprocess.run(
        [POLYBRIEF, "translate", "x", "--to", "fr", "--format", "rtf", "--server", server_address],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert b"--format" in bad.stderr


def test_html_into_a_right_to_left_language_gets_dir_rtl(tiny_dir: Path, tmp_path: Path) -> None:
    """Into Arabic (the tiny NLLB model, whose vocabulary has every FLORES code, serving
    en and ar here) the root element says dir="rtl"; into French it does not."""
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        f'[[models]]\nid = "tiny-nllb-ar"\nfamily = "nllb"\nsource = "{tiny_dir / "tiny-nllb"}"\n'
        'tasks = ["translate"]\nlanguages = ["en", "ar", "fr"]\nlicense = "random weights"\n'
        "[models.generation]\nnum_beams = 1\nmax_new_tokens = 12\nmin_new_tokens = 4\n",
        encoding="utf-8",
    )
    source = "<p>The <b>navy</b> sailed.</p>\n<p>Allies met.</p>"
    with running(catalog) as server, Client(server.address, timeout=600) as c:
        [arabic] = c.translate(source, to="ar", source="en", mime_type="text/html")
        [french] = c.translate(source, to="fr", source="en", mime_type="text/html")
    assert arabic.error is None, arabic.error
    assert arabic.text.count('dir="rtl"') == 2  # each top-level block of the fragment
    assert html.structure(arabic.text) == html.structure(source)
    assert "dir=" not in french.text
