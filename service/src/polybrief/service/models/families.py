"""The language logic of each seq2seq family: how source and target languages reach
``generate`` (language tokens, forced BOS, prompts), from API codes ("fr") to each
family's own ("fra_Latn", "fr_XX", "__fr__", ">>fra<<", "translate English to French: ").

How transformers v5 does it, and why this module does it differently:

- NLLB and mBART-50 tokenizers are ``tokenizers``-backed; setting ``tokenizer.src_lang``
  rewrites the Rust post-processor (``[lang] text </s>``), shared state. M2M100 (Python
  backend only, also under the ``…Fast`` name) keeps ``prefix_tokens`` on the instance.
  Neither accepts ``src_lang`` per call. So the body is encoded with
  ``add_special_tokens=False`` and the language token and ``</s>`` are added here (NLLB's
  ``legacy_behaviour`` layout, ``text </s> [lang]``, is honoured); the result equals what
  the tokenizer gives after ``src_lang = …``, without mutating it.
- The target language is the first generated token: ``forced_bos_token_id``.
- Marian multi-target models expect a ``>>xxx<<`` token (ISO 639-3, or 639-1 in older
  models) as the first source token; MarianTokenizer keeps a leading ``>>…<<`` whole.
- CrossSum (``csebuetnlp/mT5_m2m_crossSum``, family "crosssum") summarises straight into
  another language: the input is the plain article (mT5, no prompt), and the summary's
  language is the decoder START token (``decoder_start_token_id``), the token that the
  checkpoint's ``config.task_specific_params["langid_map"][name]`` (``[index, token]``)
  names for the language, e.g. ``"▁<extra_id_63>"``. Those tokens are ordinary vocabulary
  pieces, which ``skip_special_tokens`` would decode as text: ``Prepared.drop_ids`` lists
  them for the backends to remove.

Nothing is ever truncated: the engine chunks text to the window first, using
``count_tokens``, which counts exactly what ``prepare_*`` feeds the model.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polybrief.service.errors import UnsupportedRoute
from polybrief.service.models.catalog import ModelSpec


def _table(name: str) -> dict[str, str]:
    """Reads a code table beside this module, written as ``fr=fra_Latn ru=rus_Cyrl …``
    (``#`` starts a comment); a bare ``fr_XX`` is keyed by its first two letters."""
    text = (Path(__file__).parent / name).read_text(encoding="utf-8")
    words = [w for line in text.splitlines() for w in line.split("#", 1)[0].split()]
    pairs = (item.split("=") if "=" in item else (item[:2], item) for item in words)
    return {key: value for key, value in pairs}


# ISO 639-1 → mBART-50 code, all 52 languages (each code starts with its ISO 639-1 code).
MBART50_CODES = _table("language_codes_mbart50.txt")

# ISO 639-1 → NLLB-200 (FLORES-200) code (the file says how macrolanguages map).
NLLB_CODES = _table("language_codes_nllb.txt")

# ISO 639 code → CrossSum (XL-Sum) language name, all 45 languages (the file says which
# script zh and sr take); the keys of the checkpoint's langid_map.
CROSSSUM_NAMES = _table("language_names_crosssum.txt")

# Marian (OPUS-MT / Tatoeba) target tokens besides >>{ISO 639-3}<< and >>{ISO 639-1}<<,
# for macrolanguages whose models name the individual language or script.
MARIAN_EXTRA_TARGETS: dict[str, tuple[str, ...]] = {
    "zh": ("cmn_Hans", "cmn", "zho_Hans"),
    "ar": ("arb",),
    "fa": ("pes",),
    "ms": ("zsm_Latn", "zsm"),
    "no": ("nob",),
    "sr": ("srp_Cyrl", "srp_Latn"),
    "lv": ("lvs",),
    "et": ("ekk",),
}


@dataclass(frozen=True)
class Prepared:
    """Model inputs ready for ``model.generate(**inputs, **generate_kwargs)``.

    ``inputs`` holds ``input_ids`` and ``attention_mask`` (int64 numpy arrays, padded on
    the right, never truncated);
    ``generate_kwargs`` e.g. ``{"forced_bos_token_id": 123}`` or (CrossSum)
    ``{"decoder_start_token_id": 123}``, empty when none. ``drop_ids``: token ids that are
    no part of any output's text (CrossSum's language tokens, ordinary vocabulary pieces
    that ``skip_special_tokens`` keeps), removed before decoding.
    """

    inputs: dict[str, Any]
    generate_kwargs: dict[str, Any] = field(default_factory=dict)
    drop_ids: frozenset[int] = frozenset()

    def tensors(self) -> dict[str, Any]:
        """``inputs`` as torch tensors (imports torch), for ``model.generate``."""
        import torch

        return {key: torch.from_numpy(value) for key, value in self.inputs.items()}


def _padded(rows: Sequence[Sequence[int]], pad: int | None) -> dict[str, Any]:
    """``input_ids`` and ``attention_mask`` as int64 numpy arrays, padded on the right
    (as transformers pads encoder inputs): numpy, so that a CTranslate2 process never
    needs torch; the transformers backend wraps them as tensors."""
    import numpy as np

    width = max((len(row) for row in rows), default=0)
    ids = np.full((len(rows), width), 0 if pad is None else pad, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def _token_id(tokenizer: Any, token: str) -> int | None:
    """The id of a whole token, or None when the vocabulary lacks it."""
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        return None
    return int(token_id)


def _check_pair(spec: ModelSpec, source: str, target: str) -> None:
    if not spec.serves_pair(source, target):
        served = ", ".join(f"{s}→{t}" for s, t in spec.translation_pairs()[:20])
        raise UnsupportedRoute(
            f"model {spec.id!r} does not translate {source}→{target}; it serves {served}"
        )


def _check_summary(spec: ModelSpec, source: str, target: str) -> None:
    if not spec.summarizes(source, target):
        into = ", ".join(spec.summary_targets) or f"only the source's own ({source})"
        raise UnsupportedRoute(
            f"model {spec.id!r} does not summarise {source} text into {target}; "
            f"it reads {', '.join(spec.summary_languages) or 'nothing'} and writes {into}"
        )


class FamilyAdapter:
    """What the engine needs from a family: ``generate``'s inputs and token counts.

    A family says how texts become input ids (``_input_ids``) and which ``generate``
    arguments pick the output language (``_language_kwargs``). Preparing a batch and
    counting one text both go through ``_input_ids``, so a count is exactly what the model
    is fed.
    """

    #: whether the family summarises into another language than the source's
    cross_lingual = False

    def __init__(self, name: str) -> None:
        self.name = name

    def unnamed_languages(self, codes: Sequence[str]) -> list[str]:
        """The codes this family has no language for (a cross-lingual family's table)."""
        return []

    def _input_ids(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], source: str, target: str | None
    ) -> list[list[int]]:
        """Unpadded input ids of each text; ``target`` None for a summary in ``source``."""
        raise NotImplementedError

    def _language_kwargs(self, tokenizer: Any, language: str) -> dict[str, Any]:
        """``generate`` arguments making the output ``language``; none by default."""
        return {}

    def prepare_translation(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], source: str, target: str
    ) -> Prepared:
        """Inputs translating ``texts`` from ``source`` to ``target`` (ISO 639-1 codes)."""
        _check_pair(spec, source, target)
        return self._prepare(tokenizer, spec, texts, source, target)

    def prepare_summary(
        self,
        tokenizer: Any,
        spec: ModelSpec,
        texts: Sequence[str],
        language: str,
        target: str | None = None,
        config: Any = None,
    ) -> Prepared:
        """Inputs summarising ``texts`` written in ``language`` into ``target`` (None or
        ``language`` itself: a summary in ``language``). Another target needs a
        cross-lingual family and an entry whose ``summarizes(language, target)``;
        otherwise :class:`UnsupportedRoute`. ``config`` is the model's configuration
        (CrossSum reads its language tokens there; read from the tokenizer's directory
        when None)."""
        if target is not None and target != language:
            if not self.cross_lingual:
                raise UnsupportedRoute(
                    f"model {spec.id!r} ({self.name}) summarises in the source's language "
                    f"only, not {language} into {target}"
                )
            _check_summary(spec, language, target)
        prepared = self._prepare(tokenizer, spec, texts, language, None)
        return self._into(prepared, tokenizer, target or language, config)

    def _into(self, prepared: Prepared, tokenizer: Any, target: str, config: Any) -> Prepared:
        """``prepared`` (a summary's inputs) writing ``target``: as it is, by default."""
        return prepared

    def count_tokens(
        self,
        tokenizer: Any,
        spec: ModelSpec,
        text: str,
        *,
        task: str,
        source: str,
        target: str | None,
    ) -> int:
        """Input tokens ``text`` occupies, prompt, language and special tokens included."""
        target = target if task == "translate" else None
        return len(self._input_ids(tokenizer, spec, [text], source, target)[0])

    def _prepare(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], source: str, target: str | None
    ) -> Prepared:
        rows = self._input_ids(tokenizer, spec, texts, source, target)
        return Prepared(
            _padded(rows, tokenizer.pad_token_id),
            self._language_kwargs(tokenizer, target or source),
        )


