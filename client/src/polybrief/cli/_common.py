"""What every CLI command shares: options, input reading, the client, error reporting.

Exit codes: 0 success; 1 a failed call (``ErrorType: message`` on stderr, plus the field
violations or the fix, never a traceback) or a health check that is not SERVING; 2 bad
usage (unknown option, unreadable file, invalid UTF-8, malformed --server, unreadable TLS
file); 3 the call succeeded but some briefs or translations carry a per-item error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import grpc
import typer
from polybrief.client import (
    Client,
    InvalidArgumentError,
    ModelNotInstalledError,
    PolybriefError,
    tls_credentials,
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_ITEM_ERRORS = 3
DEFAULT_SERVER = "localhost:50051"

SERVER_HELP = (
    "Server address host:port; repeat the option or give a comma-separated list for "
    "failover (the next server takes over when one goes away)."
)
#: ``--server`` of the whole command line (before the command; env POLYBRIEF_SERVER).
GlobalServers = Annotated[
    list[str] | None,
    typer.Option(
        "--server",
        "-s",
        metavar="HOST:PORT[,...]",
        envvar="POLYBRIEF_SERVER",
        show_envvar=True,
        help=SERVER_HELP + f" Default {DEFAULT_SERVER}.",
    ),
]
#: ``--server`` of one command (after it): overrides the global one.
Server = Annotated[
    list[str] | None,
    typer.Option(
        "--server",
        "-s",
        metavar="HOST:PORT[,...]",
        help=SERVER_HELP + " Overrides the global --server / POLYBRIEF_SERVER; --api-key and "
        "the --tls options go before the command (polybrief --help).",
        show_default=False,
    ),
]


def _from_env(variable: str, help_text: str, metavar: str | None = None) -> Any:
    """A global option that can also be set as environment ``variable``."""
    return typer.Option(metavar=metavar, envvar=variable, show_envvar=True, help=help_text)


ApiKey = Annotated[
    str | None,
    _from_env("POLYBRIEF_API_KEY", "API key, sent as 'authorization: Bearer <key>'.", "KEY"),
]
UseTls = Annotated[
    bool,
    typer.Option(
        "--tls",
        envvar="POLYBRIEF_CLIENT_TLS",
        show_envvar=True,
        help="Connect with TLS, checking the server against the system's root certificates "
        "(implied by --tls-ca, --tls-cert, --tls-key).",
    ),
]
TlsCa = Annotated[
    Path | None,
    _from_env(
        "POLYBRIEF_CLIENT_TLS_CA",
        "PEM file of the CA certificates the server's certificate must chain to "
        "(TLS; default: the system's roots).",
        "PEM",
    ),
]
TlsCert = Annotated[
    Path | None,
    _from_env(
        "POLYBRIEF_CLIENT_TLS_CERT",
        "PEM file of the client certificate, for servers that require mutual TLS (with --tls-key).",
        "PEM",
    ),
]
TlsKey = Annotated[
    Path | None,
    _from_env(
        "POLYBRIEF_CLIENT_TLS_KEY",
        "PEM file of the client certificate's private key (with --tls-cert).",
        "PEM",
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


def server_list(values: Sequence[str] | None) -> list[str]:
    """Server addresses of repeated and comma-separated ``--server`` values, in order."""
    return [item.strip() for value in values or () for item in value.split(",") if item.strip()]


@dataclasses.dataclass(frozen=True)
class Connection:
    """How client commands reach the server: the global options (and their variables)."""

    servers: tuple[str, ...] = ()
    api_key: str | None = None
    tls: bool = False
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials when any TLS option is set, else None (plaintext)."""
        if not (self.tls or self.tls_ca or self.tls_cert or self.tls_key):
            return None
        return tls_credentials(self.tls_ca, cert=self.tls_cert, key=self.tls_key)


def _connection(ctx: typer.Context | None) -> Connection:
    """The global options of the running command line (defaults outside one)."""
    found = ctx.find_object(Connection) if ctx is not None else None
    return found if isinstance(found, Connection) else Connection()


def _usage_error(message: str) -> NoReturn:
    _stderr(f"Invalid value: {message}")
    raise typer.Exit(EXIT_USAGE)


@contextlib.contextmanager
def connect(
    ctx: typer.Context | None, server: Sequence[str] | None, timeout: float
) -> Iterator[Client]:
    """A client for the command of ``ctx``, over the command's ``--server`` values (else
    the global ones, else the default) and the global key and TLS options; a failed call
    or a bad argument ends the command cleanly."""
    conn = _connection(ctx)
    servers = server_list(server) or list(conn.servers) or [DEFAULT_SERVER]
    try:
        credentials = conn.credentials()
    except (OSError, ValueError) as error:  # unreadable file, certificate without key
        _usage_error(str(error))
    try:
        target = servers[0] if len(servers) == 1 else servers
        with Client(target, timeout=timeout, credentials=credentials, api_key=conn.api_key) as c:
            yield c
    except PolybriefError as error:
        fail(error)
    except ValueError as error:  # rejected client-side (e.g. a value out of range)
        _usage_error(str(error))
