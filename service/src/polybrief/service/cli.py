"""``polybrief-server``: the server's own command line.

    polybrief-server serve            run the gRPC server (every setting is a flag)
    polybrief-server models pull      download catalogue models into the HF cache
    polybrief-server models convert   convert installed models to CTranslate2
    polybrief-server models make-tiny build tiny local test models and their catalogue
    polybrief-server keys new ID      create an API key

The client's ``polybrief`` command (brief, translate, detect, models list, health) is a
separate package, polybrief-client; neither imports the other.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from polybrief.service.settings import Settings
from pydantic import ValidationError
from pydantic_core import PydanticUndefined

EXIT_CONFIG = 2

app = typer.Typer(
    help="polybrief-server: run the polybrief gRPC server; fetch, convert and build its "
    "models; create API keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Fetch, convert and build the server's models.")
keys_app = typer.Typer(help="API keys for a server (POLYBRIEF_API_KEYS).")
app.add_typer(models_app, name="models", no_args_is_help=True)
app.add_typer(keys_app, name="keys", no_args_is_help=True)

_CATALOG_HELP = "Catalogue TOML (env POLYBRIEF_CATALOG; default: the shipped one)."


def _stderr(line: str) -> None:
    typer.echo(line, err=True)


def _config_error(message: str) -> typer.Exit:
    typer.echo(f"ConfigError: {message}", err=True)
    return typer.Exit(EXIT_CONFIG)


def settings_from(flags: dict[str, Any]) -> Settings:
    """Settings with the flags given (not None) over POLYBRIEF_* variables over defaults;
    an invalid value ends the command with exit code 2 and ``ConfigError: field: why``."""
    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.echo(f"ConfigError: {where}: {error['msg']}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _flag_type(annotation: Any) -> Any:
    """The command-line type of a settings field: Optional[X] → X, Literal → str."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return str
    if args and typing.get_origin(annotation) is not None:
        return args[0]
    return annotation


def _shown_default(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return f"{value} on this machine"
    if field.default is None or field.default is PydanticUndefined:
        return "unset"
    return str(field.default)


def _settings_parameters() -> list[inspect.Parameter]:
    """One ``--flag`` per Settings field, its help from the field's description, its env
    variable and its default (stated once, in Settings)."""
    parameters = []
    for name, field in Settings.model_fields.items():
        kind = _flag_type(field.annotation)
        flag = "--" + name.replace("_", "-")
        declarations = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        help_text = (
            f"{field.description} (env POLYBRIEF_{name.upper()}; default {_shown_default(name)})"
        )
        if typing.get_origin(field.annotation) is typing.Literal:
            help_text = help_text.replace(
                "(env", f"(one of {', '.join(typing.get_args(field.annotation))}; env"
            )
        option = typer.Option(*declarations, help=help_text, show_default=False)
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[kind | None, option],
            )
        )
    return parameters


def _with_settings_flags(run: Callable[[Settings], None]) -> Callable[..., None]:
    """A typer command whose flags are the Settings fields, calling ``run(settings)``."""

    def command(**flags: Any) -> None:
        run(settings_from(flags))

    parameters = _settings_parameters()
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = run.__doc__
    command.__name__ = run.__name__
    return command


def _serve(settings: Settings) -> None:
    """Run the gRPC server until SIGTERM/SIGINT, then drain for --grace-seconds.

    Every flag can also be set as a POLYBRIEF_* variable; a flag wins over its variable.
    A setting that cannot work stops the server with exit code 2 before any port opens.
    """
    from polybrief.service.middleware.auth import KeyFileError
    from polybrief.service.observability.logs import configure_logging
    from polybrief.service.server.process import serve as run
    from polybrief.service.server.tls import TlsConfigError

    configure_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(run(settings))
    except (TlsConfigError, KeyFileError) as exc:
        raise _config_error(str(exc)) from None


app.command("serve")(_with_settings_flags(_serve))


