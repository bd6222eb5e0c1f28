"""Dynamic batching across requests.

Concurrent calls submit segments (sentences, chunks) for a model and a task; one
inference thread takes the oldest segment, waits at most ``max_wait_s`` for more of the
same model and task, sorts them by length and runs them as one batch. Segments of calls
that were cancelled or whose deadline passed are dropped before any compute: at once when
the call's ``CancelScope`` is cancelled (the client went away), else when their batch is
taken. The queue is
bounded: past ``max_queue`` segments, submission fails with Overloaded (RESOURCE_EXHAUSTED
with RetryInfo) at once.

``workers`` inference threads (each batch using all torch/CTranslate2 threads) take
batches side by side, never two of the same model at once: the legs of a brief (one model
per language pair) overlap instead of queueing behind each other, which pays where one
small batch leaves the cores (or the GPU) partly idle; one model's batches still run one
after another. Request threads only wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field

from polybrief.service.context import CallContext
from polybrief.service.errors import Cancelled, DeadlineExpired, OutOfMemory, Overloaded
from polybrief.service.models.backends import Backend, Task
from polybrief.service.quality.guard import Scored
from polybrief.service.telemetry import NoTelemetry, Telemetry

log = logging.getLogger(__name__)


@dataclass
class _Job:
    backend: Backend
    model: str
    task: Task
    text: str
    context: CallContext
    future: Future[Scored] = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)


@dataclass
class BatchStats:
    """Counters since start (read them for tests, benchmarks and metrics)."""

    submitted: int = 0
    computed: int = 0
    dropped: int = 0
    batches: int = 0
    largest_batch: int = 0


class Batcher:
    """Merges segments of concurrent requests into batches on ``workers`` inference threads."""

    def __init__(
        self,
        *,
        max_batch: int,
        max_wait_s: float,
        fill_wait_s: float,
        max_queue: int,
        workers: int,
        fill_fraction: float,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.fill_wait_s = fill_wait_s
        # the fill wait grows with the model's last batch time: at high concurrency the
        # callers of a batch need longer to come back than a fixed 30 ms
        self.fill_fraction = fill_fraction
        self._last_batch_s: dict[str, float] = {}
        self._live = 0
        self._recent: deque[tuple[float, int]] = deque()  # (when, calls waiting then)
        self.max_queue = max_queue
        self.stats = BatchStats()
        self.telemetry: Telemetry = telemetry or NoTelemetry()
        self._queue: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._busy: set[str] = set()  # models with a batch running
        self._threads = [
            threading.Thread(target=self._loop, name=f"polybrief-inference-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def run(
        self, backend: Backend, model: str, task: Task, texts: Sequence[str], context: CallContext
    ) -> list[Scored]:
        """Outputs for ``texts`` with their scores (computed in shared batches); raises if
        the call died."""
        jobs = [_Job(backend, model, task, text, context) for text in texts]
        if context.dead():  # the caller is gone before anything was queued
            with self._cond:
                self.stats.submitted += len(jobs)
                self.stats.dropped += len(jobs)
            self.telemetry.segments_dropped(len(jobs), _reason(context))
            if context.cancelled():
                raise Cancelled("the call was cancelled")
            raise DeadlineExpired("the call's deadline passed")
        with self._cond:
            if self._closed:
                raise Overloaded("the server is shutting down", retry_after_s=1.0)
            # A call larger than the whole queue is still admitted when the queue is empty:
            # it could never run otherwise (its size is bounded by the request limits).
            if self._queue and len(self._queue) + len(jobs) > self.max_queue:
                raise Overloaded(
                    f"inference queue full ({len(self._queue)} segments waiting)", retry_after_s=1.0
                )
            self._queue.extend(jobs)
            self._count_live(+1)
            self.stats.submitted += len(jobs)
            self._cond.notify_all()
        forget = context.on_cancel(lambda: self._drop(jobs))
        try:
            return [self._wait(job) for job in jobs]
        finally:
            forget()
            with self._cond:
                self._count_live(-1)

    def _drop(self, jobs: Sequence[_Job]) -> None:
        """Takes the jobs of a cancelled call out of the queue now (those not yet taken)."""
        ids = {id(job) for job in jobs}
        with self._cond:
            removed = [job for job in self._queue if id(job) in ids]
            if not removed:
                return
            self._queue = deque(job for job in self._queue if id(job) not in ids)
            self.stats.dropped += len(removed)
        for job in removed:  # jobs already taken into a batch finish there
            job.future.cancel()
        self.telemetry.segments_dropped(len(removed), "cancelled")

    def _wait(self, job: _Job) -> Scored:
        while True:
            remaining = job.context.remaining()
            timeout = 0.05 if remaining is None else max(0.0, min(0.05, remaining))
            try:
                return job.future.result(timeout=timeout)
            except CancelledError:
                if job.context.expired():
                    raise DeadlineExpired("the call's deadline passed") from None
                raise Cancelled("the call was cancelled") from None
            except TimeoutError:
                if job.context.cancelled():
                    raise Cancelled("the call was cancelled") from None
                if job.context.expired():
                    raise DeadlineExpired("the call's deadline passed") from None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def _recent_concurrency(self, now: float) -> int:
        """The most calls waiting on inference at once during the last second, or the
        last two batch times when batches take longer: the callers of a batch arrived
        before it began, so a one-second memory of batches of 1.5 s forgot the last of
        them and the next batch set off one short (15 of 16), leaving one behind."""
        window = max(1.0, 2 * max(self._last_batch_s.values(), default=0.0))
        while len(self._recent) > 1 and now - self._recent[1][0] > window:
            self._recent.popleft()
        return max((live for _, live in self._recent), default=self._live)

    def _count_live(self, change: int) -> None:
        self._live += change
        self._recent.append((time.monotonic(), self._live))

    def _take(self) -> list[_Job] | None:
        with self._cond:
            while True:
                batch = self._next_batch()
                if batch is None or batch:
                    return batch
                # its segment left, or its model got busy, while it waited: choose again

    def _next_batch(self) -> list[_Job] | None:
        """The next batch; empty when, while it waited, the segment it waited for left the
        queue or another worker took a batch of its model; None once closed and drained.
        Called with the lock held."""
        while True:
            if self._closed and not self._queue:
                return None
            first = next((j for j in self._queue if j.model not in self._busy), None)
            if first is not None:
                break
            self._cond.wait()
        started = time.monotonic()
        # Closed-loop clients come back a few milliseconds after their answer; waiting
        # (at most fill_wait_s) until the batch matches the recent concurrency keeps them
        # in step instead of splitting them into alternating half-full batches. With one
        # caller the target is 1 and nothing waits.
        target = min(self.max_batch, max(1, self._recent_concurrency(started)))
        fill_s = max(self.fill_wait_s, self.fill_fraction * self._last_batch_s.get(first.model, 0))
        while not self._closed:
            now = time.monotonic()
            same = sum(1 for j in self._queue if j.model == first.model and j.task == first.task)
            if same >= target:
                break
            left = max(first.enqueued + self.max_wait_s, started + fill_s) - now
            if left <= 0:
                break
            self._cond.wait(left)
        if first.model in self._busy:  # another worker took this model's batch meanwhile
            return []
        batch: list[_Job] = []
        rest: deque[_Job] = deque()
        for job in self._queue:
            if len(batch) < self.max_batch and job.model == first.model and job.task == first.task:
                batch.append(job)
            else:
                rest.append(job)
        self._queue = rest
        if batch:
            self._busy.add(first.model)
        return batch

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            live = []
            for job in batch:
                if job.context.dead():
                    self.stats.dropped += 1
                    job.future.cancel()
                    self.telemetry.segments_dropped(1, _reason(job.context))
                else:
                    live.append(job)
            began = time.monotonic()
            try:
                if live:
                    self._compute(live)
            finally:
                with self._cond:
                    self._busy.discard(batch[0].model)
                    if live:
                        self._last_batch_s[batch[0].model] = time.monotonic() - began
                    self._cond.notify_all()

    def _compute(self, jobs: list[_Job]) -> None:
        unique = sorted({job.text for job in jobs}, key=len)
        results = self._generate(jobs[0], unique)
        for job in jobs:
            result = results[job.text]
            if isinstance(result, Exception):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    def _generate(self, first: _Job, texts: list[str]) -> dict[str, Scored | Exception]:
        """Outputs by input; when a batch fails, its halves are retried so that only the
        segment that fails (out of memory, a model bug) fails, with its own requests."""
        started = time.perf_counter()
        try:
            generated = first.backend.generate(texts, first.task)
        except Exception as exc:
            if len(texts) > 1:
                middle = len(texts) // 2
                return {
                    **self._generate(first, texts[:middle]),
                    **self._generate(first, texts[middle:]),
                }
            log.exception("inference on %s failed for one segment", first.model)
            return {texts[0]: _domain_error(exc)}
        with self._cond:
            self.stats.computed += len(texts)
            self.stats.batches += 1
            self.stats.largest_batch = max(self.stats.largest_batch, len(texts))
        self.telemetry.batch_done(
            first.model,
            first.task.kind,
            len(texts),
            generated.tokens_in,
            generated.tokens_out,
            time.perf_counter() - started,
        )
        scores = generated.scores or [0.0] * len(texts)
        return {
            text: Scored(output, score)
            for text, output, score in zip(texts, generated.outputs, scores, strict=True)
        }


def _reason(context: CallContext) -> str:
    return "cancelled" if context.cancelled() else "deadline"


def _domain_error(exc: Exception) -> Exception:
    """Out-of-memory errors (Python's, torch's) become OutOfMemory; others stay as they are."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return OutOfMemory(
            "inference ran out of memory on this request's input; retry with less text per call"
        )
    return exc
