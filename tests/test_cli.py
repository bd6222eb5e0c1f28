"""The command line against a real server (and against none)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLYBRIEF = str(Path(sys.executable).parent / "polybrief")
SEED = str(ROOT / "examples" / "afp-putin-hollande.txt")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POLYBRIEF, *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
        env={"PATH": str(Path(sys.executable).parent), "COLUMNS": "100", "HOME": str(ROOT)},
    )


def test_demo_brief_against_tiny_models(server_address: str) -> None:
    done = run("brief", SEED, "--to", "en,fr,ru", "--server", server_address)
    assert done.returncode == 0, done.stderr
    for header in ("en · abstractive", "fr · abstractive", "ru · abstractive"):
        assert header in done.stdout
    assert "translate tiny-marian-en-fr (en→fr)" in done.stdout
    assert "12 duplicate paragraphs" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_brief_json_from_stdin(server_address: str) -> None:
    done = run(
        "brief",
        "-",
        "--to",
        "fr",
        "--from",
        "en",
        "--json",
        "--server",
        server_address,
        stdin=Path(SEED).read_text(encoding="utf-8"),
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["briefs"][0]["language"] == "fr"
    assert data["pipeline"]["duplicate_paragraphs_removed"] == 12


def test_item_errors_exit_3(server_address: str) -> None:
    done = run(
        "translate",
        "Bonjour à tous les amis",
        "--to",
        "ko",
        "--from",
        "fr",
        "--server",
        server_address,
    )
    assert done.returncode == 3
    assert "UNSUPPORTED_LANGUAGE_PAIR" in done.stdout


def test_invalid_argument_names_the_field(server_address: str) -> None:
    done = run("translate", "hello", "--to", "en_US", "--server", server_address)
    assert done.returncode == 1
    assert done.stderr.startswith("InvalidArgumentError:")
    assert "target_language:" in done.stderr
    assert "Traceback" not in done.stderr


def test_detect_models_and_health(server_address: str) -> None:
    done = run(
        "detect",
        "Le président a ordonné à la marine de travailler avec les Français.",
        "--server",
        server_address,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("fr\t")
    listing = run("models", "list", "--server", server_address)
    assert "tiny-nllb" in listing.stdout
    assert "loaded" in listing.stdout
    assert run("health", "--server", server_address).stdout.strip() == "SERVING"


def test_unreachable_server_is_a_clean_error() -> None:
    done = run("translate", "hello", "--to", "fr", "--server", "127.0.0.1:9", "--timeout", "3")
    assert done.returncode == 1
    assert done.stderr.startswith("UnavailableError:")
    assert "Traceback" not in done.stderr


def test_make_tiny_writes_a_loadable_catalogue(tmp_path: Path) -> None:
    done = run("models", "make-tiny", str(tmp_path / "tiny"))
    assert done.returncode == 0, done.stderr
    from polybrief.service.models.catalog import load_catalog

    catalog = load_catalog(tmp_path / "tiny" / "catalog.toml")
    families = {spec.family for spec in catalog.models}
    assert families == {"marian", "m2m100", "nllb", "mbart50", "t5", "mt5", "bart", "pegasus"}
    assert all(
        spec.local_path is not None and (spec.local_path / "config.json").is_file()
        for spec in catalog.models
    )
