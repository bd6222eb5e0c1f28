"""A random-weight checkpoint on a real OPUS-MT layout, for tests.

``shared/real-layouts/opus-mt-tc-big-en-pt`` (beside the repository) holds the real
tokenizer files and config of Helsinki-NLP/opus-mt-tc-big-en-pt, a multi-target Marian
model (``>>por<<`` and ``>>pob<<``) without its weights. ``build_checkpoint`` writes a
loadable checkpoint from it: the real tokenizer and generation config files copied
verbatim, and seeded random weights for the real config with smaller layers. The
vocabulary and every special-token id are the real ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
REAL_DIR = SHARED_DIR / "real-layouts" / "opus-mt-tc-big-en-pt"

# The real model's ids, as its config and tokenizer state them (checked by the tests).
VOCAB_SIZE = 54776
PAD_ID = 54775  # also decoder_start_token_id
EOS_ID = 44670
UNK_ID = 52024

# Copied as they are: the tokenizer and the generation config (bad_words_ids bans <pad>).
COPIED_FILES = (
    "source.spm",
    "target.spm",
    "vocab.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
)

# Small layers so the model builds, converts and decodes in seconds.
SIZE: dict[str, Any] = {
    "d_model": 64,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 128,
    "decoder_ffn_dim": 128,
}


def missing_reason() -> str | None:
    """Why the real layout cannot be used here, or None when it can."""
    if not SHARED_DIR.is_dir():
        return f"{SHARED_DIR} is absent (the shared material lives beside the repository)"
    missing = [name for name in (*COPIED_FILES, "config.json") if not (REAL_DIR / name).is_file()]
    if missing:
        return f"{REAL_DIR} lacks {', '.join(missing)}"
    return None


def build_checkpoint(out: Path, *, seed: int = 0) -> Path:
    """Writes the random-weight checkpoint to ``out`` (created) and returns ``out``."""
    import torch
    from transformers import MarianConfig, MarianMTModel

    out.mkdir(parents=True, exist_ok=True)
    config = MarianConfig.from_pretrained(REAL_DIR, **SIZE)
    torch.manual_seed(seed)
    model = MarianMTModel(config).eval()
    model.save_pretrained(out)
    # After save_pretrained, which writes a generation config derived from the model's.
    for name in COPIED_FILES:
        shutil.copyfile(REAL_DIR / name, out / name)
    return out


def catalog_entry(
    model_id: str,
    model_dir: Path,
    generation: dict[str, Any],
    *,
    backend: str = "transformers",
    compute_type: str | None = None,
) -> str:
    """One ``[[models]]`` entry serving en→pt from ``model_dir``."""
    lines = [
        "[[models]]",
        f'id = "{model_id}"',
        'family = "marian"',
        f"source = {json.dumps(str(model_dir))}",
        'license = "cc-by-4.0 (layout of Helsinki-NLP/opus-mt-tc-big-en-pt; random weights)"',
        'tasks = ["translate"]',
        'pairs = [["en", "pt"]]',
        "preload = true",
        f'backend = "{backend}"',
    ]
    if compute_type is not None:
        lines.append(f'compute_type = "{compute_type}"')
    lines.append("[models.generation]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in generation.items()]
    return "\n".join(lines) + "\n"