class PlainFamily(FamilyAdapter):
    """Families whose input is the text itself (BART, PEGASUS; base of Marian and T5)."""

    def _text(self, tokenizer: Any, spec: ModelSpec, text: str, source: str, target: str) -> str:
        """The text as the model reads it for a translation."""
        return text

    def _summary_text(self, spec: ModelSpec, text: str) -> str:
        return text

    def _input_ids(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], source: str, target: str | None
    ) -> list[list[int]]:
        """The texts (with the family's prompt or token, if any), special tokens added."""
        if target is None:
            rows = [self._summary_text(spec, t) for t in texts]
        else:
            rows = [self._text(tokenizer, spec, t, source, target) for t in texts]
        return [list(ids) for ids in tokenizer(rows)["input_ids"]]


def _marian_codes(tokenizer: Any) -> set[str]:
    codes = getattr(tokenizer, "supported_language_codes", None)
    if codes is None:
        codes = [t for t in tokenizer.get_vocab() if t.startswith(">>") and t.endswith("<<")]
    return set(codes)


def marian_target_token(tokenizer: Any, language: str) -> str | None:
    """The ``>>xxx<<`` token selecting ``language`` in a Marian vocabulary, if any."""
    codes = _marian_codes(tokenizer)
    if not codes:
        return None
    import pycountry

    names = []
    record = pycountry.languages.get(alpha_2=language) if len(language) == 2 else None
    if record is not None:
        names.append(record.alpha_3)
    names += [language, *MARIAN_EXTRA_TARGETS.get(language, ())]
    return next((f">>{n}<<" for n in names if f">>{n}<<" in codes), None)


