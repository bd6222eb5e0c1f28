"""Server-side commands of the ``polybrief`` CLI: serve, models pull, models make-tiny.

The client package's CLI calls ``register`` when this package is installed, so a
client-only install still has a working ``polybrief`` without torch.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from polybrief.service.settings import Settings

_IGNORE = [
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "onnx/*",
    "tf_model*",
    "flax_model*",
    "rust_model*",
    "*.tflite",
]


def _settings(**flags: Any) -> Settings:
    """Flags given on the command line override POLYBRIEF_* variables and defaults."""
    return Settings(**{k: v for k, v in flags.items() if v is not None})


def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (env POLYBRIEF_HOST; default 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (env POLYBRIEF_PORT; default 50051)")
    ] = None,
    catalog: Annotated[
        Path | None, typer.Option(help="Catalogue TOML (env POLYBRIEF_CATALOG; default: shipped)")
    ] = None,
    allow_download: Annotated[
        bool | None,
        typer.Option(
            "--allow-download/--offline",
            help="Fetch missing models from the hub "
            "(env POLYBRIEF_ALLOW_DOWNLOAD; default offline)",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(help="torch threads (env POLYBRIEF_INFERENCE_THREADS; default: cores)"),
    ] = None,
    max_loaded_models: Annotated[
        int | None,
        typer.Option(help="Models kept in memory (env POLYBRIEF_MAX_LOADED_MODELS; default 6)"),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="Logging level (env POLYBRIEF_LOG_LEVEL; default INFO)")
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(help="json or text (env POLYBRIEF_LOG_FORMAT; default json)"),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Prometheus /metrics port (env POLYBRIEF_METRICS_PORT; default off)"),
    ] = None,
    health_port: Annotated[
        int | None,
        typer.Option(help="Plaintext health-only port for probes (POLYBRIEF_HEALTH_PORT; off)"),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Certificate chain PEM; turns TLS on (POLYBRIEF_TLS_CERT)")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="Private key PEM of --tls-cert (POLYBRIEF_TLS_KEY)")
    ] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(help="CA PEM for client certificates: mutual TLS (POLYBRIEF_TLS_CLIENT_CA)"),
    ] = None,
    api_keys: Annotated[
        Path | None,
        typer.Option(help="API key file (TOML, see `polybrief keys new`; POLYBRIEF_API_KEYS)"),
    ] = None,
    max_concurrent_calls: Annotated[
        int | None,
        typer.Option(help="Calls served at once (POLYBRIEF_MAX_CONCURRENT_CALLS; default 64)"),
    ] = None,
    grace_seconds: Annotated[
        float | None,
        typer.Option(help="Drain time on SIGTERM (POLYBRIEF_GRACE_SECONDS; default 10)"),
    ] = None,
) -> None:
    """Run the gRPC server until SIGTERM/SIGINT (every setting: POLYBRIEF_* variables)."""
    from pydantic import ValidationError

    try:
        settings = _settings(
            host=host,
            port=port,
            catalog=catalog,
            allow_download=allow_download,
            inference_threads=threads,
            max_loaded_models=max_loaded_models,
            log_level=log_level,
            log_format=log_format,
            metrics_port=metrics_port,
            health_port=health_port,
            tls_cert=tls_cert,
            tls_key=tls_key,
            tls_client_ca=tls_client_ca,
            api_keys=api_keys,
            max_concurrent_calls=max_concurrent_calls,
            grace_seconds=grace_seconds,
        )
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.echo(f"ConfigError: {where}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    from polybrief.service.api.auth import KeyFileError
    from polybrief.service.api.logs import configure_logging
    from polybrief.service.api.server import serve as run
    from polybrief.service.api.tls import TlsConfigError

    configure_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(run(settings))
    except (TlsConfigError, KeyFileError) as exc:
        typer.echo(f"ConfigError: {exc}", err=True)
        raise typer.Exit(2) from None


def new_key(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="Name shown in logs and metrics")],
    requests_per_minute: Annotated[int | None, typer.Option(min=1)] = None,
    characters_per_minute: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Create an API key: prints the key (shown once) and the entry for the key file."""
    from polybrief.service.api.auth import entry_for
    from polybrief.service.api.auth import new_key as make

    key = make()
    entry = entry_for(key_id, key)
    if requests_per_minute:
        entry += f"requests_per_minute = {requests_per_minute}\n"
    if characters_per_minute:
        entry += f"characters_per_minute = {characters_per_minute}\n"
    typer.echo(f"# key (give it to the caller; it is not stored): {key}", err=True)
    typer.echo(entry, nl=False)


