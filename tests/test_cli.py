"""The command line as a user runs it (the installed ``polybrief`` script), against a real
server and against none; plus the rendering of results no tiny server produces."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from polybrief.cli import _render
from polybrief.client import (
    Brief,
    DetectedLanguage,
    ItemError,
    LanguageGuess,
    PipelineReport,
    Route,
    Step,
    SummarizeResult,
)
from rich.console import Console
from server_harness import ServerThread
from test_client_errors import Scripted, _serve, make_certs, mtls_server_credentials

ROOT = Path(__file__).resolve().parents[1]
POLYBRIEF = str(Path(sys.executable).parent / "polybrief")
SERVER_COMMAND = str(Path(sys.executable).parent / "polybrief-server")
SEED = str(ROOT / "examples" / "afp-putin-hollande.txt")
UNREACHABLE = "127.0.0.1:9"  # discard port: nothing listens there


def run(
    *args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run(
        [POLYBRIEF, *args],
        capture_output=True,
        input=data,
        timeout=120,
        check=False,
        env={
            "PATH": str(Path(sys.executable).parent),
            "COLUMNS": "100",
            "HOME": str(ROOT),
            **(env or {}),
        },
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def assert_clean_error(done: subprocess.CompletedProcess[str], kind: str) -> None:
    """Exit 1 with one ``Kind: message`` line on stderr (plus indented details)."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"{kind}: "), done.stderr
    assert all(line.startswith("  ") for line in lines[1:]), done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# Against a real server ------------------------------------------------------------------


def test_demo_brief_against_tiny_models(server_address: str) -> None:
    done = run("brief", SEED, "--to", "en,fr,ru", "--server", server_address)
    assert done.returncode == 0, done.stderr
    for header in ("en · abstractive", "fr · abstractive", "ru · abstractive"):
        assert header in done.stdout
    assert "summarize tiny-bart (en) → translate tiny-marian-en-fr (en→fr)" in done.stdout
    assert "source: en (detected, confidence" in done.stdout
    assert "12 duplicate paragraphs removed" in done.stdout
    assert "chunks summarised" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_brief_json_from_stdin(server_address: str) -> None:
    done = run(
        *("brief", "-", "--to", "fr", "--from", "en", "--json", "--server", server_address),
        stdin=Path(SEED).read_text(encoding="utf-8"),
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["briefs"][0]["language"] == "fr"
    assert data["briefs"][0]["route"]["steps"][-1]["kind"] == "translate"
    assert data["pipeline"]["duplicate_paragraphs_removed"] == 12
    assert data["detected_language"] is None  # --from given


def test_summarize_stays_in_the_source_language(server_address: str) -> None:
    """Also: the server address comes from POLYBRIEF_SERVER when --server is not given."""
    env = {"POLYBRIEF_SERVER": server_address}
    done = run("summarize", SEED, "--mode", "extractive", "--words", "20", env=env)
    assert done.returncode == 0, done.stderr
    assert "en · extractive" in done.stdout
    assert "extract sentences (en)" in done.stdout
    assert "fr ·" not in done.stdout


def test_brief_prints_each_language_as_it_arrives_then_the_times(server_address: str) -> None:
    """The streamed brief: one panel per language (in arrival order), the report, and a
    last line with each language's time and the total (no live status left behind)."""
    done = run("brief", SEED, "--to", "en,fr,ru", "--from", "en", "--server", server_address)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for language in ("en", "fr", "ru"):
        assert f"{language} · abstractive" in out
    *_, last = out.strip().splitlines()
    assert last.startswith("times: ")
    assert last.endswith(" s")
    assert {part.split()[0] for part in last.removeprefix("times: ").split(" · ")} == {
        "en",
        "fr",
        "ru",
        "total",
    }
    assert out.index("pipeline: ") < out.index("times: ")
    assert "waiting for" not in out  # the status line is transient


def test_item_errors_exit_3(server_address: str) -> None:
    done = run(
        *("translate", "Bonjour à tous les amis", "--to", "ko", "--from", "fr"),
        *("--server", server_address),
    )
    assert done.returncode == 3
    assert "UNSUPPORTED_LANGUAGE_PAIR" in done.stdout
    brief = run("brief", SEED, "--to", "fr,ko", "--server", server_address)
    assert brief.returncode == 3
    assert "fr · abstractive" in brief.stdout
    assert "UNSUPPORTED_LANGUAGE_PAIR" in brief.stdout


def test_translate_reads_paragraphs_from_stdin(server_address: str) -> None:
    stdin = "Hello my friends, how are you?\n\n\nThe navy sailed at dawn.\n"
    done = run(
        *("translate", "-", "--to", "fr", "--from", "en", "--json", "--server", server_address),
        stdin=stdin,
    )
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)
    assert len(items) == 2
    assert [i["route"]["steps"][0]["model"] for i in items] == ["tiny-marian-en-fr"] * 2


