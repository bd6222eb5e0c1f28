"""What every CLI command shares: options, input reading, the client, error reporting.

Exit codes: 0 success; 1 a failed call (``ErrorType: message`` on stderr, plus the field
violations or the fix, never a traceback) or a health check that is not SERVING; 2 bad
usage (unknown option, unreadable file, invalid UTF-8); 3 the call succeeded but some
briefs or translations carry a per-item error (shown in the output).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from polybrief.client import Client, InvalidArgumentError, ModelNotInstalledError, PolybriefError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_ITEM_ERRORS = 3
DEFAULT_SERVER = "localhost:50051"

Server = Annotated[
    str,
    typer.Option(
        envvar="POLYBRIEF_SERVER", help="Server address host:port (env POLYBRIEF_SERVER)."
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Timeout = Annotated[float, typer.Option(min=0.001, help="Deadline of each call in seconds.")]
SourceLanguage = Annotated[
    str | None, typer.Option("--from", help="Source language (default: detected).")
]


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"{exc.reason} at byte {exc.start}"
        raise typer.BadParameter(f"{name} is not valid UTF-8 ({reason})") from None


def read_text(source: str) -> str:
    """The UTF-8 text of file ``source``, or of standard input for "-"."""
    if source == "-":
        return _decode(sys.stdin.buffer.read(), "standard input")
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {source}: {exc.strerror or exc}") from None
    return _decode(data, source)


def paragraphs(text: str) -> list[str]:
    """The paragraphs (blocks separated by blank lines) of ``text``, stripped."""
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def expand_stdin(texts: list[str]) -> list[str]:
    """``texts`` with a "-" replaced by the paragraphs of standard input."""
    items: list[str] = []
    for text in texts:
        items.extend(paragraphs(read_text("-")) if text == "-" else [text])
    if not items:
        raise typer.BadParameter("no text given (standard input was empty)")
    return items


def language_list(value: str) -> list[str]:
    """Splits a comma-separated list of language codes: "en, fr" → ["en", "fr"]."""
    return [code.strip() for code in value.split(",") if code.strip()]


def _stderr(line: str) -> None:
    typer.echo(line, err=True)


def fail(error: PolybriefError) -> NoReturn:
    """Prints ``ErrorType: message`` (and what the error carries) to stderr; exits 1."""
    _stderr(f"{type(error).__name__}: {' '.join(error.details.split())}")
    if isinstance(error, InvalidArgumentError):
        for field, description in error.field_violations:
            _stderr(f"  {field}: {description}")
    if isinstance(error, ModelNotInstalledError) and error.hint:
        _stderr(f"  fix: {error.hint}")
    raise typer.Exit(EXIT_ERROR)


@contextlib.contextmanager
def connect(server: str, timeout: float) -> Iterator[Client]:
    """A client for the command; a failed call or bad argument ends the command cleanly."""
    try:
        with Client(server, timeout=timeout) as client:
            yield client
    except PolybriefError as error:
        fail(error)
    except ValueError as error:  # rejected client-side (e.g. a value out of range)
        _stderr(f"Invalid value: {error}")
        raise typer.Exit(EXIT_USAGE) from None
