"""The asyncio client: the same API as ``Client``, over ``grpc.aio``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from polybrief.client._base import BaseClient, Call, E, R, ReplicaWait, ServingWait
from polybrief.client._errors import map_rpc_error


class AsyncClient(BaseClient[grpc.aio.Channel]):
    """An asyncio polybrief client that owns its channel; use ``async with``.

    >>> async with AsyncClient("localhost:50051") as client:
    ...     result = await client.summarize(article, to=["en", "fr"])

    Arguments (several targets for failover, ``credentials`` from ``tls_credentials``,
    ``api_key``), methods, deadlines, retries and errors are those of ``Client``; create
    and use it inside one running event loop.
    """

    def _open(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None,
        options: list[tuple[str, Any]],
    ) -> grpc.aio.Channel:
        if credentials is None:
            return grpc.aio.insecure_channel(target, options=options)
        return grpc.aio.secure_channel(target, credentials, options=options)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the channel, cancelling calls still in flight."""
        await self._channel.close(None)

    async def _run(self, call: Call[R]) -> R:
        """Makes ``call`` and awaits its end."""
        attempt = ReplicaWait(self, call.timeout)
        while True:
            try:
                reply = await self._invoke(call, attempt)
            except grpc.aio.AioRpcError as error:
                wait = attempt.wait(error)
                if wait is not None and await self._replica_ready(wait):
                    continue
                return call.failed(error)
            return call.read(reply)

    async def _stream(self, call: Call[E]) -> AsyncIterator[E]:
        """``Client._stream`` over asyncio: the events as they come, the stream made again
        when it failed before the first one."""
        attempt = ReplicaWait(self, call.timeout)
        while True:
            responses = self._invoke(call, attempt)
            started = False
            try:
                async for message in responses:
                    started = True
                    yield call.read(message)
                return
            except grpc.aio.AioRpcError as error:
                wait = None if started else attempt.wait(error)
                if wait is None or not await self._replica_ready(wait):
                    raise map_rpc_error(error) from error
            finally:
                responses.cancel()  # no-op once the stream has ended

    async def _replica_ready(self, timeout: float) -> bool:
        """Whether the channel has a ready replica within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except TimeoutError:
            return False
        return True

    async def wait_until_serving(self, timeout: float) -> None:
        """Polls health until SERVING; UnavailableError when ``timeout`` seconds pass."""
        wait = ServingWait(self, timeout)
        while (poll := wait.next_poll()) is not None:
            if wait.serving(await self._run(poll)):
                return
            await asyncio.sleep(wait.pause())
        raise wait.not_serving()
