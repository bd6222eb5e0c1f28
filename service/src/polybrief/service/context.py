"""What the engine knows about the call it serves: its deadline and whether it was cancelled."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


def _never() -> bool:
    return False


@dataclass(frozen=True)
class CallContext:
    """Deadline (``time.monotonic()`` seconds) and cancellation probe of one request."""

    deadline: float | None = None
    cancelled: Callable[[], bool] = field(default=_never)

    @classmethod
    def with_timeout(
        cls, seconds: float | None, cancelled: Callable[[], bool] = _never
    ) -> CallContext:
        return cls(None if seconds is None else time.monotonic() + seconds, cancelled)

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def dead(self) -> bool:
        """True when the result can no longer reach anyone."""
        return self.cancelled() or self.expired()


NO_CONTEXT = CallContext()
