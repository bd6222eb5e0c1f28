"""Shared fixtures: tiny local models of every family (built once per session) and a real
polybrief server on them, with the real client."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from server_harness import ServerThread


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random-weight models of every family and their catalog.toml."""
    from polybrief.service.models.tiny import make_tiny

    out = tmp_path_factory.mktemp("tiny")
    make_tiny(out)
    return out


@pytest.fixture(scope="session")
def tiny_server(tiny_dir: Path) -> Iterator[ServerThread]:
    """A real server on port 0 over the tiny catalogue (all models preloaded)."""
    server = ServerThread(tiny_dir / "catalog.toml")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server_address(tiny_server: ServerThread) -> str:
    return tiny_server.address


@pytest.fixture(scope="session")
def client(server_address: str) -> Iterator[Any]:
    from polybrief.client import Client

    with Client(server_address, timeout=120) as c:
        yield c


@pytest.fixture
def record_inputs(tiny_server: ServerThread) -> Callable[[str], Any]:
    """Records (decoded) every input a loaded model's generate receives, for coverage checks.

    The model itself runs unchanged; only its inputs are observed.
    """

    @contextlib.contextmanager
    def recorder(model_id: str) -> Iterator[list[str]]:
        loaded = tiny_server.engine.registry.get(model_id)
        seen: list[str] = []
        original = loaded.model.generate

        def generate(*args: Any, **kwargs: Any) -> Any:
            seen.extend(
                loaded.tokenizer.batch_decode(kwargs["input_ids"], skip_special_tokens=True)
            )
            return original(*args, **kwargs)

        loaded.model.generate = generate
        try:
            yield seen
        finally:
            del loaded.model.generate

    return recorder
