"""Health, reflection, readiness and missing models, on real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from polybrief.client import Client, ModelNotInstalledError
from server_harness import ServerThread


def test_health_is_serving(tiny_server) -> None:
    with grpc.insecure_channel(tiny_server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "polybrief.v1.Polybrief"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(tiny_server) -> None:
    with grpc.insecure_channel(tiny_server.address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert "polybrief.v1.Polybrief" in services
        assert "grpc.health.v1.Health" in services
        symbol = database.FindFileContainingSymbol("polybrief.v1.Polybrief")
        assert symbol.package == "polybrief.v1"


MISSING_CATALOG = """
pivot_language = "en"

[[models]]
id = "missing-summariser"
family = "bart"
source = "polybrief-test/missing-summariser"
tasks = ["summarize"]
summary_languages = ["en"]
preload = true

[[models]]
id = "missing-en-fr"
family = "marian"
source = "polybrief-test/missing-en-fr"
tasks = ["translate"]
pairs = [["en", "fr"]]
preload = true
"""


@pytest.fixture(scope="module")
def offline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A server whose catalogue models exist in no cache, as on a fresh offline machine."""
    catalog = tmp_path_factory.mktemp("missing") / "catalog.toml"
    catalog.write_text(MISSING_CATALOG, encoding="utf-8")
    server = ServerThread(Path(catalog))
    yield server
    server.stop()


def test_offline_demo_path(offline_server: ServerThread) -> None:
    with Client(offline_server.address) as client:
        assert client.health() == "SERVING"  # missing models do not block readiness
        text = "The navy was ordered to work with the French. The two leaders will meet in Moscow."
        result = client.summarize(text, to=["en", "fr"], source="en")
    en, fr = result.briefs
    assert en.mode == "extractive"
    assert "missing-summariser" in en.fallback_reason
    assert "polybrief-server models pull missing-summariser" in en.fallback_reason
    assert en.error is None
    assert en.text
    assert fr.error is not None
    assert fr.error.code == "MODEL_NOT_INSTALLED"
    assert fr.error.model == "missing-en-fr"
    assert fr.error.hint == "polybrief-server models pull missing-en-fr"


def test_explicit_missing_model_is_failed_precondition(offline_server: ServerThread) -> None:
    with Client(offline_server.address) as client, pytest.raises(ModelNotInstalledError) as err:
        client.translate("hello there friends", to="fr", source="en", model="missing-en-fr")
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "polybrief-server models pull missing-en-fr" in (err.value.hint or "")


def test_listing_reports_not_installed(offline_server: ServerThread) -> None:
    with Client(offline_server.address) as client:
        caps = client.capabilities()
    assert {m.id: m.state for m in caps.models} == {
        "missing-summariser": "not_installed",
        "missing-en-fr": "not_installed",
    }


def test_make_demo_script_runs_offline_to_the_end() -> None:
    """`make demo` on a machine with no cached models: extractive brief, clear pull hints."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("POLYBRIEF_CATALOG", None)
    done = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "en · extractive" in done.stdout
    assert "extractive fallback" in done.stdout
    assert "polybrief-server models pull opus-mt-en-fr" in done.stdout
    assert "polybrief-server models pull opus-mt-en-ru" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert "demo finished" in done.stdout


def test_async_client_against_the_server(server_address: str) -> None:
    import asyncio

    from polybrief.client import AsyncClient

    async def run() -> None:
        async with AsyncClient(server_address, timeout=60) as client:
            assert await client.health() == "SERVING"
            result = await client.summarize(
                "The navy sailed to Syria at dawn on Tuesday.", source="en"
            )
            assert result.briefs[0].route.steps[0].model == "tiny-bart"
            translations = await client.translate(
                ["Hello friends.", "Good morning."], to="fr", source="en"
            )
            assert [t.route.kind for t in translations] == ["direct", "direct"]
            assert (await client.detect("Bonjour à tous, comment allez-vous aujourd'hui ?"))[
                0
            ].language == "fr"
            assert len((await client.capabilities()).models) == 15

    asyncio.run(run())


def test_health_answers_while_inference_runs(tiny_server: ServerThread) -> None:
    """Inference runs on worker threads, never on the event loop."""
    import threading
    import time

    texts = [
        " ".join(f"Sentence {k}-{i} about the navy and its allies." for i in range(300))
        for k in range(5)
    ]
    latencies: list[float] = []
    with Client(tiny_server.address, timeout=600) as client:
        results: list[object] = []
        began = time.monotonic()
        worker = threading.Thread(
            target=lambda: results.extend(client.translate(texts, to="fr", source="en"))
        )
        worker.start()
        while worker.is_alive():
            started = time.monotonic()
            assert client.health() == "SERVING"
            latencies.append(time.monotonic() - started)
            time.sleep(0.01)
        worker.join()
        translation_s = time.monotonic() - began
    assert len(results) == 5
    # Probed while the translation was running, each answer a small part of it: were
    # inference on the event loop, a probe would wait for the translation to end.
    assert len(latencies) >= 4
    assert max(latencies) < translation_s / 4


def test_pull_without_network_fails_cleanly(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "polybrief-server"), "models", "pull", "opus-mt-en-fr"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert "opus-mt-en-fr: FAILED" in done.stderr
    assert "Traceback" not in done.stderr
