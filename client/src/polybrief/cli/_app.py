"""The typer application: commands parse options, call the client, render, set the exit code.

Exit codes: 0 success; 1 a failed call or a server that is not SERVING; 2 bad usage;
3 some briefs or translations carry a per-item error (the others are printed).
"""

import os
from typing import Annotated, Any

import typer
from polybrief.cli import _render as render
from polybrief.cli._common import (
    EXIT_ERROR,
    EXIT_ITEM_ERRORS,
    EXIT_USAGE,
    ApiKey,
    Connection,
    GlobalServers,
    Json,
    Server,
    SourceLanguage,
    Timeout,
    TlsCa,
    TlsCert,
    TlsKey,
    UseTls,
    connect,
    expand_stdin,
    language_list,
    read_text,
    server_list,
)
from polybrief.client import GlossaryTerm, SummaryMode, parse_glossary

app = typer.Typer(
    help="polybrief: multilingual briefs and translations over gRPC.\n\n"
    "Connection options (--server, --api-key, --tls*) go before the command and apply to "
    "every client command: polybrief --server a:50051,b:50051 --tls-ca ca.pem health. "
    "A command's own --server overrides the global one.\n\n"
    "Exit codes: 0 success; 1 error (message on stderr); 2 bad usage; "
    "3 some briefs/translations carry per-item errors (shown in the output).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(
    help="List the server's models (fetching and building them: polybrief-server models)."
)
app.add_typer(models_app, name="models", no_args_is_help=True)


@app.callback()
def connection(
    ctx: typer.Context,
    server: GlobalServers = None,
    api_key: ApiKey = None,
    tls: UseTls = False,
    tls_ca: TlsCa = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
) -> None:
    """Connection options, shared by every client command."""
    ctx.obj = Connection(
        tuple(server_list(server)), api_key or None, tls, tls_ca, tls_cert, tls_key
    )


Words = Annotated[
    int | None,
    typer.Option(min=1, help="Word budget per brief (default and range: the server's limits)."),
]
Mode = Annotated[SummaryMode, typer.Option(help="abstractive or extractive.")]
GlossaryFile = Annotated[
    str | None,
    typer.Option(
        "--glossary",
        metavar="FILE",
        help="Glossary file (UTF-8, - for standard input), one term per line: "
        "source<TAB>target (TSV) or source=target; a line with only the source (or an "
        "empty target) is a term to keep as it is (do not translate). Every term found in "
        "the source comes out verbatim as the file says.",
        show_default=False,
    ),
]
GlossaryIgnoreCase = Annotated[
    bool,
    typer.Option("--glossary-ignore-case", help="Match glossary sources ignoring case."),
]


Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="html|markdown|text",
        help="Format of the input (default: guessed from the article file's extension, "
        ".html/.htm → html, .md/.markdown → markdown; else text). HTML and Markdown are "
        "translated with their structure kept; briefs are plain text.",
        show_default=False,
    ),
]
_FORMATS = {"html": "text/html", "markdown": "text/markdown", "text": "text/plain"}
_EXTENSIONS = {".html": "html", ".htm": "html", ".xhtml": "html", ".md": "markdown"}
_EXTENSIONS[".markdown"] = "markdown"


def _mime_type(chosen: str | None, file: str | None = None) -> str:
    """The MIME type of ``--format`` (else guessed from ``file``'s extension)."""
    if chosen is None:
        suffix = os.path.splitext(file or "")[1].lower()
        chosen = _EXTENSIONS.get(suffix, "text")
    if chosen not in _FORMATS:
        raise typer.BadParameter(
            f"{chosen!r} is not one of {', '.join(_FORMATS)}", param_hint="--format"
        )
    return _FORMATS[chosen]


def _glossary(file: str | None) -> list[GlossaryTerm] | None:
    """The terms of ``--glossary FILE`` (None without one); a bad file is bad usage."""
    if file is None:
        return None
    try:
        return parse_glossary(read_text(file))
    except ValueError as error:
        raise typer.BadParameter(f"{file}: {error}", param_hint="--glossary") from None


def _summary_command(name: str, *, to: str, to_help: str, file_help: str, doc: str) -> None:
    """Registers ``brief`` and ``summarize``: one command with two sets of defaults."""

    def command(
        ctx: typer.Context,
        file: Annotated[str, typer.Argument(help=file_help)],
        to: Annotated[str, typer.Option(help=to_help)] = to,
        lang: SourceLanguage = None,
        words: Words = None,
        mode: Mode = "abstractive",
        server: Server = None,
        glossary: GlossaryFile = None,
        glossary_ignore_case: GlossaryIgnoreCase = False,
        format_: Format = None,
        timeout: Timeout = 120.0,
        json_out: Json = False,
    ) -> None:
        text = read_text(file)
        options: dict[str, Any] = {
            "mime_type": _mime_type(format_, file),
            "to": language_list(to),
            "source": lang,
            "max_words": words,
            "mode": mode,
            "glossary": _glossary(glossary),
            "glossary_ignore_case": glossary_ignore_case,
        }
        with connect(ctx, server, timeout) as client:
            if json_out:
                result = client.summarize(text, **options)
                render.print_json(result)
            else:
                events = client.stream_summarize(text, **options)
                result = render.streamed_briefs(render.stdout(), events, options["to"])
        if any(b.error for b in result.briefs):
            raise typer.Exit(EXIT_ITEM_ERRORS)

    command.__doc__ = doc
    app.command(name)(command)


