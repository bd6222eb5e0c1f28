"""Tiny random-weight models of every supported family, built offline.

Each model uses the real configuration, model and tokenizer classes of its family with a
SentencePiece / byte-level BPE vocabulary trained on the small multilingual corpus shipped
in ``tiny_corpus/``. They load through ``AutoTokenizer``/``AutoModelForSeq2SeqLM`` exactly
like hub checkpoints, so tests and smoke tests exercise the real loading and language
logic. Their output is meaningless by construction.

Random weights tend to emit special tokens (which decode to nothing); the output rows of
special and language tokens are zeroed so generated text is never empty, and so are
those of SentencePiece byte pieces (``<0x41>``), which v5's ``tokenizers``-backed classes
decode literally and random bytes would decode to U+FFFD. Every model's
input window is 128 tokens (``max_position_embeddings``; T5/mT5 use relative positions,
so their catalogue entries set ``max_input_tokens``), so ordinary articles must be chunked.

Vocabularies: a unigram SentencePiece model (OPUS-MT, mBART-50, PEGASUS, T5/mT5 with
T5's special ids), a BPE one (M2M100, NLLB) and a byte-level BPE (BART). SentencePiece is
trained with ``byte_fallback``, which the Python-backed tokenizers (Marian, M2M100) use;
transformers v5's ``tokenizers``-backed T5, PEGASUS, mBART-50 and NLLB classes build their
backend with ``byte_fallback=False``, so for them characters absent from the corpus read
as ``<unk>`` (as in the real checkpoints).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

CORPUS_DIR = Path(__file__).with_name("tiny_corpus")
BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")
WINDOW = 128
LICENSE = "apache-2.0 (tiny random weights, built locally)"
GENERATION = {"num_beams": 1, "do_sample": False, "max_new_tokens": 12, "min_new_tokens": 4}


def architecture(d_model: int, layers: tuple[int, int], heads: int, ffn: int) -> dict[str, Any]:
    """Sizes of a BART-like configuration; ``layers`` is (encoder, decoder), both sides
    share the rest."""
    return {
        "d_model": d_model,
        "encoder_layers": layers[0],
        "decoder_layers": layers[1],
        "encoder_attention_heads": heads,
        "decoder_attention_heads": heads,
        "encoder_ffn_dim": ffn,
        "decoder_ffn_dim": ffn,
    }


SIZE = architecture(32, (1, 1), 2, 64)


def corpus_lines() -> list[str]:
    """The shipped training text, one paragraph per line, all languages."""
    lines: list[str] = []
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        lines.extend(x.strip() for x in path.read_text(encoding="utf-8").splitlines() if x.strip())
    return lines


def _train_spm(lines: Iterable[str], **options: Any) -> tuple[bytes, Any]:
    """A SentencePiece model (serialized, and loaded) trained on ``lines``; ``options``
    override the trainer settings (e.g. ``model_type="bpe"``)."""
    import sentencepiece as spm

    settings: dict[str, Any] = {
        "vocab_size": 700,
        "model_type": "unigram",
        "hard_vocab_limit": False,  # a few KB of text may not fill the vocabulary
        "byte_fallback": True,  # any character encodes (where the tokenizer class allows)
        "character_coverage": 1.0,
        "minloglevel": 2,
        "num_threads": 1,  # deterministic
    }
    settings.update(options)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(lines)), model_writer=model, **settings
    )
    data = model.getvalue()
    processor = spm.SentencePieceProcessor(model_proto=data)
    return data, processor


def _pieces(processor: Any) -> list[tuple[str, float]]:
    return [
        (processor.id_to_piece(i), processor.get_score(i))
        for i in range(processor.get_piece_size())
    ]


def _quiet_special_outputs(model: Any, token_ids: Iterable[int]) -> None:
    """Random weights make special tokens likely outputs; make them never the argmax."""
    import torch

    ids = sorted({i for i in token_ids if i is not None and i >= 0})
    with torch.no_grad():
        model.get_output_embeddings().weight[ids] = 0.0
        bias = getattr(model, "final_logits_bias", None)
        if bias is not None:
            bias[:, ids] = -100.0


def _save(out: Path, model: Any, tokenizer: Any, special_ids: Iterable[int]) -> None:
    byte_pieces = [i for t, i in tokenizer.get_vocab().items() if BYTE_PIECE.fullmatch(t)]
    _quiet_special_outputs(model, [*special_ids, *byte_pieces])
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _ids(tokenizer: Any, decoder_start: str) -> dict[str, Any]:
    """The configuration's special ids, the tokenizer's own; the decoder starts with its
    ``decoder_start`` ("eos" or "pad") token."""
    return {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "decoder_start_token_id": getattr(tokenizer, f"{decoder_start}_token_id"),
    }


def _build(
    out: Path,
    tokenizer: Any,
    config_class: Any,
    model_class: Any,
    quiet: Iterable[int] | None = None,
    **config: Any,
) -> None:
    """Saves a random-weight ``model_class`` of SIZE with a WINDOW-token window and the
    tokenizer's vocabulary; ``config`` adds to (or overrides) that configuration. The
    ``quiet`` output ids (default: every special token) are never generated."""
    settings = {"vocab_size": len(tokenizer), "max_position_embeddings": WINDOW, **SIZE}
    model = model_class(config_class(**{**settings, **config}))
    _save(out, model, tokenizer, tokenizer.all_special_ids if quiet is None else quiet)


def train_byte_bpe(out: Path, lines: Iterable[str]) -> None:
    """Trains a byte-level BPE vocabulary (BART's) on ``lines``; writes ``vocab.json`` and
    ``merges.txt`` into ``out``."""
    from tokenizers import ByteLevelBPETokenizer

    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        lines,
        vocab_size=1000,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    bpe.save_model(str(out))


def _marian(
    out: Path, spm_bytes: bytes, processor: Any, pair: tuple[str, str], targets: list[str]
) -> None:
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    out.mkdir(parents=True, exist_ok=True)
    for name in ("source.spm", "target.spm"):
        (out / name).write_bytes(spm_bytes)
    vocab: dict[str, int] = {}
    for token in ["</s>", "<unk>", *targets]:
        vocab.setdefault(token, len(vocab))
    for piece, _ in _pieces(processor):
        if piece not in ("<unk>", "<s>", "</s>", "<pad>"):
            vocab.setdefault(piece, len(vocab))
    vocab["<pad>"] = len(vocab)  # last id, as in real opus-mt (CTranslate2 expects it)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        str(out / "source.spm"),
        str(out / "target.spm"),
        str(out / "vocab.json"),
        source_lang=pair[0],
        target_lang=pair[1],
        model_max_length=WINDOW,
    )
    pad = vocab["<pad>"]
    _build(
        out,
        tokenizer,
        MarianConfig,
        MarianMTModel,
        [pad, vocab["<unk>"], *(vocab[t] for t in targets)],
        vocab_size=len(vocab),
        decoder_vocab_size=len(vocab),
        pad_token_id=pad,
        eos_token_id=vocab["</s>"],
        decoder_start_token_id=pad,
        forced_eos_token_id=vocab["</s>"],
        share_encoder_decoder_embeddings=True,
    )


def _m2m100(out: Path, spm_bytes: bytes, processor: Any) -> None:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    out.mkdir(parents=True, exist_ok=True)
    (out / "sentencepiece.bpe.model").write_bytes(spm_bytes)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece, _ in _pieces(processor):
        vocab.setdefault(piece, len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    # Language ids are len(vocab.json) + i: beyond the vocabulary, so vocab_size covers them.
    tokenizer = M2M100Tokenizer(
        str(out / "vocab.json"),
        str(out / "sentencepiece.bpe.model"),
        model_max_length=WINDOW,
        additional_special_tokens=[f"__{c}__" for c in FAIRSEQ_LANGUAGE_CODES["m2m100"]],
    )
    lang_ids = list(tokenizer.lang_token_to_id.values())
    _build(
        out,
        tokenizer,
        M2M100Config,
        M2M100ForConditionalGeneration,
        [0, 1, 3, *lang_ids],  # <s>, <pad>, <unk> and the language tokens
        vocab_size=max(max(lang_ids) + 1, len(tokenizer.get_vocab())),
        **_ids(tokenizer, "eos"),
    )


def _nllb(out: Path, spm_bytes: bytes) -> None:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    # v5 converts the SentencePiece model into its BPE backend on from_pretrained; loaded
    # that way the 202 language codes are only added when passed explicitly.
    out.mkdir(parents=True, exist_ok=True)
    (out / "sentencepiece.bpe.model").write_bytes(spm_bytes)
    tokenizer = NllbTokenizer.from_pretrained(
        str(out), additional_special_tokens=list(FAIRSEQ_LANGUAGE_CODES), model_max_length=WINDOW
    )
    _build(out, tokenizer, M2M100Config, M2M100ForConditionalGeneration, **_ids(tokenizer, "eos"))


def _mbart50(out: Path, processor: Any) -> None:
    from transformers import MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration

    tokenizer = MBart50Tokenizer(
        vocab=_pieces(processor), src_lang="en_XX", tgt_lang="fr_XX", model_max_length=WINDOW
    )
    _build(out, tokenizer, MBartConfig, MBartForConditionalGeneration, **_ids(tokenizer, "eos"))


# The tiny T5-family size (t5, mt5, crosssum).
T5_SHAPE: dict[str, Any] = {
    "d_model": 32,
    "d_ff": 64,
    "d_kv": 16,
    "num_layers": 1,
    "num_decoder_layers": 1,
    "num_heads": 2,
}


def _t5(out: Path, processor: Any, multilingual: bool) -> None:
    from transformers import (
        MT5Config,
        MT5ForConditionalGeneration,
        T5Config,
        T5ForConditionalGeneration,
        T5Tokenizer,
    )

    tokenizer = T5Tokenizer(vocab=_pieces(processor), extra_ids=0, model_max_length=WINDOW)
    config_class: Any
    model_class: Any
    config_class, model_class = (
        (MT5Config, MT5ForConditionalGeneration)
        if multilingual
        else (T5Config, T5ForConditionalGeneration)
    )
    config = config_class(
        vocab_size=len(tokenizer),
        **T5_SHAPE,
        tie_word_embeddings=not multilingual,
        **_ids(tokenizer, "pad"),
    )
    model = model_class(config)
    _save(out, model, tokenizer, tokenizer.all_special_ids)


# The tiny CrossSum's languages (XL-Sum names, as in the real langid_map) and tokens:
# ordinary vocabulary pieces, as in the real mT5 vocabulary; ids read from the config.
CROSSSUM_LANGUAGES = {"en": "english", "fr": "french", "ru": "russian", "es": "spanish"}


def _crosssum(out: Path, processor: Any) -> None:
    """mT5-shaped, like ``csebuetnlp/mT5_m2m_crossSum``: the T5 tokenizer class, the
    ``task_specific_params["langid_map"]`` of language name → ``[index, "▁<extra_id_N>"]``
    (the tokens appended to the vocabulary as pieces), decoder start ``<pad>`` by default."""
    from transformers import MT5Config, MT5ForConditionalGeneration, T5Tokenizer

    pieces = _pieces(processor)
    floor = min(score for _, score in pieces) - 1.0
    tokens = [f"\u2581<extra_id_{60 + index}>" for index in range(len(CROSSSUM_LANGUAGES))]
    langid_map: dict[str, list[Any]] = {
        name: [index, tokens[index]] for index, name in enumerate(CROSSSUM_LANGUAGES.values())
    }
    pieces += [(token, floor) for token in tokens]
    tokenizer = T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=WINDOW)
    config = MT5Config(vocab_size=len(tokenizer), **T5_SHAPE, **_ids(tokenizer, "pad"))
    config.task_specific_params = {"langid_map": langid_map}  # kept in config.json
    model = MT5ForConditionalGeneration(config)
    # v5 always ties mT5's embeddings: zeroing the language tokens' output rows would zero
    # their input embeddings too and make every target start alike. The checkpoint's
    # generation config suppresses them instead (random weights favour them).
    model.generation_config.suppress_tokens = [tokenizer.convert_tokens_to_ids(t) for t in tokens]
    _save(out, model, tokenizer, tokenizer.all_special_ids)


def _pegasus(out: Path, processor: Any) -> None:
    from transformers import PegasusConfig, PegasusForConditionalGeneration, PegasusTokenizer

    # Pegasus layout: <pad>, </s>, two mask tokens, <unk_2>..<unk_102>, then the pieces.
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<mask_1>", 0.0), ("<mask_2>", 0.0)]
    vocab += [(f"<unk_{i}>", -100.0) for i in range(2, 103)]
    vocab += [("<unk>", 0.0)] + [
        p for p in _pieces(processor) if p[0] not in ("<unk>", "<s>", "</s>")
    ]
    tokenizer = PegasusTokenizer(vocab=vocab, model_max_length=WINDOW)
    _build(out, tokenizer, PegasusConfig, PegasusForConditionalGeneration, **_ids(tokenizer, "pad"))


def _bart(out: Path, lines: list[str]) -> None:
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    train_byte_bpe(out, lines)
    tokenizer = BartTokenizer(
        str(out / "vocab.json"), str(out / "merges.txt"), model_max_length=WINDOW
    )
    _build(out, tokenizer, BartConfig, BartForConditionalGeneration, **_ids(tokenizer, "eos"))


def _entry(model_id: str, family: str, **fields: Any) -> str:
    lines = [
        "[[models]]",
        f'id = "{model_id}"',
        f'family = "{family}"',
        f'source = "./{model_id}"',
        f'license = "{LICENSE}"',
        "preload = true",
    ]
    lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()]
    lines.append("[models.generation]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in GENERATION.items()]
    return "\n".join(lines) + "\n"


MARIAN_PAIRS = [("en", "fr"), ("fr", "en"), ("en", "ru"), ("ru", "en"), ("de", "en"), ("en", "es")]
MARIAN_TARGETS = {"it": ">>ita<<", "pt": ">>por<<", "fr": ">>fra<<"}
SUMMARIZE = ["summarize"]


def _translating(
    pairs: Sequence[tuple[str, str]] = (), languages: Sequence[str] = ()
) -> dict[str, Any]:
    """Catalogue fields of a translation model: pair models or many-to-many ones."""
    fields: dict[str, Any] = {"tasks": ["translate"]}
    if pairs:
        fields["pairs"] = [list(pair) for pair in pairs]
    if languages:
        fields["languages"] = list(languages)
    return fields


def make_tiny(out_dir: Path) -> Path:
    """Builds tiny models of every family under ``out_dir`` and the catalogue listing them.

    Deterministic (fixed seeds, single-threaded vocabulary training); about 4 s on two
    cores. Returns the path of ``out_dir/catalog.toml``.
    """
    import torch

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = corpus_lines()
    spm_bytes, processor = _train_spm(lines)  # unigram, like OPUS-MT, mBART-50, PEGASUS
    _, t5_processor = _train_spm(lines, pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    # M2M100 and NLLB ship BPE SentencePiece models; v5's NLLB tokenizer is a BPE backend
    # converted from it (a unigram model converts, but into a much worse segmentation).
    bpe_bytes, bpe_processor = _train_spm(lines, model_type="bpe")

    entries: list[str] = []

    def add(model_id: str, family: str, builder: Any, *args: Any, **fields: Any) -> None:
        torch.manual_seed(0)
        builder(out_dir / model_id, *args)
        entries.append(_entry(model_id, family, **fields))

    add("tiny-bart", "bart", _bart, lines, tasks=SUMMARIZE, summary_languages=["en"])
    add("tiny-pegasus", "pegasus", _pegasus, processor, tasks=SUMMARIZE, summary_languages=["en"])
    add(
        "tiny-t5",
        "t5",
        _t5,
        t5_processor,
        False,
        tasks=["summarize", "translate"],
        summary_languages=["en"],
        pairs=[["en", "de"]],
        summary_prefix="summarize: ",
        translate_prefix="translate {source_name} to {target_name}: ",
        max_input_tokens=WINDOW,  # relative positions: the config sets no limit
    )
    add(
        "tiny-mt5",
        "mt5",
        _t5,
        t5_processor,
        True,
        tasks=SUMMARIZE,
        summary_languages=["en", "fr", "ru", "es", "de"],
        max_input_tokens=WINDOW,
    )
    for pair in MARIAN_PAIRS:
        marian_id = "tiny-marian-{}-{}".format(*pair)
        add(marian_id, "marian", _marian, spm_bytes, processor, pair, [], **_translating([pair]))
    mul = _translating([("en", t) for t in MARIAN_TARGETS])
    targets = list(MARIAN_TARGETS.values())
    add(
        "tiny-marian-en-mul", "marian", _marian, spm_bytes, processor, ("en", "mul"), targets, **mul
    )
    m2m100 = _translating(languages=["en", "fr", "ru"])
    add("tiny-m2m100", "m2m100", _m2m100, bpe_bytes, bpe_processor, **m2m100)
    add("tiny-nllb", "nllb", _nllb, bpe_bytes, **_translating(languages=["en", "fr", "ru", "uk"]))
    mbart50 = _translating(languages=["en", "fr", "ru", "ja"])
    add("tiny-mbart50", "mbart50", _mbart50, processor, **mbart50)
    crosssum = list(CROSSSUM_LANGUAGES)
    add(
        "tiny-crosssum",  # last: same-language routes keep their tiny models
        "crosssum",
        _crosssum,
        t5_processor,
        tasks=SUMMARIZE,
        summary_languages=crosssum,
        summary_targets=crosssum,
        max_input_tokens=WINDOW,  # relative positions: the config sets no limit
    )

    catalog = out_dir / "catalog.toml"
    header = (
        "# Tiny random-weight models of every family (`polybrief-server models make-tiny`).\n"
        "# Their output is meaningless; they exercise loading, routing and language logic.\n"
        f"# Every input window is {WINDOW} tokens (max_position_embeddings; T5 in the catalogue).\n"
        'pivot_language = "en"\n\n'
    )
    catalog.write_text(header + "\n".join(entries), encoding="utf-8")
    return catalog
