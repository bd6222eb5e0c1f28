"""The language logic of each seq2seq family: how source and target languages reach
``generate`` (language tokens, forced BOS, prompts), from API codes ("fr") to each
family's own ("fra_Latn", "fr_XX", "__fr__", ">>fra<<", "translate English to French: ").

Inputs are built without mutating tokenizer state (no ``tokenizer.src_lang = …``), so a
tokenizer can be shared by threads. Nothing is ever truncated: the engine chunks text to
the window first, using ``count_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from polybrief.service.errors import UnsupportedRoute
from polybrief.service.models.catalog import ModelSpec

# ISO 639-1 → mBART-50 codes (all 52 languages of mBART-50).
MBART50_CODES = {
    "ar": "ar_AR",
    "cs": "cs_CZ",
    "de": "de_DE",
    "en": "en_XX",
    "es": "es_XX",
    "et": "et_EE",
    "fi": "fi_FI",
    "fr": "fr_XX",
    "gu": "gu_IN",
    "hi": "hi_IN",
    "it": "it_IT",
    "ja": "ja_XX",
    "kk": "kk_KZ",
    "ko": "ko_KR",
    "lt": "lt_LT",
    "lv": "lv_LV",
    "my": "my_MM",
    "ne": "ne_NP",
    "nl": "nl_XX",
    "ro": "ro_RO",
    "ru": "ru_RU",
    "si": "si_LK",
    "tr": "tr_TR",
    "vi": "vi_VN",
    "zh": "zh_CN",
    "af": "af_ZA",
    "az": "az_AZ",
    "bn": "bn_IN",
    "fa": "fa_IR",
    "he": "he_IL",
    "hr": "hr_HR",
    "id": "id_ID",
    "ka": "ka_GE",
    "km": "km_KH",
    "mk": "mk_MK",
    "ml": "ml_IN",
    "mn": "mn_MN",
    "mr": "mr_IN",
    "pl": "pl_PL",
    "ps": "ps_AF",
    "pt": "pt_XX",
    "sv": "sv_SE",
    "sw": "sw_KE",
    "ta": "ta_IN",
    "te": "te_IN",
    "th": "th_TH",
    "tl": "tl_XX",
    "uk": "uk_UA",
    "ur": "ur_PK",
    "xh": "xh_ZA",
    "gl": "gl_ES",
    "sl": "sl_SI",
}

# ISO 639-1 → NLLB-200 (FLORES-200) codes for the major languages.
NLLB_CODES = {
    "af": "afr_Latn",
    "am": "amh_Ethi",
    "ar": "arb_Arab",
    "az": "azj_Latn",
    "be": "bel_Cyrl",
    "bg": "bul_Cyrl",
    "bn": "ben_Beng",
    "bs": "bos_Latn",
    "ca": "cat_Latn",
    "cs": "ces_Latn",
    "cy": "cym_Latn",
    "da": "dan_Latn",
    "de": "deu_Latn",
    "el": "ell_Grek",
    "en": "eng_Latn",
    "es": "spa_Latn",
    "et": "est_Latn",
    "eu": "eus_Latn",
    "fa": "pes_Arab",
    "fi": "fin_Latn",
    "fr": "fra_Latn",
    "ga": "gle_Latn",
    "gl": "glg_Latn",
    "gu": "guj_Gujr",
    "he": "heb_Hebr",
    "hi": "hin_Deva",
    "hr": "hrv_Latn",
    "hu": "hun_Latn",
    "hy": "hye_Armn",
    "id": "ind_Latn",
    "is": "isl_Latn",
    "it": "ita_Latn",
    "ja": "jpn_Jpan",
    "ka": "kat_Geor",
    "kk": "kaz_Cyrl",
    "km": "khm_Khmr",
    "kn": "kan_Knda",
    "ko": "kor_Hang",
    "lt": "lit_Latn",
    "lv": "lvs_Latn",
    "mk": "mkd_Cyrl",
    "ml": "mal_Mlym",
    "mn": "khk_Cyrl",
    "mr": "mar_Deva",
    "ms": "zsm_Latn",
    "my": "mya_Mymr",
    "ne": "npi_Deva",
    "nl": "nld_Latn",
    "no": "nob_Latn",
    "pa": "pan_Guru",
    "pl": "pol_Latn",
    "ps": "pbt_Arab",
    "pt": "por_Latn",
    "ro": "ron_Latn",
    "ru": "rus_Cyrl",
    "si": "sin_Sinh",
    "sk": "slk_Latn",
    "sl": "slv_Latn",
    "so": "som_Latn",
    "sq": "als_Latn",
    "sr": "srp_Cyrl",
    "sv": "swe_Latn",
    "sw": "swh_Latn",
    "ta": "tam_Taml",
    "te": "tel_Telu",
    "th": "tha_Thai",
    "tl": "tgl_Latn",
    "tr": "tur_Latn",
    "uk": "ukr_Cyrl",
    "ur": "urd_Arab",
    "uz": "uzn_Latn",
    "vi": "vie_Latn",
    "xh": "xho_Latn",
    "yo": "yor_Latn",
    "zh": "zho_Hans",
    "zu": "zul_Latn",
}


@dataclass(frozen=True)
class Prepared:
    """Model inputs ready for ``model.generate(**inputs, **generate_kwargs)``."""

    inputs: dict[str, Any]
    generate_kwargs: dict[str, Any] = field(default_factory=dict)


class FamilyAdapter(Protocol):
    """What the engine needs from a family."""

    name: str

    def prepare_translation(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], source: str, target: str
    ) -> Prepared: ...

    def prepare_summary(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], language: str
    ) -> Prepared: ...

    def count_tokens(
        self,
        tokenizer: Any,
        spec: ModelSpec,
        text: str,
        *,
        task: str,
        source: str,
        target: str | None,
    ) -> int: ...


def _encode(tokenizer: Any, texts: Sequence[str]) -> dict[str, Any]:
    return dict(tokenizer(list(texts), padding=True, return_tensors="pt"))


def _token_id(tokenizer: Any, token: str) -> int | None:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        return None
    return int(token_id)


class PlainFamily:
    """Families whose input is the text itself (BART, PEGASUS, single-pair Marian)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _text(
        self, tokenizer: Any, spec: ModelSpec, text: str, task: str, source: str, target: str | None
    ) -> str:
        return text

    def _check(
        self, tokenizer: Any, spec: ModelSpec, task: str, source: str, target: str | None
    ) -> None:
        if task == "translate" and target is not None and not spec.serves_pair(source, target):
            raise UnsupportedRoute(f"model {spec.id!r} does not translate {source}→{target}")

    def prepare_translation(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], source: str, target: str
    ) -> Prepared:
        self._check(tokenizer, spec, "translate", source, target)
        return Prepared(
            _encode(
                tokenizer,
                [self._text(tokenizer, spec, t, "translate", source, target) for t in texts],
            )
        )

    def prepare_summary(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], language: str
    ) -> Prepared:
        self._check(tokenizer, spec, "summarize", language, None)
        return Prepared(
            _encode(
                tokenizer,
                [self._text(tokenizer, spec, t, "summarize", language, None) for t in texts],
            )
        )

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
        return len(tokenizer(self._text(tokenizer, spec, text, task, source, target))["input_ids"])


