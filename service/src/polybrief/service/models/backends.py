"""Inference backends behind one interface: transformers (torch) and CTranslate2.

Both take the family adapter's prepared inputs, so language tokens, prompts and forced
BOS tokens are decided in one place (families.py) whatever runs the model.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from polybrief.service.models.catalog import ModelSpec
from polybrief.service.models.families import FamilyAdapter, Prepared

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """What to do with a batch; requests with equal tasks may share a batch."""

    kind: str  # "translate" or "summarize"
    source: str
    target: str  # equals source for summaries
    max_new_tokens: int | None = None
    token_cap: int | None = None  # the server's limit on tokens generated per segment


@dataclass(frozen=True)
class Generated:
    """A batch's outputs, in input order, and the tokens it read and wrote."""

    outputs: list[str]
    tokens_in: int
    tokens_out: int


class Backend(Protocol):
    name: str

    def generate(self, texts: Sequence[str], task: Task) -> Generated:
        """Outputs for ``texts``, in order, with token counts."""
        ...


def generation_settings(spec: ModelSpec, max_new_tokens: int | None) -> dict[str, Any]:
    """The catalogue's decoding settings, with a request's budget applied."""
    settings: dict[str, Any] = dict(spec.generation)
    if max_new_tokens is not None:
        current = int(settings.get("max_new_tokens", max_new_tokens))
        settings["max_new_tokens"] = min(current, max_new_tokens)
    if "min_new_tokens" in settings and "max_new_tokens" in settings:
        settings["min_new_tokens"] = min(
            int(settings["min_new_tokens"]), int(settings["max_new_tokens"])
        )
    return settings


def _prepare(
    adapter: FamilyAdapter, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], task: Task
) -> Prepared:
    if task.kind == "translate":
        return adapter.prepare_translation(tokenizer, spec, texts, task.source, task.target)
    return adapter.prepare_summary(tokenizer, spec, texts, task.source)


def _budget(spec: ModelSpec, task: Task, prepared: Prepared) -> int | None:
    if task.max_new_tokens is not None or "max_new_tokens" in spec.generation:
        budget = task.max_new_tokens
    else:
        # translations: room for twice the input, the model stops at end-of-sequence
        budget = int(prepared.inputs["input_ids"].shape[1]) * 2 + 16
    if task.token_cap is None:
        return budget
    return task.token_cap if budget is None else min(budget, task.token_cap)


class TransformersBackend:
    """``model.generate`` on torch."""

    name = "transformers"

    def __init__(self, spec: ModelSpec, tokenizer: Any, model: Any, adapter: FamilyAdapter) -> None:
        self.spec, self.tokenizer, self.model, self.adapter = spec, tokenizer, model, adapter

    def generate(self, texts: Sequence[str], task: Task) -> Generated:
        import torch

        prepared = _prepare(self.adapter, self.tokenizer, self.spec, texts, task)
        settings = generation_settings(self.spec, _budget(self.spec, task, prepared))
        settings.update(prepared.generate_kwargs)
        with torch.inference_mode():
            output = self.model.generate(**prepared.inputs, **settings)
        pad = self.model.generation_config.pad_token_id
        written = int((output != pad).sum()) if pad is not None else int(output.numel())
        return Generated(
            [str(t).strip() for t in self.tokenizer.batch_decode(output, skip_special_tokens=True)],
            int(prepared.inputs["attention_mask"].sum()),
            written,
        )


def ct2_device(compute_type: str) -> tuple[str, str]:
    """(device, compute type): a GPU when CTranslate2 sees one; "auto" picks int8 on CPU
    and int8_float16 on GPU."""
    import ctranslate2

    device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "int8_float16" if device == "cuda" else "int8"
    return device, compute_type


def ct2_dir(spec: ModelSpec, source_dir: str, quantization: str, root: Path) -> Path:
    """Where the converted model is kept under ``root``: one folder per source, revision
    and quantisation."""
    digest = hashlib.sha256(f"{source_dir}|{spec.revision}|{quantization}".encode()).hexdigest()[
        :12
    ]
    return root / f"{spec.id}-{quantization}-{digest}"