def test_invalid_argument_names_the_field(server_address: str) -> None:
    done = run("translate", "hello", "--to", "en_US", "--server", server_address)
    assert_clean_error(done, "InvalidArgumentError")
    assert "  target_language:" in done.stderr


def test_unknown_model_is_a_clean_error(server_address: str) -> None:
    done = run("translate", "hello", "--to", "fr", "--model", "nope", "--server", server_address)
    assert_clean_error(done, "ModelNotFoundError")


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
    assert listing.returncode == 0, listing.stderr
    assert "tiny-nllb" in listing.stdout
    assert "loaded" in listing.stdout
    assert "max_concurrent_calls=64" in listing.stdout
    models = json.loads(run("models", "list", "--json", "--server", server_address).stdout)
    assert "tiny-bart" in {m["id"] for m in models["models"]}
    assert run("health", "--server", server_address).stdout.strip() == "SERVING"
    assert run("health", "--wait", "5", "--server", server_address).returncode == 0


# Without a server --------------------------------------------------------------------------


def test_unreachable_server_is_a_clean_one_line_error() -> None:
    done = run("translate", "hello", "--to", "fr", "--server", UNREACHABLE, "--timeout", "3")
    assert_clean_error(done, "UnavailableError")
    assert len(done.stderr.splitlines()) == 1
    waited = run("health", "--wait", "1", "--server", UNREACHABLE)
    assert_clean_error(waited, "UnavailableError")
    assert "not serving after 1s" in waited.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["brief", SEED, "--mode", "creative"], id="bad-mode"),
        pytest.param(["brief", SEED, "--words", "-3"], id="negative-words"),
        pytest.param(["brief", "/no/such/file"], id="missing-file"),
        pytest.param(["brief", "-"], id="invalid-utf8"),
        pytest.param(["translate", "-", "--to", "fr"], id="empty-stdin"),
    ],
)
def test_bad_usage_exits_2_without_traceback(args: list[str]) -> None:
    stdin = b"\xff\xfe not utf-8" if args[-1] == "-" else b""
    done = run(*args, "--server", UNREACHABLE, stdin=stdin)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr


