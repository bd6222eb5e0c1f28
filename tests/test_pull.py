"""``models pull`` against a local stand-in for the Hugging Face hub (tests/hub_standin.py):
tiny models served under hub repo ids are fetched into an HF cache in tmp_path, by the
typed API and by the real command in a subprocess, and a server started offline on that
cache then serves them. Failures are reported per model, unknown ids listed."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hub_standin import HubStandin
from polybrief import client as pc
from polybrief.service.models.catalog import Catalog, load_catalog
from polybrief.service.models.pull import IGNORE_PATTERNS, PullResult, hub_reachable, pull

BIN = Path(sys.executable).parent
FR = "polybrief-test/tiny-marian-en-fr"
RU = "polybrief-test/tiny-marian-en-ru"
TF_WEIGHTS = "tf_model.h5"  # real opus-mt repos ship one; the pull must skip it


@pytest.fixture(scope="module")
def repos(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny Marian checkpoints laid out as hub repositories (plus TF weights)."""
    out = tmp_path_factory.mktemp("hub-repos")
    found: dict[str, Path] = {}
    for repo_id in (FR, RU):
        name = repo_id.split("/")[1]
        shutil.copytree(tiny_dir / name, out / name)
        (out / name / TF_WEIGHTS).write_bytes(b"\x89HDF\r\n" + b"\0" * 4096)
        found[repo_id] = out / name
    assert any(Path(TF_WEIGHTS).match(p) for p in IGNORE_PATTERNS)
    return found


@pytest.fixture
def hub(repos: dict[str, Path]) -> Iterator[HubStandin]:
    with HubStandin(repos) as standin:
        yield standin


def pull_from(
    hub: HubStandin,
    cache: Path,
    catalog: Catalog,
    ids: list[str] | None = None,
    **options: Any,
) -> list[PullResult]:
    """``pull`` of ``ids`` from the stand-in hub into ``cache``, with no progress bars and
    no lines unless ``options`` ask for them."""
    quiet: dict[str, Any] = {"progress": False, "out": lambda _: None}
    return pull(catalog, ids, endpoint=hub.endpoint, cache_dir=cache, **(quiet | options))


def hub_catalog(
    tiny_dir: Path,
    out: Path,
    repo_ids: list[str],
    local: tuple[str, ...] = (),
    backend: str = "transformers",
) -> Path:
    """Entries ``hub-marian-*`` of the tiny Marian models with a hub ``source`` (a repo id)
    and ``backend``, and ``local`` tiny models by absolute path."""
    text = (tiny_dir / "catalog.toml").read_text(encoding="utf-8")
    head, *blocks = text.split("[[models]]")
    kept = []
    for block in blocks:
        model_id = block.split('id = "', 1)[1].split('"', 1)[0]
        repo_id = f"polybrief-test/{model_id}"
        if repo_id in repo_ids:
            entry = block.replace(f'id = "{model_id}"', f'id = "{hub_id(repo_id)}"')
            entry = entry.replace(
                f'source = "./{model_id}"', f'source = "{repo_id}"\nbackend = "{backend}"'
            )
        elif model_id in local:
            entry = block.replace('source = "./', f'source = "{tiny_dir}/')
        else:
            continue
        kept.append("[[models]]" + entry)
    out.write_text(head + "".join(kept), encoding="utf-8")
    return out


def hub_id(repo_id: str) -> str:
    return repo_id.split("/")[1].replace("tiny-", "hub-")


def snapshot_files(cache: Path, repo_id: str) -> dict[str, bytes]:
    """The files of the one snapshot of ``repo_id`` in the HF cache ``cache``."""
    (snapshot,) = (cache / f"models--{repo_id.replace('/', '--')}" / "snapshots").iterdir()
    return {p.relative_to(snapshot).as_posix(): p.read_bytes() for p in snapshot.rglob("*")}


def expected_files(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in repo.iterdir() if p.name != TF_WEIGHTS}