class MarianFamily(PlainFamily):
    """OPUS-MT: single-pair models read the text; multi-target ones need ``>>xxx<<`` first.

    A target token is prepended whenever the vocabulary has one for the target. A model
    the catalogue lists with several target languages must have one.
    """

    def __init__(self) -> None:
        super().__init__("marian")

    def _text(self, tokenizer: Any, spec: ModelSpec, text: str, source: str, target: str) -> str:
        token = marian_target_token(tokenizer, target)
        if token is not None:
            return f"{token} {text}"
        if len({t for _, t in spec.translation_pairs()}) > 1:
            known = sorted(_marian_codes(tokenizer))
            listed = ", ".join(known[:30]) + (" …" if len(known) > 30 else "") or "none"
            raise UnsupportedRoute(
                f"model {spec.id!r} has no target-language token for {target!r} "
                f"(>>xxx<< tokens in its vocabulary: {listed})"
            )
        return text


class PromptFamily(PlainFamily):
    """T5 and mT5: the task is a text prompt ("summarize: ", "translate English to German: ")."""

    def _summary_text(self, spec: ModelSpec, text: str) -> str:
        return f"{spec.summary_prefix}{text}"

    def _text(self, tokenizer: Any, spec: ModelSpec, text: str, source: str, target: str) -> str:
        if not spec.translate_prefix:
            return text
        from polybrief.service.languages import language_name

        prefix = spec.translate_prefix.format(
            source_name=language_name(source),
            target_name=language_name(target),
            source=source,
            target=target,
        )
        return f"{prefix}{text}"


class LanguageTokenFamily(FamilyAdapter):
    """M2M100, NLLB and mBART-50: a source-language token around the input and the
    target-language token forced as the first generated token (for a summary, the
    text's own language, as mBART/NLLB summarisers expect)."""

    def __init__(self, name: str, codes: dict[str, str] | None, template: str) -> None:
        super().__init__(name)
        self.codes = codes
        self.template = template

    def language_token(self, language: str) -> str | None:
        """The family's token for an API code ("fr" → "fra_Latn"), None if unmapped."""
        code = self.codes.get(language) if self.codes is not None else language
        return self.template.format(code) if code else None

    def language_id(self, tokenizer: Any, language: str) -> int:
        """The id of the family's token for an API language code."""
        token = self.language_token(language)
        token_id = _token_id(tokenizer, token) if token else None
        if token is None:
            raise UnsupportedRoute(
                f"{self.name} has no language code for {language!r}; "
                f"known: {', '.join(sorted(self.codes or ()))}"
            )
        if token_id is None:
            raise UnsupportedRoute(
                f"the {self.name} tokenizer has no language token {token!r} for {language!r}"
            )
        return token_id

    def _input_ids(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], source: str, target: str | None
    ) -> list[list[int]]:
        """The body with the source-language token and ``</s>``."""
        lang = self.language_id(tokenizer, source)
        eos = int(tokenizer.eos_token_id)
        bodies = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        if getattr(tokenizer, "legacy_behaviour", False):  # old NLLB layout: text, eos, lang
            return [[*body, eos, lang] for body in bodies]
        return [[lang, *body, eos] for body in bodies]

    def _language_kwargs(self, tokenizer: Any, language: str) -> dict[str, Any]:
        return {"forced_bos_token_id": self.language_id(tokenizer, language)}


