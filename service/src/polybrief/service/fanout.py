"""Parts of one call run side by side: the translation legs of a brief's languages, the
items of a Translate call.

Each part runs on a thread of the engine's leg pool and waits there on the inference
thread, so the parts' segments reach the batcher together and share batches (with each
other and with other calls). Results come back in completion order. A part that raises
ends the call: the others are stopped through the call's shared ``CancelScope`` (their
queued segments are dropped at once), the call waits until they have stopped (nothing of
it runs on after it ended) and the error is raised to the caller.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import TypeVar

from polybrief.service.context import CallContext

T = TypeVar("T")
Part = Callable[[CallContext], T]


def completed(
    executor: Executor, parts: Sequence[Part[T]], context: CallContext
) -> Iterator[tuple[int, T]]:
    """``(index, result)`` of each part as it completes. Closing the iterator early (the
    caller went away) or a part's error stops the parts still running."""
    shared = context.part()
    if len(parts) == 1:
        # one part runs on the caller's thread: no hop, and no leg thread held (with more
        # concurrent calls than leg threads, one-text calls queued for the pool and never
        # reached the batcher together: c64 batches averaged 28 of 64 segments)
        yield 0, _alive(parts[0], shared)
        return
    pending: dict[Future[T], int] = {
        executor.submit(contextvars.copy_context().run, _alive, part, shared): index
        for index, part in enumerate(parts)
    }
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=pending.__getitem__):
                index = pending.pop(future)
                yield index, future.result()
    finally:
        if pending:
            assert shared.scope is not None
            shared.scope.cancel()
            for future in pending:
                future.cancel()
            # Parts already running stop at their next step (their segments were dropped
            # with the scope): once the call has ended, none of its work is left.
            wait(pending)


def _alive(part: Part[T], context: CallContext) -> T:
    """Runs ``part`` unless its call ended while it waited for a thread."""
    context.check()
    return part(context)