def hub_env(hf_home: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """The environment of a subprocess: only these HF settings, no POLYBRIEF_* ones."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POLYBRIEF_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_"))
    }
    env.update(HF_HOME=str(hf_home), HF_ENDPOINT=endpoint, GRPC_VERBOSITY="NONE", COLUMNS="200")
    env.update(extra)
    return env


def run_pull(
    catalog: Path, ids: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``polybrief-server models pull --catalog CAT IDS``, the real command."""
    command = [str(BIN / "polybrief-server"), "models", "pull", "--catalog", str(catalog), *ids]
    return subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import: whatever the process had
    then, the in-process pulls of these tests are online."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_pull_fetches_into_the_cache(
    online: None, hub: HubStandin, repos: dict[str, Path], tiny_dir: Path, tmp_path: Path
) -> None:
    catalog = load_catalog(hub_catalog(tiny_dir, tmp_path / "c.toml", [FR], ("tiny-bart",)))
    cache = tmp_path / "hub"
    lines: list[str] = []
    results = pull_from(hub, cache, catalog, out=lines.append)

    assert [(r.model_id, r.outcome) for r in results] == [
        ("tiny-bart", "local"),
        ("hub-marian-en-fr", "fetched"),
    ]
    assert results[1].path is not None
    assert results[1].path.is_relative_to(cache)
    assert snapshot_files(cache, FR) == expected_files(repos[FR])
    assert hub.downloaded(FR) == set(expected_files(repos[FR]))
    assert not any(r.path.endswith(TF_WEIGHTS) for r in hub.requests)
    assert any("tiny-bart: local directory" in line for line in lines)
    assert f"hub-marian-en-fr: ok ({results[1].path})" in lines

    # a second pull finds everything in the cache: no file is sent again
    sent = len(hub.requests)
    (again,) = pull_from(hub, cache, catalog, ["hub-marian-en-fr"], out=lines.append)
    assert again.outcome == "fetched"
    assert again.path == results[1].path
    resent = [r for r in hub.requests[sent:] if r.method == "GET" and "/resolve/" in r.path]
    assert not resent
    assert not any(r.path.startswith("/cdn/") for r in hub.requests[sent:])


