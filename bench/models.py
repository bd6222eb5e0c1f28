"""Random-weight models at the real architecture sizes of opus-mt-en-fr and
distilbart-cnn-12-6, saved like hub checkpoints (tokenizer padded to the real vocabulary
size so CTranslate2 accepts them)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from polybrief.service.models import tiny

MARIAN_VOCAB = 59514
BART_VOCAB = 50264


def marian_base(out: Path) -> Path:
    """MarianMT 6+6 layers, d=512, 8 heads, FFN 2048, vocabulary 59,514 (opus-mt-en-fr)."""
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    if (out / "config.json").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    spm_bytes, processor = tiny._train_spm(tiny.corpus_lines())
    for name in ("source.spm", "target.spm"):
        (out / name).write_bytes(spm_bytes)
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for piece, _ in tiny._pieces(processor):
        vocab.setdefault(piece, len(vocab))
    while len(vocab) < MARIAN_VOCAB - 1:
        vocab[f"<filler_{len(vocab)}>"] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        str(out / "source.spm"),
        str(out / "target.spm"),
        str(out / "vocab.json"),
        source_lang="en",
        target_lang="fr",
    )
    pad = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=MARIAN_VOCAB,
        decoder_vocab_size=MARIAN_VOCAB,
        d_model=512,
        encoder_layers=6,
        decoder_layers=6,
        encoder_attention_heads=8,
        decoder_attention_heads=8,
        encoder_ffn_dim=2048,
        decoder_ffn_dim=2048,
        max_position_embeddings=512,
        pad_token_id=pad,
        eos_token_id=0,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
        share_encoder_decoder_embeddings=True,
    )
    torch.manual_seed(0)
    MarianMTModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def distilbart(out: Path) -> Path:
    """BART 12 encoder + 6 decoder layers, d=1024, 16 heads, FFN 4096 (distilbart-cnn-12-6)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    if (out / "config.json").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        tiny.corpus_lines(),
        vocab_size=1000,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    bpe.save_model(str(out))
    vocab = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
    while len(vocab) < BART_VOCAB:
        vocab[f"<filler_{len(vocab)}>"] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = BartTokenizer(str(out / "vocab.json"), str(out / "merges.txt"))
    config = BartConfig(
        vocab_size=BART_VOCAB,
        d_model=1024,
        encoder_layers=12,
        decoder_layers=6,
        encoder_attention_heads=16,
        decoder_attention_heads=16,
        encoder_ffn_dim=4096,
        decoder_ffn_dim=4096,
        max_position_embeddings=1024,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    torch.manual_seed(0)
    BartForConditionalGeneration(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
