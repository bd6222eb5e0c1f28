"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
from polybrief.client._base import BaseClient, Call, E, R, ReplicaWait, ServingWait
from polybrief.client._errors import map_rpc_error


class Client(BaseClient[grpc.Channel]):
    """A blocking polybrief client that owns its channel; use it as a context manager.

    >>> with Client("localhost:50051", timeout=60) as client:
    ...     result = client.summarize(article, to=["en", "fr"])

    ``target`` is one server, "host:port" (or any gRPC target URI), or several for
    a fleet: ``Client(["10.0.0.1:50051", "10.0.0.2:50051"])`` (or
    ``"dns:///name:port"``) opens one channel over all of their addresses and sends each
    call to the next replica that is up and SERVING (round robin); a call that fails with
    UNAVAILABLE is retried on another, and when none is ready the call waits for one
    within its deadline (host names in a list are resolved once, here; see
    ``_channel``).

    ``timeout`` (seconds) is the deadline of every call unless a call passes its own
    ``timeout=``; calls are never unbounded. ``credentials`` makes the channel secure:
    ``tls_credentials(ca, cert=..., key=...)`` builds them from PEM files (TLS, or mutual
    TLS with a client certificate); with several targets, every server's certificate must
    be valid for the first target's host name. ``api_key`` is sent as
    ``authorization: Bearer <key>`` metadata; ``options`` are extra gRPC channel options.
    The channel retries UNAVAILABLE (see ``_channel``). Failed calls raise
    ``PolybriefError`` subclasses; ``health`` asks the server the channel is using.
    """

    def _open(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None,
        options: list[tuple[str, Any]],
    ) -> grpc.Channel:
        if credentials is None:
            return grpc.insecure_channel(target, options=options)
        return grpc.secure_channel(target, credentials, options=options)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel; calls made afterwards fail."""
        self._channel.close()

    def _run(self, call: Call[R]) -> R:
        """Makes ``call``, blocking until it ends."""
        attempt = ReplicaWait(self, call.timeout)
        while True:
            try:
                reply = self._invoke(call, attempt)
            except grpc.RpcError as error:
                wait = attempt.wait(error)
                if wait is not None and self._replica_ready(wait):
                    continue
                return call.failed(error)
            return call.read(reply)

    def _stream(self, call: Call[E]) -> Iterator[E]:
        """Makes the streaming ``call``; yields its events as they come. A stream that
        failed before its first event is made again as a unary call is (``ReplicaWait``)."""
        attempt = ReplicaWait(self, call.timeout)
        while True:
            responses = self._invoke(call, attempt)
            started = False
            try:
                for message in responses:
                    started = True
                    yield call.read(message)
                return
            except grpc.RpcError as error:
                wait = None if started else attempt.wait(error)
                if wait is None or not self._replica_ready(wait):
                    raise map_rpc_error(error) from error
            finally:
                responses.cancel()  # no-op once the stream has ended

    def _replica_ready(self, timeout: float) -> bool:
        """Whether the channel has a ready replica within ``timeout`` seconds."""
        ready = grpc.channel_ready_future(self._channel)
        try:
            ready.result(timeout=timeout)
        except grpc.FutureTimeoutError:
            ready.cancel()
            return False
        return True

    def wait_until_serving(self, timeout: float) -> None:
        """Polls health until SERVING; UnavailableError when ``timeout`` seconds pass."""
        wait = ServingWait(self, timeout)
        while (poll := wait.next_poll()) is not None:
            if wait.serving(self._run(poll)):
                return
            time.sleep(wait.pause())
        raise wait.not_serving()
