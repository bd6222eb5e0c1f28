"""Inference backends behind one interface: transformers (torch) and CTranslate2.

Both take the family adapter's prepared inputs, so language tokens, prompts and forced
BOS tokens are decided in one place (families.py) whatever runs the model.

Both score what they generate the same way: each output's score is the mean natural-log
probability of its generated tokens (Guerreiro et al., EACL 2023: the length-normalised
sequence log-probability, the best cheap hallucination detector). The probabilities are
those the search chose from: the model's distribution after the decoding constraints
(repetition penalty, no-repeat n-grams, minimum length), renormalised. A generated token
is every token after the decoder start token up to and including the end-of-sequence
token when the model chose it; tokens the model had no choice about are left out: a forced
target-language token (CTranslate2's target prefix) and the end-of-sequence token
transformers forces at the length limit. Nothing left (only forced tokens): 0.0.

A summary's language is ``Task.target``: the source's own, or (a cross-lingual summariser
such as CrossSum, whose language is its decoder start token) another one its catalogue
entry's ``summary_targets`` lists. The decoder start token is never scored nor decoded.
CTranslate2 cannot set the decoder start token per call, so CrossSum runs on
transformers only (the catalogue refuses ``backend = "ctranslate2"`` for it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from polybrief.service.models.catalog import ModelSpec
from polybrief.service.models.families import FamilyAdapter, Prepared
from polybrief.service.models.lean import read_facts, write_lean

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """What to do with a batch; requests with equal tasks may share a batch."""

    kind: str  # "translate" or "summarize"
    source: str
    # the output language; for summaries the source's own, or another language a
    # cross-lingual summariser writes (ModelSpec.summarizes(source, target))
    target: str
    max_new_tokens: int | None = None
    token_cap: int | None = None  # the server's limit on tokens generated per segment
    # re-decode against loops: beam search (at least RETRY_BEAMS beams) with
    # no_repeat_ngram_size and repetition_penalty (RETRY_SETTINGS) over the entry's settings
    retry: bool = False
    # cap generated tokens at ceil(length_cap * the batch's longest input in tokens) + 8
    length_cap: float | None = None


# What a retry decodes with, over the catalogue entry's settings.
RETRY_SETTINGS: dict[str, Any] = {"no_repeat_ngram_size": 3, "repetition_penalty": 1.3}
RETRY_BEAMS = 4
LENGTH_CAP_SLACK = 8  # tokens allowed beyond the length cap's ratio (short inputs)
# The score of an output whose log-probability cannot be recovered (CTranslate2 beam
# search returning an empty hypothesis, whose length-normalised score is infinite).
MIN_SCORE = -100.0


@dataclass(frozen=True)
class Generated:
    """A batch's outputs, in input order, the tokens it read and wrote, and each output's
    score: the mean log-probability per generated token (natural log, <= 0; see the
    module docstring), aligned with ``outputs``."""

    outputs: list[str]
    tokens_in: int
    tokens_out: int
    scores: list[float] = field(default_factory=list)


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


def decoder_positions(config: Any) -> int | None:
    """How many positions the decoder has (learned or tabulated position embeddings), or
    None when it has no such limit (T5's relative positions). Generating more tokens than
    this can only crash: an index error in torch, "No position encodings are defined for
    positions >= N" in CTranslate2."""
    for part in (getattr(config, "decoder", None), config):
        if part is None:
            continue
        for name in ("max_target_positions", "max_position_embeddings"):
            value = getattr(part, name, None)
            if isinstance(value, int) and value > 0:
                return value
    return None


def decoding_settings(
    spec: ModelSpec, task: Task, prepared: Prepared, *, beams: int, positions: int | None
) -> dict[str, Any]:
    """The decoding settings of one batch: the catalogue's, with the request's budget, the
    task's length cap and retry applied, never more new tokens than the decoder has
    positions; ``beams`` is the model's own default beam count."""
    settings = generation_settings(spec, _budget(spec, task, prepared))
    caps = [positions] if positions else []
    if task.length_cap is not None:
        longest = int(prepared.inputs["attention_mask"].sum(axis=1).max())
        caps.append(math.ceil(task.length_cap * longest) + LENGTH_CAP_SLACK)
    for cap in caps:
        settings["max_new_tokens"] = min(int(settings.get("max_new_tokens", cap)), cap)
    if task.retry:
        settings.update(RETRY_SETTINGS)
        settings["num_beams"] = max(RETRY_BEAMS, int(settings.get("num_beams", beams)))
    if "min_new_tokens" in settings and "max_new_tokens" in settings:
        settings["min_new_tokens"] = min(
            int(settings["min_new_tokens"]), int(settings["max_new_tokens"])
        )
    return settings


def _prepare(
    adapter: FamilyAdapter,
    tokenizer: Any,
    spec: ModelSpec,
    texts: Sequence[str],
    task: Task,
    config: Any = None,
) -> Prepared:
    """The family's inputs for ``task``; ``config`` the model's configuration, if loaded."""
    if task.kind == "translate":
        return adapter.prepare_translation(tokenizer, spec, texts, task.source, task.target)
    return adapter.prepare_summary(
        tokenizer, spec, texts, task.source, target=task.target, config=config
    )


def _decode(tokenizer: Any, rows: Sequence[Sequence[int]], drop: frozenset[int]) -> list[str]:
    """The texts of generated rows, special tokens and the ``drop`` ids left out."""
    if drop:
        rows = [[t for t in row if t not in drop] for row in rows]
    return [str(t).strip() for t in tokenizer.batch_decode(rows, skip_special_tokens=True)]


def _budget(spec: ModelSpec, task: Task, prepared: Prepared) -> int | None:
    if task.max_new_tokens is not None or "max_new_tokens" in spec.generation:
        budget = task.max_new_tokens
    else:
        # translations: room for twice the input, the model stops at end-of-sequence
        budget = int(prepared.inputs["input_ids"].shape[1]) * 2 + 16
    if task.token_cap is None:
        return budget
    return task.token_cap if budget is None else min(budget, task.token_cap)


class TokenLogProbs:
    """A logits processor, run last, that keeps what scoring needs and nothing more: at
    every step, for each row, the log-probabilities (log-softmax of the processed scores,
    as ``compute_transition_scores(normalize_logits=True)`` computes them) of the ``keep``
    likeliest tokens. The tokens a greedy or beam search picks are always among them
    (beam search picks from each row's best ``2 x beams``); ``output_scores`` would instead
    keep a vocabulary-sized tensor per step and row (gigabytes on 250k-token vocabularies).
    It changes no score. (Were a catalogue entry to sample, a sampled token outside the
    kept ones would score as the best kept one: an upper bound.)"""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.prompt = 0  # decoder tokens before the first generated one
        self.values: list[Any] = []  # per step: (rows, keep) log-probabilities
        self.ids: list[Any] = []  # per step: (rows, keep) token ids

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if not self.values:
            self.prompt = int(input_ids.shape[-1])
        log_probs = torch.log_softmax(scores.float(), dim=-1)
        values, ids = log_probs.topk(min(self.keep, int(log_probs.shape[-1])), dim=-1)
        self.values.append(values)
        self.ids.append(ids)
        return scores

    def mean_scores(
        self, sequences: Any, eos: Sequence[int], beam_indices: Any = None
    ) -> list[float]:
        """Each sequence's mean log-probability per generated token. ``beam_indices`` (beam
        search) says which row each step's token came from; without them row i is
        sequence i and everything after the first end-of-sequence token is padding. A step
        whose second-best token was impossible was forced and does not count."""
        import torch

        steps = min(len(self.values), int(sequences.shape[1]) - self.prompt)
        if steps <= 0:
            return [0.0] * int(sequences.shape[0])
        values = torch.stack(self.values[:steps])  # (steps, rows, keep)
        ids = torch.stack(self.ids[:steps])
        tokens = sequences[:, self.prompt : self.prompt + steps]  # (n, steps)
        n = int(tokens.shape[0])
        step = torch.arange(steps, device=tokens.device).expand(n, steps)
        if beam_indices is not None:
            rows = beam_indices[:, :steps].to(tokens.device)
            valid = rows >= 0
            rows = rows.clamp(min=0)
        else:
            rows = torch.arange(n, device=tokens.device)[:, None].expand(n, steps)
            ended = torch.isin(tokens, torch.tensor(list(eos), device=tokens.device))
            # positions after the first end-of-sequence token are padding
            valid = (ended.cumsum(dim=1) - ended.long()) == 0
        candidates = values[step, rows]  # (n, steps, keep)
        matches = ids[step, rows] == tokens[..., None]
        picked = torch.where(matches, candidates, float("-inf")).amax(dim=-1)
        # not among the kept (ties at the top in greedy search): it scored the best value
        picked = torch.where(matches.any(dim=-1), picked, candidates[..., 0])
        if candidates.shape[-1] > 1:
            valid &= ~torch.isneginf(candidates[..., 1])  # forced: only one token possible
        counts = valid.sum(dim=1)
        sums = torch.where(valid, picked, 0.0).sum(dim=1)
        return [
            float(total) / int(count) if int(count) else 0.0
            for total, count in zip(sums.tolist(), counts.tolist(), strict=True)
        ]


def _eos_ids(generation_config: Any) -> list[int]:
    eos = generation_config.eos_token_id
    if eos is None:
        return []
    return [int(eos)] if isinstance(eos, int) else [int(e) for e in eos]


class TransformersBackend:
    """``model.generate`` on torch."""

    name = "transformers"

    def __init__(self, spec: ModelSpec, tokenizer: Any, model: Any, adapter: FamilyAdapter) -> None:
        self.spec, self.tokenizer, self.model, self.adapter = spec, tokenizer, model, adapter

    def generate(self, texts: Sequence[str], task: Task) -> Generated:
        import torch
        from transformers import LogitsProcessorList

        prepared = _prepare(
            self.adapter, self.tokenizer, self.spec, texts, task, config=self.model.config
        )
        generation = self.model.generation_config
        settings = decoding_settings(
            self.spec,
            task,
            prepared,
            beams=int(generation.num_beams or 1),
            positions=decoder_positions(self.model.config),
        )
        settings.update(prepared.generate_kwargs)
        beams = int(settings.get("num_beams", generation.num_beams or 1))
        eos = _eos_ids(generation)
        recorder = TokenLogProbs(keep=max(2, (1 + max(1, len(eos))) * beams))
        inputs = prepared.tensors()
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                **settings,
                logits_processor=LogitsProcessorList([recorder]),
                # beam search says which beam each token came from
                return_dict_in_generate=beams > 1,
            )
            sequences = output.sequences if beams > 1 else output
            scores = recorder.mean_scores(
                sequences, eos, output.beam_indices if beams > 1 else None
            )
        pad = generation.pad_token_id
        written = int((sequences != pad).sum()) if pad is not None else int(sequences.numel())
        return Generated(
            _decode(self.tokenizer, sequences.tolist(), prepared.drop_ids),
            int(prepared.inputs["attention_mask"].sum()),
            written,
            scores,
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
    and quantisation (and conversion fix: T5 conversions before the output-scale fix are
    not reused)."""
    fix = "|t5-output-scale" if spec.family in ("t5", "mt5") else ""
    key = f"{source_dir}|{spec.revision}|{quantization}{fix}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return root / f"{spec.id}-{quantization}-{digest}"


def convert_to_ct2(spec: ModelSpec, source_dir: str, quantization: str, root: Path) -> Path:
    """Converts a Hugging Face checkpoint to CTranslate2 once, into a folder under ``root``,
    with what serving it without torch needs (``lean.write_lean``); later calls reuse
    the folder. The conversion needs torch and transformers: a process that has not
    imported torch runs it in a child process, so that it stays without them."""
    out = ct2_dir(spec, source_dir, quantization, root)
    if (out / "model.bin").is_file() and read_facts(out) is not None:
        return out
    if "torch" in sys.modules:
        convert_here(source_dir, quantization, out)
    else:
        command = [sys.executable, "-m", "polybrief.service.models.backends"]
        done = subprocess.run(
            [*command, source_dir, quantization, str(out)],
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or read_facts(out) is None:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"converting {spec.id} to CTranslate2 failed: {tail[0]}")
    log.info("converted %s to CTranslate2 (%s) in %s", spec.id, quantization, out)
    return out


def convert_here(source_dir: str, quantization: str, out: Path) -> None:
    """The conversion, in this process (imports torch and transformers)."""
    import ctranslate2
    from transformers import (
        AutoConfig,
        AutoTokenizer,
        BartConfig,
        GenerationConfig,
        MBartConfig,
        PegasusConfig,
    )

    if not (out / "model.bin").is_file():
        # ctranslate2 4.8 reads `normalize_before`, which transformers v5 configs dropped.
        # BART is post-norm; mBART and PEGASUS are pre-norm.
        for config_class, pre_norm in (
            (BartConfig, False),
            (MBartConfig, True),
            (PegasusConfig, True),
        ):
            if not hasattr(config_class, "normalize_before"):
                config_class.normalize_before = pre_norm  # type: ignore[union-attr]
        _fix_t5_output_scale()
        tmp = out.with_name(out.name + ".partial")
        ctranslate2.converters.TransformersConverter(source_dir).convert(
            str(tmp), quantization=quantization, force=True
        )
        tmp.rename(out)
    config = AutoConfig.from_pretrained(source_dir, local_files_only=True)
    try:
        generation = GenerationConfig.from_pretrained(source_dir, local_files_only=True)
    except OSError:  # no generation_config.json: derived from the model config
        generation = GenerationConfig.from_model_config(config)
    tokenizer = AutoTokenizer.from_pretrained(source_dir, local_files_only=True)
    write_lean(out, tokenizer, config, generation)


def _fix_t5_output_scale() -> None:
    """ctranslate2 4.8 scales T5 decoder outputs by d_model**-0.5 when the config ties the
    word embeddings, which transformers v5 configs always do; v5 scales only when
    ``scale_decoder_outputs`` says so (original T5, not T5 v1.1 / FLAN-T5) and never for
    mT5. Left alone, CTranslate2's logits were those of transformers times d_model**-0.5:
    the same argmax, but flattened probabilities (scores, and beam search, disagreed)."""
    from ctranslate2.converters import transformers as converters
    from ctranslate2.specs import model_spec

    loader: Any = converters.T5Loader  # MT5Loader inherits it
    if getattr(loader, "_polybrief_output_scale", False):
        return
    original = loader.get_model_spec

    def get_model_spec(self: Any, model: Any) -> Any:
        spec = original(self, model)
        config = model.config
        default = config.model_type != "mt5" and bool(config.tie_word_embeddings)
        if not getattr(config, "scale_decoder_outputs", default):
            spec.decoder.scale_outputs = model_spec.OPTIONAL
        return spec

    loader.get_model_spec = get_model_spec
    loader._polybrief_output_scale = True


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
        max_positions: int | None = None,
        max_batch_tokens: int | None = None,
    ) -> None:
        import ctranslate2

        self.spec, self.tokenizer, self.adapter = spec, tokenizer, adapter
        # source tokens per pass: CTranslate2 sorts a larger batch by length and splits it
        self.max_batch_tokens = max_batch_tokens
        device, compute_type = ct2_device(compute_type)
        # transformers spends the last allowed step on a forced end-of-sequence token
        self.eos_step = 1 if forced_eos else 0
        # the checkpoint's generation config, as transformers would use it
        self.default_beams = default_beams
        # the decoder's positions (the checkpoint's config when not given)
        self.max_positions = max_positions or _checkpoint_positions(tokenizer)
        self.translator = ctranslate2.Translator(
            str(model_dir), device=device, compute_type=compute_type, intra_threads=threads
        )

    def generate(self, texts: Sequence[str], task: Task) -> Generated:
        prepared = _prepare(self.adapter, self.tokenizer, self.spec, texts, task)
        if "decoder_start_token_id" in prepared.generate_kwargs:
            from polybrief.service.errors import UnsupportedRoute

            raise UnsupportedRoute(
                f"model {self.spec.id!r}: CTranslate2 cannot set the decoder start token "
                "that picks this family's output language; serve it with transformers"
            )
        ids, mask = prepared.inputs["input_ids"], prepared.inputs["attention_mask"]
        tokens = [
            self.tokenizer.convert_ids_to_tokens(row[: int(m.sum())].tolist())
            for row, m in zip(ids, mask, strict=True)
        ]
        settings = decoding_settings(
            self.spec, task, prepared, beams=self.default_beams, positions=self.max_positions
        )
        forced = prepared.generate_kwargs.get("forced_bos_token_id")
        prefix = (
            [[self.tokenizer.convert_ids_to_tokens(int(forced))]] * len(tokens)
            if forced is not None
            else None
        )
        extra = 1 if prefix else 0  # CTranslate2 counts the target prefix in the lengths
        longest = int(settings.get("max_new_tokens", 256)) + extra - self.eos_step
        if self.max_positions:
            longest = min(longest, self.max_positions)  # one position per decoding step
        beams = int(settings.get("num_beams", self.default_beams))
        length_penalty = float(settings.get("length_penalty", 1.0))
        results = self.translator.translate_batch(
            tokens,
            target_prefix=prefix,
            beam_size=beams,
            max_decoding_length=longest,
            # with a forced end-of-sequence, transformers writes at most max - 1 tokens
            min_decoding_length=min(int(settings.get("min_new_tokens", 0)) + extra, longest),
            no_repeat_ngram_size=int(settings.get("no_repeat_ngram_size", 0)),
            repetition_penalty=float(settings.get("repetition_penalty", 1.0)),
            # greedy search only divides its score by it: 0 leaves the sum of log-probs
            length_penalty=length_penalty if beams > 1 else 0.0,
            return_scores=True,
            **(
                {"max_batch_size": self.max_batch_tokens, "batch_type": "tokens"}
                if self.max_batch_tokens
                else {}
            ),
        )
        outputs = []
        scores = []
        written = 0
        for result in results:
            hypothesis = result.hypotheses[0]
            out_ids = self.tokenizer.convert_tokens_to_ids(hypothesis)
            written += len(out_ids)
            outputs.append(str(self.tokenizer.decode(out_ids, skip_special_tokens=True)).strip())
            scores.append(
                _ct2_mean(
                    float(result.scores[0]),
                    len(hypothesis),
                    prefix=extra,
                    longest=longest,
                    length_penalty=length_penalty if beams > 1 else 0.0,
                )
            )
        return Generated(outputs, int(mask.sum()), written, scores)


def _checkpoint_positions(tokenizer: Any) -> int | None:
    """The decoder's positions from the ``config.json`` of the checkpoint the tokenizer
    came from, if readable (read as JSON: no transformers, hence no torch)."""
    path = Path(str(getattr(tokenizer, "name_or_path", "") or "")) / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no readable config: the limit stays unknown
        log.debug("no decoder position limit found for %r", tokenizer, exc_info=True)
        return None
    decoder = data.get("decoder")
    if isinstance(decoder, dict):
        data["decoder"] = SimpleNamespace(**decoder)
    return decoder_positions(SimpleNamespace(**data))


def _ct2_mean(
    score: float, length: int, *, prefix: int, longest: int, length_penalty: float
) -> float:
    """CTranslate2's score as the mean log-probability per generated token.

    CTranslate2 sums the log-probabilities of the hypothesis's tokens and of the
    end-of-sequence token that ended it (which the hypothesis leaves out), the target
    prefix counting 0, then divides by ``length ** length_penalty`` (``length`` counts the
    prefix, not the end-of-sequence token). A hypothesis shorter than ``longest`` ended on
    that token, which then counts as generated; the prefix is forced and does not.
    """
    if not math.isfinite(score) or (length_penalty and length == 0):
        return MIN_SCORE  # an empty hypothesis's score was divided by 0
    total = score * float(length) ** length_penalty if length_penalty else score
    generated = length - prefix + (1 if length < longest else 0)
    return min(0.0, total / generated) if generated > 0 else 0.0


if __name__ == "__main__":  # the child process of convert_to_ct2
    convert_here(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