class MarianFamily(PlainFamily):
    """opus-mt: single-pair models take the text; multi-target ones a ``>>xxx<<`` token first."""

    def __init__(self) -> None:
        super().__init__("marian")

    def _text(
        self, tokenizer: Any, spec: ModelSpec, text: str, task: str, source: str, target: str | None
    ) -> str:
        if target is None or len(spec.translation_pairs()) <= 1:
            return text
        import pycountry

        candidates = [f">>{target}<<"]
        language = pycountry.languages.get(alpha_2=target) if len(target) == 2 else None
        if language is not None:
            candidates.insert(0, f">>{language.alpha_3}<<")
        for token in candidates:
            if _token_id(tokenizer, token) is not None:
                return f"{token} {text}"
        raise UnsupportedRoute(f"model {spec.id!r} has no target-language token for {target!r}")


class PromptFamily(PlainFamily):
    """T5 and mT5: the task is a text prompt ("summarize: ", "translate English to German: ")."""

    def _text(
        self, tokenizer: Any, spec: ModelSpec, text: str, task: str, source: str, target: str | None
    ) -> str:
        if task == "summarize":
            return f"{spec.summary_prefix}{text}"
        if not spec.translate_prefix:
            return text
        from polybrief.service.languages import language_name

        prefix = spec.translate_prefix.format(
            source_name=language_name(source), target_name=language_name(target or source)
        )
        return f"{prefix}{text}"


class LanguageTokenFamily:
    """M2M100, NLLB and mBART-50: a source-language token around the input and the
    target-language token forced as the first generated token."""

    def __init__(self, name: str, codes: dict[str, str] | None, template: str) -> None:
        self.name = name
        self.codes = codes
        self.template = template

    def language_id(self, tokenizer: Any, language: str) -> int:
        """The id of the family's token for an API language code."""
        code = self.codes.get(language) if self.codes is not None else language
        token = self.template.format(code) if code else None
        token_id = _token_id(tokenizer, token) if token else None
        if token_id is None:
            raise UnsupportedRoute(
                f"the {self.name} tokenizer has no language token for {language!r}"
            )
        return token_id

    def _ids(self, tokenizer: Any, text: str, source: str) -> list[int]:
        body = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        lang = self.language_id(tokenizer, source)
        eos = int(tokenizer.eos_token_id)
        if getattr(tokenizer, "legacy_behaviour", False):  # old NLLB layout: text, eos, lang
            return [*body, eos, lang]
        return [lang, *body, eos]

    def _batch(self, tokenizer: Any, texts: Sequence[str], source: str) -> dict[str, Any]:
        import torch

        rows = [self._ids(tokenizer, t, source) for t in texts]
        width = max(len(r) for r in rows)
        pad = int(tokenizer.pad_token_id)
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long)
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask}

    def prepare_translation(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], source: str, target: str
    ) -> Prepared:
        forced = self.language_id(tokenizer, target)
        return Prepared(self._batch(tokenizer, texts, source), {"forced_bos_token_id": forced})

    def prepare_summary(
        self, tokenizer: Any, spec: ModelSpec, texts: Sequence[str], language: str
    ) -> Prepared:
        forced = self.language_id(tokenizer, language)
        return Prepared(self._batch(tokenizer, texts, language), {"forced_bos_token_id": forced})

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
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) + 2


_ADAPTERS: dict[str, FamilyAdapter] = {
    "marian": MarianFamily(),
    "m2m100": LanguageTokenFamily("m2m100", None, "__{}__"),
    "nllb": LanguageTokenFamily("nllb", NLLB_CODES, "{}"),
    "mbart50": LanguageTokenFamily("mbart50", MBART50_CODES, "{}"),
    "t5": PromptFamily("t5"),
    "mt5": PromptFamily("mt5"),
    "bart": PlainFamily("bart"),
    "pegasus": PlainFamily("pegasus"),
}


def adapter_for(family: str) -> FamilyAdapter:
    """The adapter of a catalogue family; unknown names list the supported ones."""
    try:
        return _ADAPTERS[family]
    except KeyError:
        raise ValueError(f"unknown family {family!r}; supported: {', '.join(_ADAPTERS)}") from None
