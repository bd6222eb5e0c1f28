"""Loads catalogue models on demand (local directory or Hugging Face cache), keeps the
most recently used ones in memory, and knows each model's state without loading it."""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polybrief.service.domain import ModelState
from polybrief.service.errors import ModelLoadFailed, ModelNotFound, ModelNotInstalled
from polybrief.service.heap import release_free_memory
from polybrief.service.models.backends import (
    Backend,
    CTranslate2Backend,
    TransformersBackend,
    convert_to_ct2,
    ct2_device,
)
from polybrief.service.models.bpe_cache import turn_off_bpe_cache
from polybrief.service.models.catalog import Catalog, ModelSpec
from polybrief.service.models.families import FamilyAdapter, adapter_for
from polybrief.service.models.lean import LEAN_DIR, load_tokenizer, read_facts
from polybrief.service.telemetry import NoTelemetry, Telemetry

log = logging.getLogger(__name__)

# Used when neither the catalogue nor the model's config states an input window.
FALLBACK_WINDOW = 512


@dataclass
class LoadedModel:
    """A model in memory with its tokenizer and the backend that runs it."""

    spec: ModelSpec
    tokenizer: Any
    model: Any
    adapter: FamilyAdapter
    max_input_tokens: int
    load_seconds: float
    backend: Backend


def is_installed(spec: ModelSpec) -> bool:
    """Whether the weights are on disk (local directory or HF cache); never downloads."""
    if spec.local_path is not None:
        return (spec.local_path / "config.json").is_file()
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(spec.source, "config.json", revision=spec.revision)
    return isinstance(found, str)


def checkpoint_dir(spec: ModelSpec, *, local_only: bool) -> str:
    """The directory holding the checkpoint: the local path, or its HF cache snapshot."""
    if spec.local_path is not None:
        return str(spec.local_path)
    from huggingface_hub import snapshot_download
    from polybrief.service.models.pull import IGNORE_PATTERNS

    # the pull's patterns: the weights of other frameworks are never fetched, and a cache
    # without them is complete
    found = snapshot_download(
        spec.source,
        revision=spec.revision,
        local_files_only=local_only,
        ignore_patterns=list(IGNORE_PATTERNS),
    )
    return str(found)


def input_window(spec: ModelSpec, config: Any, tokenizer: Any) -> int:
    """The model's real input limit in tokens: catalogue, else config, else tokenizer."""
    if spec.max_input_tokens:
        return spec.max_input_tokens
    limits = [
        value
        for value in (
            getattr(config, "max_position_embeddings", None),
            getattr(tokenizer, "model_max_length", None),
        )
        if isinstance(value, int) and 0 < value < 100_000
    ]
    return min(limits) if limits else FALLBACK_WINDOW


