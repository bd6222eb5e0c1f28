"""Typer application: commands parse options, call the client, render, set the exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from polybrief.cli import _render as render
from polybrief.client import Client, InvalidArgumentError, ModelNotInstalledError, PolybriefError
from rich.console import Console

EXIT_ITEM_ERRORS = 3
app = typer.Typer(
    help="polybrief: multilingual briefs and translations over gRPC.\n\n"
    "Exit codes: 0 success, 1 error, 3 some briefs/translations carry per-item errors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="List, pull and build models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
out = Console(soft_wrap=False)
err = Console(stderr=True)

Server = Annotated[str, typer.Option(envvar="POLYBRIEF_SERVER", help="Server address host:port.")]
Timeout = Annotated[float, typer.Option(help="Deadline of each call in seconds.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
DEFAULT_SERVER = "localhost:50051"


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise typer.BadParameter(f"no such file: {source}")
    return path.read_text(encoding="utf-8")


def _fail(error: PolybriefError) -> None:
    err.print(f"{type(error).__name__}: {error.details}", markup=False, highlight=False)
    if isinstance(error, InvalidArgumentError):
        for field, description in error.field_violations:
            err.print(f"  {field}: {description}", markup=False, highlight=False)
    if isinstance(error, ModelNotInstalledError) and error.hint:
        err.print(f"  fix: {error.hint}", markup=False, highlight=False)
    raise typer.Exit(1)


def _summarize(
    source: str,
    to: str,
    lang: str | None,
    words: int | None,
    mode: str,
    server: str,
    timeout: float,
    json_out: bool,
) -> None:
    text = _read(source)
    targets = [t.strip() for t in to.split(",") if t.strip()]
    try:
        with Client(server, timeout=timeout) as client:
            result = client.summarize(text, to=targets, source=lang, max_words=words, mode=mode)
    except PolybriefError as error:
        _fail(error)
        return
    if json_out:
        out.print_json(render.as_json(result))
    else:
        render.briefs(out, result)
    if any(b.error for b in result.briefs):
        raise typer.Exit(EXIT_ITEM_ERRORS)


@app.command()
def brief(
    file: Annotated[str, typer.Argument(help="Article file, or - for standard input.")],
    to: Annotated[str, typer.Option(help="Comma-separated target languages.")] = "en,fr,ru",
    lang: Annotated[
        str | None, typer.Option("--from", help="Source language (default: detected).")
    ] = None,
    words: Annotated[
        int | None, typer.Option(help="Word budget per brief (server default 60).")
    ] = None,
    mode: Annotated[str, typer.Option(help="abstractive or extractive.")] = "abstractive",
    server: Server = DEFAULT_SERVER,
    timeout: Timeout = 120.0,
    json_out: Json = False,
) -> None:
    """Brief an article in several languages (the demo)."""
    _summarize(file, to, lang, words, mode, server, timeout, json_out)


@app.command()
def summarize(
    file: Annotated[str, typer.Argument(help="Text file, or - for standard input.")],
    to: Annotated[
        str, typer.Option(help="Comma-separated target languages (default: source).")
    ] = "",
    lang: Annotated[
        str | None, typer.Option("--from", help="Source language (default: detected).")
    ] = None,
    words: Annotated[int | None, typer.Option(help="Word budget (server default 60).")] = None,
    mode: Annotated[str, typer.Option(help="abstractive or extractive.")] = "abstractive",
    server: Server = DEFAULT_SERVER,
    timeout: Timeout = 120.0,
    json_out: Json = False,
) -> None:
    """Summarise a text (in its own language unless --to is given)."""
    _summarize(file, to, lang, words, mode, server, timeout, json_out)


@app.command()
def translate(
    texts: Annotated[list[str], typer.Argument(help="Texts to translate; - reads standard input.")],
    to: Annotated[str, typer.Option(help="Target language.")],
    lang: Annotated[
        str | None, typer.Option("--from", help="Source language (default: detected per text).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Catalogue id of the model to use.")] = None,
    server: Server = DEFAULT_SERVER,
    timeout: Timeout = 60.0,
    json_out: Json = False,
) -> None:
    """Translate texts."""
    items = [_read("-") if t == "-" else t for t in texts]
    try:
        with Client(server, timeout=timeout) as client:
            results = client.translate(items, to=to, source=lang, model=model)
    except PolybriefError as error:
        _fail(error)
        return
    if json_out:
        out.print_json(render.as_json(results))
    else:
        render.translations(out, results)
    if any(r.error for r in results):
        raise typer.Exit(EXIT_ITEM_ERRORS)


@app.command()
def detect(
    texts: Annotated[list[str], typer.Argument(help="Texts to identify.")],
    server: Server = DEFAULT_SERVER,
    timeout: Timeout = 30.0,
    json_out: Json = False,
) -> None:
    """Identify the language of texts."""
    try:
        with Client(server, timeout=timeout) as client:
            found = client.detect(texts)
    except PolybriefError as error:
        _fail(error)
        return
    if json_out:
        out.print_json(render.as_json(found))
        return
    for text, d in zip(texts, found, strict=True):  # tab-separated, for scripts
        typer.echo(
            "\t".join((d.language or "?", f"{d.confidence:.2f}", _trust(d.reliable), text[:60]))
        )


def _trust(reliable: bool) -> str:
    return "reliable" if reliable else "unreliable"


@models_app.command("list")
def models_list(
    server: Server = DEFAULT_SERVER, timeout: Timeout = 30.0, json_out: Json = False
) -> None:
    """Models of the server's catalogue and their state."""
    try:
        with Client(server, timeout=timeout) as client:
            caps = client.capabilities()
    except PolybriefError as error:
        _fail(error)
        return
    if json_out:
        out.print_json(render.as_json(caps))
    else:
        render.models_table(out, caps)


@app.command()
def health(
    server: Server = DEFAULT_SERVER,
    wait: Annotated[float, typer.Option(help="Seconds to wait for SERVING (0: ask once).")] = 0.0,
) -> None:
    """Exit 0 when the server reports SERVING."""
    try:
        with Client(server, timeout=5.0) as client:
            if wait > 0:
                client.wait_until_serving(wait)
                status = "SERVING"
            else:
                status = client.health()
    except PolybriefError as error:
        _fail(error)
        return
    out.print(status)
    if status != "SERVING":
        raise typer.Exit(1)


def _register_server_commands() -> None:
    try:
        from polybrief.service.api.cli_commands import register
    except ImportError:

        @app.command()
        def serve() -> None:
            """Run the server (needs the polybrief-service package)."""
            err.print("polybrief serve needs the server package: pip install polybrief-service")
            raise typer.Exit(1)

        return
    register(app, models_app)


_register_server_commands()


def main() -> None:
    """Console entry point."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    app()