@pytest.fixture(scope="module")
def client_only_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python that sees the client and proto packages and their dependencies, but not
    the server package: a client-only install, made without downloading anything."""
    import site
    import venv

    root = Path(__file__).resolve().parents[1]
    env_dir = tmp_path_factory.mktemp("client-only")
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Plain paths: the .pth files of the editable polybrief installs there are not read.
    lines = [str(root / "proto" / "src"), str(root / "client" / "src"), *site.getsitepackages()]
    (Path(target) / "client_only.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(python)


def test_client_only_install_names_the_server_command(client_only_python: str) -> None:
    def run_there(*code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [client_only_python, *code], capture_output=True, text=True, timeout=60, check=False
        )

    assert run_there("-c", "import polybrief.service").returncode != 0
    listed = run_there("-m", "polybrief.cli", "--help")
    assert listed.returncode == 0, listed.stderr
    for command, instead in (
        (["serve", "--port", "1"], "polybrief-server serve"),
        (["models", "pull", "opus-mt-en-fr"], "polybrief-server models pull"),
        (["models", "make-tiny", "/tmp/x"], "polybrief-server models make-tiny"),
        (["keys", "new", "desk"], "polybrief-server keys new"),
    ):
        done = run_there("-m", "polybrief.cli", *command)
        assert done.returncode == 2, (command, done.stderr)
        assert instead in done.stderr
        assert "pip install polybrief-service" in done.stderr
        assert "Traceback" not in done.stderr


def test_packages_do_not_depend_on_each_other() -> None:
    from importlib.metadata import requires

    client = " ".join(requires("polybrief-client") or [])
    service = " ".join(requires("polybrief-service") or [])
    assert "polybrief-proto" in client
    assert "polybrief-proto" in service
    assert "polybrief-service" not in client
    assert "polybrief-client" not in service
    code = "import polybrief.cli, polybrief.client, sys; print('polybrief.service' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    code = "import polybrief.service.cli, sys; print('polybrief.client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_rendering_of_fallbacks_and_item_errors() -> None:
    """What the offline demo shows: an extractive fallback and a missing model's fix."""
    extract = Step("extract", "", "en", "en", 1)
    result = SummarizeResult(
        briefs=(
            Brief("en", "The navy sailed.", "extractive", "no abstractive model installed",
                  Route("identity", (extract,), ""), None),
            Brief("fr", "", "extractive", "", Route("", (extract,), ""),
                  ItemError("MODEL_NOT_INSTALLED", "model 'opus-mt-en-fr' is not installed",
                            "opus-mt-en-fr", "polybrief-server models pull opus-mt-en-fr")),
        ),
        source_language="en",
        detected_language=DetectedLanguage("en", 0.97, True, (LanguageGuess("en", 0.97),)),
        pipeline=PipelineReport(900, 2, 13, 12, 0, 13, 0, 0),
    )  # fmt: skip
    console = Console(record=True, width=200, color_system=None)
    _render.briefs(console, result)
    text = console.export_text()
    assert "extractive fallback: no abstractive model installed" in text
    assert "MODEL_NOT_INSTALLED: model 'opus-mt-en-fr' is not installed" in text
    assert "→ polybrief-server models pull opus-mt-en-fr" in text
    assert "source: en (detected, confidence 0.97)" in text
    assert "12 duplicate paragraphs removed · 2 control characters removed" in text
    assert "chunks summarised" not in text
    data = json.loads(_render.as_json(result))
    assert data["detected_language"]["candidates"] == [{"language": "en", "confidence": 0.97}]


def test_make_tiny_writes_a_loadable_catalogue(tmp_path: Path) -> None:
    done = subprocess.run(
        [SERVER_COMMAND, "models", "make-tiny", str(tmp_path / "tiny")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    from polybrief.service.models.catalog import load_catalog

    catalog = load_catalog(tmp_path / "tiny" / "catalog.toml")
    families = {spec.family for spec in catalog.models}
    assert families == {
        "marian",
        "m2m100",
        "nllb",
        "mbart50",
        "t5",
        "mt5",
        "bart",
        "pegasus",
        "crosssum",
    }
    assert all(
        spec.local_path is not None and (spec.local_path / "config.json").is_file()
        for spec in catalog.models
    )


# Connection options: several servers, API key, TLS ----------------------------------------


def test_server_lists_fail_over(server_address: str) -> None:
    """Global --server (repeated, comma-separated or from POLYBRIEF_SERVER) with a dead
    first address; a command's own --server overrides the global one."""
    both = f"{UNREACHABLE},{server_address}"
    done = run("--server", both, "health")
    assert (done.returncode, done.stdout.strip()) == (0, "SERVING"), done.stderr
    french = "Le président a ordonné à la marine de travailler avec les Français."
    detected = run("-s", UNREACHABLE, "-s", server_address, "detect", french)
    assert detected.returncode == 0, detected.stderr
    assert detected.stdout.startswith("fr\t")
    env = {"POLYBRIEF_SERVER": f"{UNREACHABLE} {server_address}"}
    assert run("health", "--wait", "5", env=env).returncode == 0
    overridden = run("--server", UNREACHABLE, "health", "--server", server_address)
    assert overridden.stdout.strip() == "SERVING", overridden.stderr
    listing = run("--server", both, "models", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    assert "tiny-bart" in {m["id"] for m in json.loads(listing.stdout)["models"]}


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, Scripted]]:
    """A scripted server (Translate answers an empty result) with the health service."""
    handler = Scripted()
    server, address = _serve(handler, None, health=True)
    yield address, handler
    server.stop(0)


def test_api_key_option_and_variable(fake: tuple[str, Scripted]) -> None:
    address, handler = fake
    done = run("--api-key", "k1", "--server", address, "translate", "x", "--to", "fr")
    assert done.returncode == 0, done.stderr
    assert handler.metadata["authorization"] == "Bearer k1"
    done = run("translate", "x", "--to", "fr", "--server", address,
               env={"POLYBRIEF_API_KEY": "k2"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert handler.metadata["authorization"] == "Bearer k2"
    assert run("translate", "x", "--to", "fr", "--server", address).returncode == 0
    assert "authorization" not in handler.metadata


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Path]]]:
    """A scripted server with health that requires mutual TLS, as localhost:PORT."""
    certs = make_certs(tmp_path_factory.mktemp("certs"))
    server, address = _serve(Scripted(), mtls_server_credentials(certs), health=True)
    yield address.replace("127.0.0.1", "localhost"), certs
    server.stop(0)