_summary_command(
    "brief",
    to="en,fr,ru",
    to_help="Comma-separated languages of the briefs.",
    file_help="Article file, or - for standard input.",
    doc="Brief an article in several languages (the demo).\n\n"
    "Prints one panel per language (brief, mode, route), then the source language and what "
    "the text pipeline did. Exits 3 when some briefs could not be produced.",
)
_summary_command(
    "summarize",
    to="",
    to_help="Comma-separated languages of the briefs (default: the source's).",
    file_help="Text file, or - for standard input.",
    doc="Summarise a text, in its own language unless --to is given.",
)


@app.command()
def translate(
    ctx: typer.Context,
    texts: Annotated[
        list[str], typer.Argument(help="Texts; - reads standard input, one text per paragraph.")
    ],
    to: Annotated[str, typer.Option(help="Target language.")],
    lang: Annotated[
        str | None, typer.Option("--from", help="Source language (default: detected per text).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Catalogue id of the model to use.")] = None,
    glossary: GlossaryFile = None,
    glossary_ignore_case: GlossaryIgnoreCase = False,
    format_: Format = None,
    server: Server = None,
    timeout: Timeout = 60.0,
    json_out: Json = False,
) -> None:
    """Translate texts; exits 3 when some could not be translated.

    With --format html or markdown, a ``-`` reads one whole document from standard input.
    """
    terms = _glossary(glossary)
    mime_type = _mime_type(format_)
    items = expand_stdin(texts) if mime_type == "text/plain" else _whole(texts)
    options: dict[str, Any] = {
        "source": lang,
        "model": model,
        "glossary_ignore_case": glossary_ignore_case,
    }
    with connect(ctx, server, timeout) as client:
        results = client.translate(items, to=to, glossary=terms, mime_type=mime_type, **options)
    if json_out:
        render.print_json(results)
    else:
        render.translations(render.stdout(), results)
    if any(r.error for r in results):
        raise typer.Exit(EXIT_ITEM_ERRORS)


def _whole(texts: list[str]) -> list[str]:
    """The texts as given, ``-`` read from standard input as one document."""
    return [read_text(text) if text == "-" else text for text in texts]


@app.command()
def detect(
    ctx: typer.Context,
    texts: Annotated[
        list[str], typer.Argument(help="Texts; - reads standard input, one text per paragraph.")
    ],
    server: Server = None,
    timeout: Timeout = 30.0,
    json_out: Json = False,
) -> None:
    """Identify the language of texts: one tab-separated line per text
    (language, confidence, reliable/unreliable, the text's start)."""
    items = expand_stdin(texts)
    with connect(ctx, server, timeout) as client:
        found = client.detect(items)
    if json_out:
        render.print_json(found)
    else:
        render.detections(items, found)


@models_app.command("list")
def models_list(
    ctx: typer.Context, server: Server = None, timeout: Timeout = 30.0, json_out: Json = False
) -> None:
    """The models of the server's catalogue: family, tasks, languages, state, license."""
    with connect(ctx, server, timeout) as client:
        caps = client.capabilities()
    if json_out:
        render.print_json(caps)
    else:
        render.models_table(render.stdout(), caps)


@app.command()
def health(
    ctx: typer.Context,
    server: Server = None,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for SERVING (0: ask once).")
    ] = 0.0,
    timeout: Timeout = 5.0,
) -> None:
    """Print the server's health status; exit 0 when it is SERVING, 1 otherwise."""
    with connect(ctx, server, timeout) as client:
        if wait > 0:
            client.wait_until_serving(wait)
            status = "SERVING"
        else:
            status = client.health()
    typer.echo(status)
    if status != "SERVING":
        raise typer.Exit(EXIT_ERROR)


SERVER_COMMANDS = {
    "serve": "polybrief-server serve",
    "keys": "polybrief-server keys new ID",
    "pull": "polybrief-server models pull [IDS]",
    "convert": "polybrief-server models convert [IDS]",
    "make-tiny": "polybrief-server models make-tiny DIR",
}


def _server_command(name: str) -> None:
    """Registers ``name`` as a pointer to the server's own command line: this package
    never imports the server package, so it cannot tell whether it is installed."""
    instead = SERVER_COMMANDS[name]

    def pointer() -> None:
        typer.echo(
            f"'{name}' is a server command: run `{instead}` (the polybrief-server command "
            "comes with the server package: pip install polybrief-service)",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)

    group = models_app if name in ("pull", "convert", "make-tiny") else app
    anything = {"ignore_unknown_options": True, "allow_extra_args": True}
    group.command(name, help=f"Server side: see `{instead}`.", context_settings=anything)(pointer)


for _name in SERVER_COMMANDS:
    _server_command(_name)


def main() -> None:
    """Console entry point (``polybrief``)."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # no C-core log lines mixed into output
    app()
