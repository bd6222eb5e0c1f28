"""Domain errors raised by the engine. The gRPC layer maps each to one status code."""

from __future__ import annotations

from collections.abc import Sequence

from polybrief.service.domain import FieldViolation


class PolybriefError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidRequest(PolybriefError):
    """The request is malformed; ``violations`` name the offending fields."""

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))


class ModelNotFound(PolybriefError):
    """A model id that is not in the catalogue."""

    def __init__(self, model_id: str, known: Sequence[str]) -> None:
        self.model_id = model_id
        self.known = tuple(known)
        super().__init__(f"unknown model {model_id!r}; the catalogue has: {', '.join(known)}")


class ModelNotInstalled(PolybriefError):
    """A catalogue model whose weights are not available locally."""

    def __init__(self, model_id: str, source: str, hint: str) -> None:
        self.model_id = model_id
        self.source = source
        self.hint = hint
        super().__init__(
            f"model {model_id!r} ({source}) is not installed and downloads are disabled; "
            f"fetch it with: {hint}"
        )


class ModelLoadFailed(PolybriefError):
    """A model whose files exist but could not be loaded."""

    def __init__(self, model_id: str, reason: str) -> None:
        self.model_id = model_id
        self.reason = reason
        super().__init__(f"model {model_id!r} failed to load: {reason}")


class UnsupportedRoute(PolybriefError):
    """No model (direct, multilingual or pivot) can serve a language pair or task."""

    def __init__(self, message: str, code: str = "UNSUPPORTED_LANGUAGE_PAIR") -> None:
        self.code = code
        super().__init__(message)


class NotReady(PolybriefError):
    """The engine is still starting or is shutting down."""


class Overloaded(PolybriefError):
    """Too much work queued; the caller should retry later."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class Cancelled(PolybriefError):
    """The caller went away; queued work for it was dropped."""


class DeadlineExpired(PolybriefError):
    """The call's deadline passed; queued work for it was dropped."""


class OutOfMemory(PolybriefError):
    """Inference for this request ran out of memory; other requests are unaffected."""


class Unauthenticated(PolybriefError):
    """No API key, or one the server does not know."""


class QuotaExceeded(PolybriefError):
    """An API key used up its per-minute allowance of requests or characters."""

    def __init__(self, key_id: str, limit: str, retry_after_s: float) -> None:
        self.key_id = key_id
        self.limit = limit
        self.retry_after_s = retry_after_s
        super().__init__(f"API key {key_id!r} is over its quota of {limit}")
