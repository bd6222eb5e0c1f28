"""Runs a real polybrief server (grpc.aio on a real port) in a background event loop,
so synchronous tests and the sync client can talk to it over a real channel."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from polybrief.service.api.server import RunningServer, start
from polybrief.service.engine import Engine
from polybrief.service.settings import Settings


class ServerThread:
    """A started server; ``address`` is "127.0.0.1:PORT"."""

    def __init__(self, catalog: Path, **settings: Any) -> None:
        self.settings = Settings(
            host="127.0.0.1",
            port=0,
            catalog=catalog,
            max_loaded_models=64,
            inference_threads=2,
            **settings,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(start(self.settings), self.loop)
        self.running: RunningServer = future.result(timeout=300)
        self.address = f"127.0.0.1:{self.running.port}"

    @property
    def engine(self) -> Engine:
        return self.running.servicer.engine

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.running.stop(0), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()