@pytest.mark.parametrize("shown", [True, False])
def test_progress_bars_follow_the_argument_not_the_process_switch(
    online: None,
    hub: HubStandin,
    tiny_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    shown: bool,
) -> None:
    """The server process turns huggingface_hub's bars off (HF_HUB_DISABLE_PROGRESS_BARS):
    a pull asked for progress still draws them; one asked for none draws none."""
    # the module (its name is shadowed by the class in huggingface_hub.utils)
    bars_module = importlib.import_module("huggingface_hub.utils.tqdm")
    monkeypatch.setattr(bars_module, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    catalog = load_catalog(hub_catalog(tiny_dir, tmp_path / "c.toml", [FR]))
    (result,) = pull_from(hub, tmp_path / "hub", catalog, progress=shown)
    assert result.outcome == "fetched"
    files = len(expected_files(tiny_dir / "tiny-marian-en-fr"))
    drawn = capfd.readouterr().err
    assert (f"Fetching {files} files" in drawn) is shown, drawn


def test_unknown_id_is_an_error_listing_the_catalogue(
    online: None, hub: HubStandin, tiny_dir: Path, tmp_path: Path
) -> None:
    from polybrief.service.models.pull import UnknownModelError

    path = hub_catalog(tiny_dir, tmp_path / "c.toml", [FR, RU])
    with pytest.raises(UnknownModelError, match=r"unknown model.*nope.*hub-marian-en-fr"):
        pull(
            load_catalog(path),
            ["hub-marian-en-fr", "nope"],
            endpoint=hub.endpoint,
            cache_dir=tmp_path / "hub",
        )
    assert hub.requests == []  # refused before anything was fetched

    done = run_pull(path, ["nope"], hub_env(tmp_path / "hf", hub.endpoint))
    assert done.returncode != 0
    assert "unknown model" in done.stderr, done.stderr
    assert "nope" in done.stderr
    assert "hub-marian-en-ru" in done.stderr  # the catalogue is listed
    assert "Traceback" not in done.stderr
    assert hub.requests == []


@pytest.mark.parametrize(
    ("path", "status", "methods"),
    [("model.safetensors", 500, ("GET",)), ("config.json", 404, ("HEAD", "GET"))],
    ids=["weights-500", "config-404"],
)
def test_a_failed_download_is_reported_and_the_others_fetched(
    online: None,
    hub: HubStandin,
    tiny_dir: Path,
    tmp_path: Path,
    path: str,
    status: int,
    methods: tuple[str, ...],
) -> None:
    hub.fail(FR, path, status, methods)
    catalog = load_catalog(hub_catalog(tiny_dir, tmp_path / "c.toml", [FR, RU]))
    out: list[str] = []
    errors: list[str] = []
    results = pull_from(hub, tmp_path / "hub", catalog, out=out.append, err=errors.append)

    assert [(r.model_id, r.outcome) for r in results] == [
        ("hub-marian-en-fr", "failed"),
        ("hub-marian-en-ru", "fetched"),
    ]
    (error,) = errors
    assert error.startswith("hub-marian-en-fr: FAILED: ")
    assert "\n" not in error
    assert results[0].error is not None
    assert results[0].error in error
    assert path not in hub.downloaded(FR)
    assert hub.downloaded(RU) == set(expected_files(tiny_dir / "tiny-marian-en-ru"))


def test_a_repo_missing_on_the_hub_is_named(
    online: None, repos: dict[str, Path], tiny_dir: Path, tmp_path: Path
) -> None:
    with HubStandin({RU: repos[RU]}) as hub:  # serves en-ru only
        catalog = load_catalog(hub_catalog(tiny_dir, tmp_path / "c.toml", [FR]))
        errors: list[str] = []
        (result,) = pull_from(hub, tmp_path / "hub", catalog, err=errors.append)
    assert result.outcome == "failed"
    assert errors == [f"hub-marian-en-fr: FAILED: {result.error}"]
    assert "RepositoryNotFoundError" in errors[0]
    assert "Repository Not Found" in errors[0]


def test_the_command_reports_failures_per_model_and_exits_non_zero(
    hub: HubStandin, tiny_dir: Path, tmp_path: Path
) -> None:
    hub.fail(FR, "model.safetensors", 500)
    catalog = hub_catalog(tiny_dir, tmp_path / "c.toml", [FR, RU])
    hf_home = tmp_path / "hf"
    done = run_pull(
        catalog, ["hub-marian-en-fr", "hub-marian-en-ru"], hub_env(hf_home, hub.endpoint)
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"hub-marian-en-fr: FAILED: \w+: .*500", done.stderr), done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(
        r"hub-marian-en-ru: ok \(.*models--polybrief-test--tiny-marian-en-ru", done.stdout
    )
    assert snapshot_files(hf_home / "hub", RU) == expected_files(tiny_dir / "tiny-marian-en-ru")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command() -> list[str]:
    """The server's command: ``polybrief-server serve``."""
    return [str(BIN / "polybrief-server"), "serve"]


def wait_serving(client: pc.Client, server: subprocess.Popen[bytes], log: Path) -> None:
    """Until the server reports SERVING; fails at once, with its log, if it exits."""
    for _ in range(240):  # ~2 minutes of polls
        if server.poll() is not None:
            pytest.fail(f"server exited ({server.returncode}); its log:\n{log.read_text()[-3000:]}")
        try:
            client.wait_until_serving(0.5)
            return
        except pc.UnavailableError:
            continue
    pytest.fail(f"server did not start; its log:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_pulled_model_is_served_offline(
    repos: dict[str, Path], tiny_dir: Path, tmp_path: Path, backend: str
) -> None:
    """The command fills an HF cache from the hub; a server started offline (hub gone,
    HF_HUB_OFFLINE=1) on that cache then translates with the model, on either backend
    (CTranslate2 converts the cached snapshot, which lacks the TF weights not pulled)."""
    catalog = hub_catalog(tiny_dir, tmp_path / "c.toml", [FR], backend=backend)
    hf_home = tmp_path / "hf"
    with HubStandin(repos) as hub:
        done = run_pull(catalog, ["hub-marian-en-fr"], hub_env(hf_home, hub.endpoint))
        assert done.returncode == 0, done.stdout + done.stderr
        assert hub.downloaded(FR) == set(expected_files(repos[FR]))
    files = len(expected_files(repos[FR]))
    assert f"Fetching {files} files" in done.stderr  # huggingface_hub's progress bar
    assert snapshot_files(hf_home / "hub", FR) == expected_files(repos[FR])

    port = free_port()
    env = hub_env(
        hf_home,
        hub.endpoint,  # closed now
        HF_HUB_OFFLINE="1",
        POLYBRIEF_LOG_LEVEL="WARNING",
        POLYBRIEF_INFERENCE_THREADS="1",
        POLYBRIEF_CT2_CACHE=str(tmp_path / "ct2"),
    )
    log = tmp_path / "server.log"
    command = [*server_command(), "--catalog", str(catalog), "--port", str(port)]
    with log.open("wb") as sink:
        server = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        with pc.Client(f"127.0.0.1:{port}", timeout=60) as client:
            wait_serving(client, server, log)
            (result,) = client.translate("The navy sailed at dawn.", to="fr", source="en")
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert result.error is None, (result.error, log.read_text()[-3000:])
    assert result.text
    assert [step.model for step in result.route.steps] == ["hub-marian-en-fr"]
    converted = tmp_path / "ct2"
    served_by_ct2 = converted.is_dir() and any(converted.iterdir())
    assert served_by_ct2 is (backend == "ctranslate2"), log.read_text()[-3000:]


def test_hub_reachable(hub: HubStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert hub_reachable(5, endpoint=hub.endpoint)
    assert hub.requests[-1].path == "/"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    seen = len(hub.requests)
    assert not hub_reachable(5, endpoint=hub.endpoint)
    assert len(hub.requests) == seen  # offline: not even asked
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    hub.stop()
    assert not hub_reachable(5, endpoint=hub.endpoint)