class ModelRegistry:
    """Thread-safe LRU of loaded models over a catalogue."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        allow_download: bool,
        max_loaded: int,
        threads: int,
        ct2_cache: Path,
        telemetry: Telemetry | None = None,
        max_batch_tokens: int | None = None,
    ) -> None:
        self.threads = threads
        self.max_batch_tokens = max_batch_tokens
        self.ct2_cache = ct2_cache
        self.telemetry: Telemetry = telemetry or NoTelemetry()
        self.catalog = catalog
        self.allow_download = allow_download
        self.max_loaded = max_loaded
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()
        self._failed: dict[str, str] = {}
        self._guard = threading.Lock()
        # One load at a time: transformers' loading keeps meta-device state process-wide,
        # and two concurrent loads left one model failing every call ("Tensor on device
        # cpu is not on the expected device meta!").
        self._loading = threading.Lock()
        self._load_listeners: list[Callable[[str, bool], None]] = []

    def on_load(self, listener: Callable[[str, bool], None]) -> None:
        """Calls ``listener(model_id, ok)`` on the loading thread after every load attempt
        (per-model health follows them)."""
        self._load_listeners.append(listener)

    def _loaded_event(self, model_id: str, seconds: float, *, ok: bool) -> None:
        self.telemetry.model_loaded(model_id, seconds, ok)
        for listener in self._load_listeners:
            listener(model_id, ok)

    def spec(self, model_id: str) -> ModelSpec:
        spec = self.catalog.get(model_id)
        if spec is None:
            raise ModelNotFound(model_id, self.catalog.ids)
        return spec

    def state(self, spec: ModelSpec) -> tuple[ModelState, str]:
        """Current state and a human-readable detail."""
        with self._guard:
            if spec.id in self._loaded:
                loaded = self._loaded[spec.id]
                detail = f"loaded in {loaded.load_seconds:.2f}s on {loaded.backend.name}"
                if loaded.backend.name != spec.backend:
                    detail += f" ({spec.backend} was unavailable: see the server log)"
                return ModelState.LOADED, detail
            if spec.id in self._failed:
                return ModelState.FAILED, self._failed[spec.id]
        if is_installed(spec):
            return ModelState.INSTALLED, ""
        return ModelState.NOT_INSTALLED, f"fetch with: {spec.pull_command}"

    def usable(self, spec: ModelSpec) -> bool:
        """Whether a request could run on this model now (without a download if disallowed)."""
        state, _ = self.state(spec)
        if state is ModelState.FAILED:
            return False
        return state is not ModelState.NOT_INSTALLED or self.allow_download

    def get(self, model_id: str) -> LoadedModel:
        """The loaded model, loading it (and evicting the least recently used) if needed."""
        spec = self.spec(model_id)
        with self._guard:
            if model_id in self._loaded:
                self._loaded.move_to_end(model_id)
                return self._loaded[model_id]
        with self._loading:
            with self._guard:
                if model_id in self._loaded:
                    return self._loaded[model_id]
                if model_id in self._failed:
                    raise ModelLoadFailed(model_id, self._failed[model_id])
            loaded = self._load(spec)
            with self._guard:
                self._loaded[model_id] = loaded
                while len(self._loaded) > self.max_loaded:
                    evicted, _ = self._loaded.popitem(last=False)
                    log.info("evicted model %s (max_loaded_models=%d)", evicted, self.max_loaded)
            gc.collect()
            release_free_memory()
            return loaded

    def window(self, spec: ModelSpec) -> int:
        """The input window in tokens: measured when loaded, else the catalogue's (or 0)."""
        with self._guard:
            loaded = self._loaded.get(spec.id)
        return loaded.max_input_tokens if loaded else spec.max_input_tokens or 0

    def _load(self, spec: ModelSpec) -> LoadedModel:
        if not self.allow_download and not is_installed(spec):
            raise ModelNotInstalled(spec.id, spec.source, spec.pull_command)
        where = str(spec.local_path) if spec.local_path is not None else spec.source
        options: dict[str, Any] = {"local_files_only": not self.allow_download}
        if spec.local_path is None and spec.revision:
            options["revision"] = spec.revision
        started = time.perf_counter()
        adapter = adapter_for(spec.family)
        try:
            model = None
            backend: Backend | None = None
            tokenizer: Any = None
            config: Any = None
            if spec.backend == "ctranslate2":
                # the torch weights are never loaded: CTranslate2 holds the only copy
                try:
                    backend, tokenizer, config = self._ctranslate2(spec, adapter, options, where)
                except Exception:  # a conversion problem must not take the model offline
                    log.exception("CTranslate2 unavailable for %s; serving it with torch", spec.id)
            if backend is None:
                tokenizer, config = self._transformers_files(where, options)
                from transformers import AutoModelForSeq2SeqLM

                model = AutoModelForSeq2SeqLM.from_pretrained(where, **options).eval()
                backend = TransformersBackend(spec, tokenizer, model, adapter)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            log.exception("loading model %s from %s failed", spec.id, where)
            with self._guard:
                self._failed[spec.id] = reason
            self._loaded_event(spec.id, time.perf_counter() - started, ok=False)
            raise ModelLoadFailed(spec.id, reason) from exc
        seconds = time.perf_counter() - started
        self._loaded_event(spec.id, seconds, ok=True)
        window = input_window(spec, config, tokenizer)
        # The engine chunks every input to `window` itself; this stops the tokenizer from
        # warning about over-long text while chunks are being measured.
        tokenizer.model_max_length = sys.maxsize
        log.info(
            "loaded model %s (%s) from %s in %.2fs (window %d tokens)",
            spec.id,
            backend.name,
            where,
            seconds,
            window,
        )
        return LoadedModel(
            spec=spec,
            tokenizer=tokenizer,
            model=model,
            adapter=adapter,
            max_input_tokens=window,
            load_seconds=seconds,
            backend=backend,
        )

    def _transformers_files(self, where: str, options: dict[str, Any]) -> tuple[Any, Any]:
        """The transformers tokenizer and config (the first need of torch: its threads are
        set here)."""
        torch_runtime(self.threads)
        from transformers import AutoConfig, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(where, **options)
        turn_off_bpe_cache(tokenizer)
        return tokenizer, AutoConfig.from_pretrained(where, **options)

    def _ctranslate2(
        self, spec: ModelSpec, adapter: FamilyAdapter, options: dict[str, Any], where: str
    ) -> tuple[Backend, Any, Any]:
        """The CTranslate2 backend, its tokenizer and config facts: without transformers
        (nor torch) when the conversion wrote a lean tokenizer (lean.py)."""
        directory = checkpoint_dir(spec, local_only=options["local_files_only"])
        converted = convert_to_ct2(
            spec, directory, ct2_device(spec.compute_type)[1], self.ct2_cache
        )
        facts = read_facts(converted)
        if facts is None:
            raise RuntimeError(f"{converted} has no {LEAN_DIR}/ facts: convert it again")
        tokenizer: Any = load_tokenizer(converted, where)
        config: Any = facts
        if tokenizer is None:  # a family without a lean tokenizer (M2M100)
            tokenizer, config = self._transformers_files(where, options)
        backend = CTranslate2Backend(
            spec,
            tokenizer,
            adapter,
            converted,
            compute_type=spec.compute_type,
            threads=self.threads,
            max_batch_tokens=self.max_batch_tokens,
            forced_eos=facts.forced_eos,
            default_beams=facts.default_beams,
            max_positions=facts.decoder_positions,
        )
        return backend, tokenizer, config


def torch_runtime(threads: int) -> None:
    """torch sized for this server, once, at its first need (never in a process whose
    models all run on CTranslate2)."""
    import torch
    from transformers.utils import logging as hf_logging

    if getattr(torch_runtime, "done", False):
        return
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    torch.set_num_threads(threads)
    # On CPU torch runs fp32 GELU (BART, mBART, PEGASUS) through oneDNN, which compiles a
    # kernel for every input shape and keeps up to 1,024 of them: memray traced the soak's
    # drift to them (~250 kB of JIT code per shape, +17 MB in 300 summaries). ATen's own
    # kernel keeps nothing; a distilbart-shaped generate ran as fast without oneDNN.
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]  # (typed as its descriptor)
    torch_runtime.done = True  # type: ignore[attr-defined]