def pull(
    models: Annotated[list[str] | None, typer.Argument(help="Catalogue ids (default: all)")] = None,
    catalog: Annotated[Path | None, typer.Option(help="Catalogue TOML (default: shipped)")] = None,
) -> None:
    """Download catalogue models into the Hugging Face cache for offline serving."""
    from huggingface_hub import snapshot_download
    from polybrief.service.models.catalog import load_catalog

    cat = load_catalog(catalog)
    wanted = models or list(cat.ids)
    unknown = [m for m in wanted if cat.get(m) is None]
    if unknown:
        raise typer.BadParameter(f"unknown model(s) {unknown}; catalogue: {', '.join(cat.ids)}")
    failed = 0
    for spec in (s for s in cat.models if s.id in wanted):
        model_id = spec.id
        if spec.local_path is not None:
            typer.echo(f"{model_id}: local directory {spec.local_path}, nothing to pull")
            continue
        typer.echo(f"{model_id}: fetching {spec.source}@{spec.revision or 'main'}")
        try:
            path = snapshot_download(spec.source, revision=spec.revision, ignore_patterns=_IGNORE)
        except Exception as exc:  # network, auth and disk errors all end the same way
            failed += 1
            typer.echo(
                f"{model_id}: FAILED: {type(exc).__name__}: {str(exc).splitlines()[0]}", err=True
            )
            continue
        typer.echo(f"{model_id}: ok ({path})")
    if failed:
        raise typer.Exit(1)


def make_tiny(
    directory: Annotated[Path, typer.Argument(help="Where to write the models and catalog.toml")],
) -> None:
    """Write tiny random-weight models of every family and a catalogue listing them."""
    from polybrief.service.models.tiny import make_tiny as build

    catalog = build(directory)
    typer.echo(f"wrote {catalog}\nserve them with: polybrief serve --catalog {catalog}")


def convert(
    models: Annotated[
        list[str] | None,
        typer.Argument(help="Catalogue ids (default: every entry with backend = ctranslate2)"),
    ] = None,
    catalog: Annotated[Path | None, typer.Option(help="Catalogue TOML (default: shipped)")] = None,
    compute_type: Annotated[
        str, typer.Option(help="int8, int8_float16, float16, float32 or auto")
    ] = "auto",
) -> None:
    """Convert installed models to CTranslate2 ahead of serving (else done at first load)."""
    from polybrief.service.models.backends import convert_to_ct2, ct2_device
    from polybrief.service.models.catalog import CT2_FAMILIES, load_catalog
    from polybrief.service.models.registry import checkpoint_dir

    cat = load_catalog(catalog)
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
            out = convert_to_ct2(spec, checkpoint_dir(spec, local_only=True), quantization)
        except Exception as exc:  # not installed, conversion errors: reported per model
            failed += 1
            typer.echo(f"{model_id}: FAILED: {type(exc).__name__}: {exc}".splitlines()[0], err=True)
            continue
        typer.echo(f"{model_id}: {quantization} → {out}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer, models_app: typer.Typer) -> None:
    """Adds the server-side commands to the CLI."""
    app.command()(serve)
    keys_app = typer.Typer(help="API keys for a server (POLYBRIEF_API_KEYS).")
    keys_app.command("new")(new_key)
    app.add_typer(keys_app, name="keys")
    models_app.command("convert")(convert)
    models_app.command("pull")(pull)
    models_app.command("make-tiny")(make_tiny)
