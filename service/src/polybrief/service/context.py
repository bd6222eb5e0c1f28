"""What the engine knows about the call it serves: its deadline and whether it was cancelled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Hook = Callable[[], None]


def _never() -> bool:
    return False


class CancelScope:
    """The end of one call before its result is needed: set once (the client cancelled
    or went away, or a part of the call failed), it runs the hooks registered until then
    (e.g. the batcher dropping the call's queued segments at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._hooks: dict[int, Hook] = {}
        self._next = 0

    def cancel(self) -> None:
        with self._lock:
            if self._set:
                return
            self._set = True
            hooks, self._hooks = list(self._hooks.values()), {}
        for hook in hooks:
            hook()

    def is_set(self) -> bool:
        return self._set

    def on_cancel(self, hook: Hook) -> Hook:
        """Runs ``hook`` when the scope is cancelled (now, if it already is); returns what
        unregisters it."""
        with self._lock:
            if not self._set:
                key = self._next
                self._next += 1
                self._hooks[key] = hook
                return lambda: self._forget(key)
        hook()
        return lambda: None

    def _forget(self, key: int) -> None:
        with self._lock:
            self._hooks.pop(key, None)


@dataclass(frozen=True)
class CallContext:
    """Deadline (``time.monotonic()`` seconds) and cancellation of one request.

    ``cancelled`` is a probe; ``scope``, when set, also tells the engine the moment the
    call is cancelled (``on_cancel``), so queued work can be freed without polling.
    """

    deadline: float | None = None
    cancelled: Callable[[], bool] = field(default=_never)
    scope: CancelScope | None = None

    @classmethod
    def with_timeout(
        cls, seconds: float | None, cancelled: Callable[[], bool] = _never
    ) -> CallContext:
        return cls(None if seconds is None else time.monotonic() + seconds, cancelled)

    @classmethod
    def of_scope(cls, seconds: float | None, scope: CancelScope) -> CallContext:
        """A call that ends at ``seconds`` from now or when ``scope`` is cancelled."""
        return cls(None if seconds is None else time.monotonic() + seconds, scope.is_set, scope)

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def dead(self) -> bool:
        """True when the result can no longer reach anyone."""
        return self.cancelled() or self.expired()

    def check(self) -> None:
        """Raises Cancelled or DeadlineExpired once the call has ended."""
        from polybrief.service.errors import Cancelled, DeadlineExpired

        if self.cancelled():
            raise Cancelled("the call was cancelled")
        if self.expired():
            raise DeadlineExpired("the call's deadline passed")

    def on_cancel(self, hook: Hook) -> Hook:
        """Runs ``hook`` once the call is cancelled (see ``CancelScope.on_cancel``); a
        context without a scope never calls it."""
        return self.scope.on_cancel(hook) if self.scope is not None else lambda: None

    def part(self) -> CallContext:
        """A context for a part of this call (a leg, an item): cancelled with the call,
        or on its own through its ``scope`` (which then stops the other parts' work only
        when they share that scope)."""
        scope = CancelScope()
        parent = self.cancelled
        self.on_cancel(scope.cancel)  # never unhooked: a part lives as long as its call
        return CallContext(self.deadline, lambda: scope.is_set() or parent(), scope)


NO_CONTEXT = CallContext()