def crosssum_langid_map(config: Any) -> dict[str, str]:
    """CrossSum's language name → target-language token, from a model configuration (or
    its ``config.json`` as a dict): ``task_specific_params["langid_map"]``, whose values
    are ``[index, token]`` (``"english": [8, "▁<extra_id_57>"]``).

    Raises:
        UnsupportedRoute: the configuration has no such map, or a malformed one.
    """
    params = (
        config.get("task_specific_params")
        if isinstance(config, Mapping)
        else getattr(config, "task_specific_params", None)
    )
    langid = params.get("langid_map") if isinstance(params, Mapping) else None
    if not isinstance(langid, Mapping) or not langid:
        raise UnsupportedRoute(
            "the model's config has no task_specific_params['langid_map'] (CrossSum's "
            "language tokens): not a CrossSum checkpoint?"
        )
    tokens: dict[str, str] = {}
    for name, value in langid.items():
        pair = isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
        token = value[1] if pair else value
        if not isinstance(token, str) or not token:
            raise UnsupportedRoute(
                f"the model's langid_map[{name!r}] is {value!r}; expected [index, token]"
            )
        tokens[str(name)] = token
    return tokens


@functools.lru_cache(maxsize=16)
def _saved_config(path: str) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path, local_files_only=True)


def _config_beside(tokenizer: Any) -> Any:
    """The configuration saved with the checkpoint the tokenizer was loaded from."""
    path = str(getattr(tokenizer, "name_or_path", "") or "")
    try:
        return _saved_config(path)
    except Exception as exc:  # no readable config there
        raise UnsupportedRoute(
            f"no model config found beside the tokenizer ({path!r}) to read CrossSum's "
            "language tokens from; pass the model's config"
        ) from exc


class CrossSumFamily(PromptFamily):
    """CrossSum: mT5 inputs (the text, ``</s>``; a ``summary_prefix`` if the entry has
    one), the summary's language chosen by the decoder start token that the model's
    ``langid_map`` names for it, in its own language as into any other."""

    cross_lingual = True

    def __init__(self) -> None:
        super().__init__("crosssum")

    def unnamed_languages(self, codes: Sequence[str]) -> list[str]:
        return [code for code in dict.fromkeys(codes) if code not in CROSSSUM_NAMES]

    def language_token(self, config: Any, language: str) -> str:
        """The token of ``language`` in the model's langid_map."""
        name = CROSSSUM_NAMES.get(language)
        if name is None:
            raise UnsupportedRoute(
                f"crosssum has no language for {language!r}; it writes "
                f"{', '.join(sorted(CROSSSUM_NAMES))}"
            )
        tokens = crosssum_langid_map(config)
        if name not in tokens:
            raise UnsupportedRoute(
                f"the model's langid_map has no {name!r} (for {language!r}); "
                f"it has {', '.join(sorted(tokens))}"
            )
        return tokens[name]

    def language_id(self, tokenizer: Any, config: Any, language: str) -> int:
        """The decoder start token id making a summary ``language``."""
        token = self.language_token(config, language)
        token_id = _token_id(tokenizer, token)
        if token_id is None:
            raise UnsupportedRoute(
                f"the crosssum tokenizer has no token {token!r} (the langid_map's for {language!r})"
            )
        return token_id

    def _into(self, prepared: Prepared, tokenizer: Any, target: str, config: Any) -> Prepared:
        """The decoder starts with ``target``'s token; no language token is ever output."""
        config = _config_beside(tokenizer) if config is None else config
        start = self.language_id(tokenizer, config, target)
        ids = (_token_id(tokenizer, t) for t in crosssum_langid_map(config).values())
        return Prepared(
            prepared.inputs,
            {"decoder_start_token_id": start},
            frozenset(i for i in ids if i is not None),
        )


_ADAPTERS: dict[str, FamilyAdapter] = {
    "marian": MarianFamily(),
    "m2m100": LanguageTokenFamily("m2m100", None, "__{}__"),
    "nllb": LanguageTokenFamily("nllb", NLLB_CODES, "{}"),
    "mbart50": LanguageTokenFamily("mbart50", MBART50_CODES, "{}"),
    "t5": PromptFamily("t5"),
    "mt5": PromptFamily("mt5"),
    "crosssum": CrossSumFamily(),
    "bart": PlainFamily("bart"),
    "pegasus": PlainFamily("pegasus"),
}


#: The catalogue's families: those with an adapter.
FAMILIES = tuple(_ADAPTERS)


def adapter_for(family: str) -> FamilyAdapter:
    """The adapter of a catalogue family; unknown names list the supported ones."""
    try:
        return _ADAPTERS[family]
    except KeyError:
        raise ValueError(f"unknown family {family!r}; supported: {', '.join(_ADAPTERS)}") from None