@keys_app.command("new")
def new_key(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="Name shown in logs and metrics")],
    requests_per_minute: Annotated[int | None, typer.Option(min=1)] = None,
    characters_per_minute: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Create an API key: prints the key (shown once) and the entry for the key file."""
    from polybrief.service.middleware.auth import entry_for
    from polybrief.service.middleware.auth import new_key as make

    key = make()
    entry = entry_for(key_id, key)
    if requests_per_minute:
        entry += f"requests_per_minute = {requests_per_minute}\n"
    if characters_per_minute:
        entry += f"characters_per_minute = {characters_per_minute}\n"
    typer.echo(f"# key (give it to the caller; it is not stored): {key}", err=True)
    typer.echo(entry, nl=False)


@models_app.command("pull")
def pull(
    models: Annotated[list[str] | None, typer.Argument(help="Catalogue ids (default: all)")] = None,
    catalog: Annotated[Path | None, typer.Option(help=_CATALOG_HELP)] = None,
    progress: Annotated[bool, typer.Option(help="Show download progress bars.")] = True,
) -> None:
    """Download catalogue models into the Hugging Face cache for offline serving
    (HF_ENDPOINT, HF_HOME and HF_TOKEN apply). Exits 1 when any model failed."""
    from polybrief.service.models.catalog import load_catalog
    from polybrief.service.models.pull import UnknownModelError
    from polybrief.service.models.pull import pull as pull_models

    cat = load_catalog(settings_from({"catalog": catalog}).catalog)
    try:
        results = pull_models(
            cat,
            models,
            progress=progress,
            out=typer.echo,
            err=lambda line: typer.echo(line, err=True),
        )
    except UnknownModelError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@models_app.command("make-tiny")
def make_tiny(
    directory: Annotated[Path, typer.Argument(help="Where to write the models and catalog.toml")],
) -> None:
    """Write tiny random-weight models of every family and a catalogue listing them."""
    from polybrief.service.models.tiny import make_tiny as build

    catalog = build(directory)
    typer.echo(f"wrote {catalog}\nserve them with: polybrief-server serve --catalog {catalog}")


@models_app.command("convert")
def convert(
    models: Annotated[
        list[str] | None,
        typer.Argument(help="Catalogue ids (default: every entry with backend = ctranslate2)"),
    ] = None,
    catalog: Annotated[Path | None, typer.Option(help=_CATALOG_HELP)] = None,
    compute_type: Annotated[
        str, typer.Option(help="int8, int8_float16, float16, float32 or auto")
    ] = "auto",
) -> None:
    """Convert installed models to CTranslate2 ahead of serving (else done at first load)."""
    from polybrief.service.models.backends import convert_to_ct2, ct2_device
    from polybrief.service.models.catalog import CT2_FAMILIES, load_catalog
    from polybrief.service.models.registry import checkpoint_dir

    settings = settings_from({"catalog": catalog})
    cat = load_catalog(settings.catalog)
    wanted = models or [s.id for s in cat.models if s.backend == "ctranslate2"]
    failed = 0
    for model_id in wanted:
        spec = cat.get(model_id)
        if spec is None or spec.family not in CT2_FAMILIES:
            why = "unknown model" if spec is None else f"family {spec.family} is not verified"
            typer.echo(
                f"{model_id}: skipped ({why}; CTranslate2 families: {CT2_FAMILIES})", err=True
            )
            failed += 1
            continue
        try:
            quantization = ct2_device(compute_type)[1]
            source = checkpoint_dir(spec, local_only=True)
            out = convert_to_ct2(spec, source, quantization, settings.ct2_cache)
        except Exception as exc:  # not installed, conversion errors: reported per model
            failed += 1
            typer.echo(f"{model_id}: FAILED: {type(exc).__name__}: {exc}".splitlines()[0], err=True)
            continue
        typer.echo(f"{model_id}: {quantization} → {out}")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    """Console entry point (``polybrief-server``)."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # no C-core log lines mixed into output
    app()


if __name__ == "__main__":  # python -m polybrief.service.cli
    main()
