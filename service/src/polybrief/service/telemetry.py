"""What the engine reports as it works, for metrics; the engine knows no metrics library.

The server passes an implementation (Prometheus, see ``observability/metrics.py``); without one,
nothing is recorded.
"""

from __future__ import annotations

from typing import Protocol


class Telemetry(Protocol):
    """Receives events from the inference thread and the model registry."""

    def batch_done(
        self, model: str, task: str, size: int, tokens_in: int, tokens_out: int, seconds: float
    ) -> None:
        """One batch of ``size`` segments ran on ``model``."""

    def model_loaded(self, model: str, seconds: float, ok: bool) -> None:
        """A model load finished (``ok``) or failed after ``seconds``."""

    def output_warned(self, model: str, code: str) -> None:
        """An output of ``model`` carries a quality warning ``code``."""

    def segments_dropped(self, count: int, reason: str) -> None:
        """``count`` queued segments were dropped unrun: their call was "cancelled" or its
        "deadline" passed."""


class NoTelemetry:
    """Records nothing."""

    def batch_done(
        self, model: str, task: str, size: int, tokens_in: int, tokens_out: int, seconds: float
    ) -> None:
        return None

    def model_loaded(self, model: str, seconds: float, ok: bool) -> None:
        return None

    def output_warned(self, model: str, code: str) -> None:
        return None

    def segments_dropped(self, count: int, reason: str) -> None:
        return None
