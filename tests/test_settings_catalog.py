"""Settings precedence, catalogue validation, routing rules and layering."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from polybrief.service.cli import _settings
from polybrief.service.domain import RouteKind
from polybrief.service.models.catalog import CatalogError, load_catalog, parse_catalog
from polybrief.service.routing import plan_translation


def test_flags_override_environment_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings().port == 50051
    monkeypatch.setenv("POLYBRIEF_PORT", "6000")
    monkeypatch.setenv("POLYBRIEF_MAX_LOADED_MODELS", "3")
    assert _settings().port == 6000
    assert _settings(port=7000, max_loaded_models=None).port == 7000
    assert _settings(port=7000).max_loaded_models == 3


def test_bad_setting_is_an_error_not_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYBRIEF_PORT", "seventy")
    with pytest.raises(ValueError, match="port"):
        _settings()


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
