"""Fetching catalogue models into the Hugging Face cache, for offline serving.

The typed API behind ``polybrief-server models pull``. Downloads go through
``huggingface_hub.snapshot_download``, so the hub endpoint, the cache and the token are
those huggingface_hub reads (``HF_ENDPOINT``, ``HF_HOME``/``HF_HUB_CACHE``, ``HF_TOKEN``,
``HF_HUB_OFFLINE``); the server later reads the same cache with no network access.
"""

from __future__ import annotations

import http.client
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from polybrief.service.models.catalog import Catalog

# Weights of other frameworks and export formats: never loaded by polybrief.
IGNORE_PATTERNS = (
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "onnx/*",
    "tf_model*",
    "flax_model*",
    "rust_model*",
    "*.tflite",
)

Outcome = Literal["fetched", "local", "failed"]


class UnknownModelError(ValueError):
    """Some requested ids are not in the catalogue; the message lists the catalogue."""


@dataclass(frozen=True)
class PullResult:
    """What happened to one model: ``fetched`` (now complete in the cache), ``local`` (a
    directory entry: nothing to fetch) or ``failed`` (``error`` says why, in one line)."""

    model_id: str
    outcome: Outcome
    path: Path | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


def pull(
    catalog: Catalog,
    ids: Sequence[str] | None = None,
    *,
    progress: bool = True,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] | None = None,
    endpoint: str | None = None,
    cache_dir: Path | None = None,
) -> list[PullResult]:
    """Downloads the models ``ids`` (default: every catalogue entry) into the HF cache.

    One line per model goes to ``out`` (failures to ``err``, default ``out``); with
    ``progress`` huggingface_hub's own progress bars are drawn on stderr, even where
    ``HF_HUB_DISABLE_PROGRESS_BARS`` or ``disable_progress_bars()`` turned them off for
    the process (as the server does). A failing model is reported (exception type and
    first line of its message, no traceback) and the others are still fetched.
    ``endpoint`` and ``cache_dir`` override ``HF_ENDPOINT`` and the HF cache location.

    Raises ``UnknownModelError`` before downloading anything if an id is unknown.
    """
    from huggingface_hub import snapshot_download

    wanted = list(dict.fromkeys(ids)) if ids else list(catalog.ids)
    unknown = [model_id for model_id in wanted if catalog.get(model_id) is None]
    if unknown:
        raise UnknownModelError(
            f"unknown model(s) {', '.join(unknown)}; catalogue: {', '.join(catalog.ids)}"
        )
    specs = [spec for spec in map(catalog.get, wanted) if spec is not None]
    report_error = err or out
    bars = _bar_class(shown=progress)
    results: list[PullResult] = []
    for spec in specs:
        model_id = spec.id
        if spec.local_path is not None:
            out(f"{model_id}: local directory {spec.local_path}, nothing to pull")
            results.append(PullResult(model_id, "local", spec.local_path))
            continue
        out(f"{model_id}: fetching {spec.source}@{spec.revision or 'main'}")
        try:
            path = snapshot_download(
                spec.source,
                revision=spec.revision,
                ignore_patterns=list(IGNORE_PATTERNS),
                endpoint=endpoint,
                cache_dir=cache_dir,
                tqdm_class=bars,
            )
        except Exception as exc:  # network, HTTP, auth and disk errors all end the same way
            error = f"{type(exc).__name__}: {_summary(exc)}"
            report_error(f"{model_id}: FAILED: {error}")
            results.append(PullResult(model_id, "failed", error=error))
            continue
        out(f"{model_id}: ok ({path})")
        results.append(PullResult(model_id, "fetched", Path(path)))
    return results


def hub_reachable(timeout_s: float = 5.0, *, endpoint: str | None = None) -> bool:
    """Whether the hub answers a HEAD request on its root within ``timeout_s``.

    ``endpoint`` defaults to huggingface_hub's (``HF_ENDPOINT``, else huggingface.co);
    ``HF_HUB_OFFLINE=1`` means False without any request. Only a status below 400
    counts: an error page from a proxy is not the hub.
    """
    from huggingface_hub import constants

    if constants.is_offline_mode():
        return False
    url = (endpoint or constants.ENDPOINT).rstrip("/") + "/"
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status: int = response.status
    except (OSError, ValueError, http.client.HTTPException):  # URLError, HTTPError: OSError
        return False
    return status < 400


def _summary(exc: BaseException) -> str:
    """One line of an error message: its first line, and the second when the first says
    little on its own (huggingface_hub's "401 Client Error." then "Repository Not Found")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) > 1 and len(lines[0]) < 40:
        return f"{lines[0]} {lines[1]}"
    return lines[0] if lines else ""


def _bar_class(*, shown: bool) -> type[Any]:
    """huggingface_hub's tqdm, forced on (in the hub's own TTY-aware way) or off.

    Passed as ``tqdm_class`` it drives every bar ``snapshot_download`` draws, without
    touching the process-wide switch the server turns off.
    """
    from huggingface_hub.utils.tqdm import tqdm as hf_tqdm

    class Bars(hf_tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            if not shown:
                kwargs["disable"] = True
            # Skips hf_tqdm.__init__, whose only work is applying the process-wide switch.
            super(hf_tqdm, self).__init__(*args, **kwargs)

    return Bars
