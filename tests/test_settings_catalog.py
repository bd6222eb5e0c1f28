"""Settings precedence, catalogue validation, routing rules and layering."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from polybrief.service.cli import app, settings_from
from polybrief.service.domain import RouteKind
from polybrief.service.models.catalog import CatalogError, load_catalog, parse_catalog
from polybrief.service.routing import plan_translation
from polybrief.service.settings import Settings
from pydantic_core import PydanticUndefined


def test_flags_override_environment_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from({}).port == 50051
    monkeypatch.setenv("POLYBRIEF_PORT", "6000")
    monkeypatch.setenv("POLYBRIEF_MAX_LOADED_MODELS", "3")
    assert settings_from({}).port == 6000
    assert settings_from({"port": 7000, "max_loaded_models": None}).port == 7000
    assert settings_from({"port": 7000}).max_loaded_models == 3


def test_bad_setting_is_an_error_not_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYBRIEF_PORT", "seventy")
    with pytest.raises(ValueError, match="port"):
        Settings()
    monkeypatch.delenv("POLYBRIEF_PORT")
    with pytest.raises(ValueError, match="default_words"):
        Settings(min_words=100, max_words=50)


def test_every_setting_is_a_serve_flag_with_its_default_stated_once() -> None:
    from typer.testing import CliRunner

    done = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "400"})
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    for name, field in Settings.model_fields.items():
        assert f"--{name.replace('_', '-')}" in text
        assert text.count(f"env POLYBRIEF_{name.upper()};") == 1
        if field.default not in (None, PydanticUndefined):
            assert f"POLYBRIEF_{name.upper()}; default {field.default})" in text


def test_serve_flags_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    seen: list[Settings] = []
    monkeypatch.setattr("polybrief.service.server.process.serve", _record(seen))
    # serve configures logging onto the runner's stream, which closes after the call
    monkeypatch.setattr(
        "polybrief.service.observability.logs.configure_logging", lambda *args: None
    )
    monkeypatch.setenv("POLYBRIEF_MAX_QUEUE", "99")
    args = ["serve", "--port", "0", "--no-preload", "--max-batch", "3", "--log-format", "text"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    [settings] = seen
    assert (settings.port, settings.preload, settings.max_batch) == (0, False, 3)
    assert settings.max_queue == 99  # from the environment
    assert settings.max_concurrent_calls == Settings.model_fields["max_concurrent_calls"].default
    bad = CliRunner().invoke(app, ["serve", "--log-format", "xml"])
    assert bad.exit_code == 2
    assert "ConfigError: log_format" in bad.output


def _record(seen: list[Settings]) -> Any:
    async def serve(settings: Settings) -> None:
        seen.append(settings)

    return serve


@pytest.mark.parametrize(
    "component",
    [
        "polybrief.service.batching:Batcher",
        "polybrief.service.cache:TranslationCache",
        "polybrief.service.inference:Runner",
        "polybrief.service.engine:Engine",
        "polybrief.service.models.registry:ModelRegistry",
        "polybrief.service.api.servicer:PolybriefServicer",
        "polybrief.service.domain:Limits",
    ],
)
def test_components_state_no_default_of_their_own(component: str) -> None:
    """Values come from Settings through the composition root; a default written here
    would be a second home for it."""
    module, name = component.split(":")
    signature = inspect.signature(getattr(importlib.import_module(module), name))
    literal = {
        p.name: p.default
        for p in signature.parameters.values()
        if isinstance(p.default, (int, float, str)) and not isinstance(p.default, bool)
    }
    assert literal == {}


def test_default_catalogue_is_valid_and_licensed() -> None:
    catalog = load_catalog()
    assert {"opus-mt-en-fr", "m2m100-418m", "distilbart-cnn-12-6", "mt5-xlsum"} <= set(catalog.ids)
    assert all(spec.license != "unknown" for spec in catalog.models)
    assert all(spec.local_path is None for spec in catalog.models)  # hub ids


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {
                "id": "x",
                "family": "gpt",
                "source": "a/b",
                "tasks": ["translate"],
                "pairs": [["en", "fr"]],
            },
            "family",
        ),
        ({"id": "x", "family": "marian", "source": "a/b", "tasks": ["translate"]}, "pairs"),
        (
            {"id": "x", "family": "bart", "source": "a/b", "tasks": ["summarize"]},
            "summary_languages",
        ),
        ({"id": "x", "family": "bart", "source": "a/b", "tasks": ["dance"]}, "tasks"),
        ({"id": "x", "family": "bart", "tasks": ["summarize"]}, "source"),
        (
            {
                "id": "x",
                "family": "bart",
                "source": "a",
                "tasks": ["summarize"],
                "summary_languages": ["en"],
                "colour": 1,
            },
            "unknown keys",
        ),
    ],
)
def test_catalogue_errors_name_the_problem(entry: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog({"models": [entry]}, base_dir=Path("."))


def test_routing_prefers_installed_models_of_equal_rank() -> None:
    catalog = parse_catalog(
        {
            "models": [
                {
                    "id": "direct",
                    "family": "marian",
                    "source": "a/d",
                    "tasks": ["translate"],
                    "pairs": [["en", "fr"]],
                },
                {
                    "id": "multi",
                    "family": "m2m100",
                    "source": "a/m",
                    "tasks": ["translate"],
                    "languages": ["en", "fr"],
                },
            ]
        },
        base_dir=Path("."),
    )
    assert plan_translation(catalog, "en", "fr", lambda spec: True).kind is RouteKind.DIRECT
    only_multi = plan_translation(catalog, "en", "fr", lambda spec: spec.id == "multi")
    assert [h.spec.id for h in only_multi.hops] == ["multi"]
    # nothing usable: the preferred route is returned so running it names the missing model
    assert [h.spec.id for h in plan_translation(catalog, "en", "fr", lambda s: False).hops] == [
        "direct"
    ]


def test_engine_and_text_pipeline_never_import_grpc() -> None:
    code = (
        "import sys; import polybrief.service.engine, polybrief.service.text.detect; "
        "print(sorted(m for m in sys.modules "
        "if m == 'grpc' or m.startswith(('grpc.', 'polybrief.v1'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