def test_mutual_tls_options_and_variables(mtls: tuple[str, dict[str, Path]]) -> None:
    address, certs = mtls
    files = ("--tls-ca", str(certs["ca.pem"]), "--tls-cert", str(certs["client.pem"]))
    done = run(*files, "--tls-key", str(certs["client.key"]), "--server", address, "health")
    assert (done.returncode, done.stdout.strip()) == (0, "SERVING"), done.stderr
    env = {
        "POLYBRIEF_CLIENT_TLS_CA": str(certs["ca.pem"]),
        "POLYBRIEF_CLIENT_TLS_CERT": str(certs["client.pem"]),
        "POLYBRIEF_CLIENT_TLS_KEY": str(certs["client.key"]),
        "POLYBRIEF_SERVER": f"{UNREACHABLE},{address}",
    }
    assert run("translate", "x", "--to", "fr", env=env).returncode == 0
    assert run("health", env=env).stdout.strip() == "SERVING"
    without_cert = run("--tls-ca", str(certs["ca.pem"]), "--server", address, "health")
    assert_clean_error(without_cert, "UnavailableError")
    plaintext = run("--server", address, "health", "--timeout", "2")
    assert_clean_error(plaintext, "UnavailableError")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--tls-cert", "client.pem"], id="cert-without-key"),
        pytest.param(["--tls-ca", "/no/such/ca.pem"], id="missing-ca-file"),
        pytest.param(["--server", "127.0.0.1:1,nope"], id="bad-server-in-list"),
    ],
)
def test_bad_connection_options_exit_2(mtls: tuple[str, dict[str, Path]], args: list[str]) -> None:
    certs = {name: str(path) for name, path in mtls[1].items()}
    done = run(*(certs.get(arg, arg) for arg in args), "health")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith("Invalid value: "), done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_real_server_with_mutual_tls_and_api_keys(
    tiny_dir: Path, mtls: tuple[str, dict[str, Path]], tmp_path: Path
) -> None:
    """The CLI's connection options against the polybrief server's own TLS and keys."""
    _, certs = mtls
    key = "pb_cli-test-key"
    keys = tmp_path / "keys.toml"
    digest = hashlib.sha256(key.encode()).hexdigest()
    keys.write_text(f'[[key]]\nid = "cli"\nsha256 = "{digest}"\n')
    server = ServerThread(
        tiny_dir / "catalog.toml",
        preload=False,
        tls_cert=certs["server.pem"],
        tls_key=certs["server.key"],
        tls_client_ca=certs["ca.pem"],
        api_keys=keys,
    )
    try:
        address = server.address.replace("127.0.0.1", "localhost")
        tls = ["--tls-ca", str(certs["ca.pem"]), "--tls-cert", str(certs["client.pem"])]
        tls += ["--tls-key", str(certs["client.key"]), "--server", f"{UNREACHABLE},{address}"]
        assert run(*tls, "health").stdout.strip() == "SERVING"  # health needs no key
        args = ("translate", "The navy sailed at dawn.", "--to", "fr", "--from", "en", "--json")
        done = run(*tls, "--api-key", key, *args)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)[0]["route"]["steps"][0]["model"] == "tiny-marian-en-fr"
        assert_clean_error(run(*tls, *args), "UnauthenticatedError")
        assert_clean_error(run(*tls, "--api-key", "pb_wrong", *args), "UnauthenticatedError")
    finally:
        server.stop()
