"""Random-weight models at the real architecture sizes of opus-mt-en-fr and
distilbart-cnn-12-6, saved like hub checkpoints (tokenizer padded to the real vocabulary
size so CTranslate2 accepts them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from polybrief.service.models import tiny

MARIAN_VOCAB = 59514
BART_VOCAB = 50264
# A real OPUS-MT SentencePiece model (read in place, never copied into the project): real
# sentences then take as many tokens as they do in production (~1.3 per English word);
# the tiny test vocabulary (700 pieces) cuts them 2-3x finer.
REAL_SPM = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "real-layouts"
    / "opus-mt-tc-big-en-pt"
    / "source.spm"
)


def marian_dir(work: Path) -> Path:
    """Where the opus-mt-shaped model lives: its name says which vocabulary it has."""
    return work / ("opus-mt-en-fr-shape-opus-spm" if REAL_SPM.is_file() else "opus-mt-en-fr-shape")


def marian_vocabulary() -> str:
    """The bench model's SentencePiece model, in words (for the results table)."""
    if REAL_SPM.is_file():
        return (
            "the real English SentencePiece model of opus-mt-tc-big-en-pt (../shared/real-layouts)"
        )
    return "the tiny test SentencePiece model (../shared absent: inputs 2-3x longer than real)"


def _padded(vocab: dict[str, int], size: int) -> dict[str, int]:
    """``vocab`` with filler tokens added up to ``size`` entries."""
    while len(vocab) < size:
        vocab[f"<filler_{len(vocab)}>"] = len(vocab)
    return vocab


def _write_vocab(out: Path, vocab: dict[str, int]) -> None:
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")


def _save(out: Path, model_class: Any, config: Any, tokenizer: Any) -> Path:
    torch.manual_seed(0)
    model_class(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def marian_base(out: Path) -> Path:
    """MarianMT 6+6 layers, d=512, 8 heads, FFN 2048, vocabulary 59,514 (opus-mt-en-fr)."""
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    if (out / "config.json").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    if REAL_SPM.is_file():
        import sentencepiece

        spm_bytes = REAL_SPM.read_bytes()
        processor = sentencepiece.SentencePieceProcessor(model_proto=spm_bytes)
    else:
        spm_bytes, processor = tiny._train_spm(tiny.corpus_lines())
    for name in ("source.spm", "target.spm"):
        (out / name).write_bytes(spm_bytes)
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for piece, _ in tiny._pieces(processor):
        vocab.setdefault(piece, len(vocab))
    vocab = _padded(vocab, MARIAN_VOCAB - 1)
    pad = vocab["<pad>"] = len(vocab)  # the last id, as in real opus-mt
    _write_vocab(out, vocab)
    tokenizer = MarianTokenizer(
        str(out / "source.spm"),
        str(out / "target.spm"),
        str(out / "vocab.json"),
        source_lang="en",
        target_lang="fr",
    )
    config = MarianConfig(
        vocab_size=MARIAN_VOCAB,
        decoder_vocab_size=MARIAN_VOCAB,
        **tiny.architecture(512, (6, 6), 8, 2048),
        max_position_embeddings=512,
        pad_token_id=pad,
        eos_token_id=0,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
        share_encoder_decoder_embeddings=True,
    )
    return _save(out, MarianMTModel, config, tokenizer)


def distilbart(out: Path) -> Path:
    """BART 12 encoder + 6 decoder layers, d=1024, 16 heads, FFN 4096 (distilbart-cnn-12-6)."""
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    if (out / "config.json").is_file():
        return out
    tiny.train_byte_bpe(out, tiny.corpus_lines())
    trained = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
    _write_vocab(out, _padded(trained, BART_VOCAB))
    tokenizer = BartTokenizer(str(out / "vocab.json"), str(out / "merges.txt"))
    config = BartConfig(
        vocab_size=BART_VOCAB,
        **tiny.architecture(1024, (12, 6), 16, 4096),
        max_position_embeddings=1024,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    return _save(out, BartForConditionalGeneration, config, tokenizer)