def convert_to_ct2(spec: ModelSpec, source_dir: str, quantization: str, root: Path) -> Path:
    """Converts a Hugging Face checkpoint to CTranslate2 once, into a folder under ``root``;
    later calls reuse the folder."""
    out = ct2_dir(spec, source_dir, quantization, root)
    if (out / "model.bin").is_file():
        return out
    import ctranslate2
    from transformers import BartConfig, MBartConfig, PegasusConfig

    # ctranslate2 4.8 reads `normalize_before`, which transformers v5 configs dropped.
    # BART is post-norm; mBART and PEGASUS are pre-norm.
    for config_class, pre_norm in ((BartConfig, False), (MBartConfig, True), (PegasusConfig, True)):
        if not hasattr(config_class, "normalize_before"):
            config_class.normalize_before = pre_norm  # type: ignore[union-attr]
    tmp = out.with_name(out.name + ".partial")
    ctranslate2.converters.TransformersConverter(source_dir).convert(
        str(tmp), quantization=quantization, force=True
    )
    tmp.rename(out)
    log.info("converted %s to CTranslate2 (%s) in %s", spec.id, quantization, out)
    return out


class CTranslate2Backend:
    """CTranslate2 ``Translator`` (int8 on CPU by default)."""

    name = "ctranslate2"

    def __init__(
        self,
        spec: ModelSpec,
        tokenizer: Any,
        adapter: FamilyAdapter,
        model_dir: Path,
        *,
        compute_type: str,
        threads: int,
        forced_eos: bool,
        default_beams: int = 1,
    ) -> None:
        import ctranslate2

        self.spec, self.tokenizer, self.adapter = spec, tokenizer, adapter
        device, compute_type = ct2_device(compute_type)
        # transformers spends the last allowed step on a forced end-of-sequence token
        self.eos_step = 1 if forced_eos else 0
        # the checkpoint's generation config, as transformers would use it
        self.default_beams = default_beams
        self.translator = ctranslate2.Translator(
            str(model_dir), device=device, compute_type=compute_type, intra_threads=threads
        )

    def generate(self, texts: Sequence[str], task: Task) -> Generated:
        prepared = _prepare(self.adapter, self.tokenizer, self.spec, texts, task)
        ids, mask = prepared.inputs["input_ids"], prepared.inputs["attention_mask"]
        tokens = [
            self.tokenizer.convert_ids_to_tokens(row[: int(m.sum())].tolist())
            for row, m in zip(ids, mask, strict=True)
        ]
        settings = generation_settings(self.spec, _budget(self.spec, task, prepared))
        forced = prepared.generate_kwargs.get("forced_bos_token_id")
        prefix = (
            [[self.tokenizer.convert_ids_to_tokens(int(forced))]] * len(tokens)
            if forced is not None
            else None
        )
        extra = 1 if prefix else 0  # CTranslate2 counts the target prefix in the lengths
        longest = int(settings.get("max_new_tokens", 256)) + extra - self.eos_step
        results = self.translator.translate_batch(
            tokens,
            target_prefix=prefix,
            beam_size=int(settings.get("num_beams", self.default_beams)),
            max_decoding_length=longest,
            # with a forced end-of-sequence, transformers writes at most max - 1 tokens
            min_decoding_length=min(int(settings.get("min_new_tokens", 0)) + extra, longest),
            no_repeat_ngram_size=int(settings.get("no_repeat_ngram_size", 0)),
            repetition_penalty=float(settings.get("repetition_penalty", 1.0)),
            length_penalty=float(settings.get("length_penalty", 1.0)),
        )
        outputs = []
        written = 0
        for result in results:
            out_ids = self.tokenizer.convert_tokens_to_ids(result.hypotheses[0])
            written += len(out_ids)
            outputs.append(str(self.tokenizer.decode(out_ids, skip_special_tokens=True)).strip())
        return Generated(outputs, int(mask.sum()), written)
