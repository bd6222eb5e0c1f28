"""Serving CTranslate2 models without torch or transformers.

transformers imports torch whenever torch is installed (v5 has no switch), and torch costs
a server about 1.8 s of start-up and 200+ MB of memory that a CTranslate2 model never
uses. So when a model is converted (in a process that has transformers anyway), what
serving needs from transformers is written beside the converted weights, in ``lean/``:

- the tokenizer, in a form that needs neither library: ``tokenizer.json`` for the
  families whose transformers tokenizer is ``tokenizers``-backed (BART, PEGASUS, T5, mT5,
  mBART-50, NLLB: the very Rust object transformers wraps), or the SentencePiece files
  and vocabulary of Marian (read with ``sentencepiece``, as ``MarianTokenizer`` does);
- the model facts the backend reads from the config and generation config
  (``serving.json``): decoder positions, input window, default beams, forced EOS.

``LeanTokenizer`` implements exactly the part of the transformers tokenizer API that
polybrief calls (families.py, backends.py, the engine); ``tests/test_lean.py`` checks it
gives the same ids and texts as transformers on every family and on a real vocabulary.
A family with neither form (M2M100: a Python-only tokenizer) is served with the
transformers tokenizer, which imports torch.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polybrief.service.models.bpe_cache import turn_off_bpe_cache

LEAN_DIR = "lean"
FACTS = "serving.json"
FORMAT = 1
SPIECE_UNDERLINE = "▁"


@dataclass(frozen=True)
class ServingFacts:
    """What the CTranslate2 backend needs from the checkpoint's configs."""

    decoder_positions: int | None
    max_position_embeddings: int | None
    default_beams: int
    forced_eos: bool
    tokenizer: str | None  # "tokenizers", "marian", or None (transformers needed)


def write_lean(out: Path, tokenizer: Any, config: Any, generation: Any) -> None:
    """Writes ``out/lean/`` for a converted model (called where transformers is loaded)."""
    from polybrief.service.models.backends import decoder_positions

    folder = out / LEAN_DIR
    folder.mkdir(parents=True, exist_ok=True)
    kind = _write_tokenizer(folder, tokenizer)
    positions = getattr(config, "max_position_embeddings", None)
    facts = {
        "format": FORMAT,
        "decoder_positions": decoder_positions(config),
        "max_position_embeddings": positions if isinstance(positions, int) else None,
        "default_beams": int(generation.num_beams or 1),
        "forced_eos": generation.forced_eos_token_id is not None,
        "tokenizer": kind,
    }
    (folder / FACTS).write_text(json.dumps(facts, indent=1), encoding="utf-8")


def _specials(tokenizer: Any) -> dict[str, Any]:
    """The special tokens, their ids and how transformers splits them out of a text."""
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    strips = {
        str(t): {"lstrip": bool(getattr(t, "lstrip", False)), "rstrip": bool(t.rstrip)}
        for t in added.values()
        if hasattr(t, "rstrip") and not isinstance(t, str)
    }
    return {
        "unk_token_id": tokenizer.unk_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "special_tokens": list(dict.fromkeys(str(t) for t in tokenizer.all_special_tokens)),
        "added_tokens": strips,
        "legacy_behaviour": bool(getattr(tokenizer, "legacy_behaviour", False)),
        "clean_up_tokenization_spaces": bool(tokenizer.clean_up_tokenization_spaces),
        "model_max_length": int(min(tokenizer.model_max_length, 10**9)),
    }


def _write_tokenizer(folder: Path, tokenizer: Any) -> str | None:
    meta = _specials(tokenizer)
    if type(tokenizer).__name__ == "MarianTokenizer":
        source, target = tokenizer.spm_files
        shutil.copyfile(source, folder / "source.spm")
        shutil.copyfile(target, folder / "target.spm")
        (folder / "vocab.json").write_text(json.dumps(tokenizer.encoder), encoding="utf-8")
        if tokenizer.separate_vocabs:
            target_vocab = {v: k for k, v in tokenizer.decoder.items()}
            (folder / "target_vocab.json").write_text(json.dumps(target_vocab), encoding="utf-8")
        meta.update(kind="marian", separate_vocabs=bool(tokenizer.separate_vocabs))
    elif (
        getattr(tokenizer, "_tokenizer", None) is not None
        and not meta["clean_up_tokenization_spaces"]
    ):
        tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
        meta.update(kind="tokenizers")
    else:
        return None
    (folder / "tokenizer_meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return str(meta["kind"])


def read_facts(converted: Path) -> ServingFacts | None:
    """The facts written at conversion, or None (an older conversion: convert again)."""
    path = converted / LEAN_DIR / FACTS
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        return None
    return ServingFacts(
        decoder_positions=data["decoder_positions"],
        max_position_embeddings=data["max_position_embeddings"],
        default_beams=int(data["default_beams"]),
        forced_eos=bool(data["forced_eos"]),
        tokenizer=data["tokenizer"],
    )


class LeanTokenizer:
    """The transformers tokenizer calls polybrief makes, without transformers.

    ``tokenizer(texts, add_special_tokens=...)["input_ids"]``, ``convert_tokens_to_ids``,
    ``convert_ids_to_tokens``, ``decode``/``batch_decode(skip_special_tokens=True)``,
    ``get_vocab``, and the attributes ``unk_token_id``, ``eos_token_id``,
    ``pad_token_id``, ``legacy_behaviour``, ``model_max_length``, ``name_or_path``.
    """

    def __init__(self, meta: dict[str, Any], name_or_path: str) -> None:
        self.unk_token_id: int | None = meta["unk_token_id"]
        self.eos_token_id: int | None = meta["eos_token_id"]
        self.pad_token_id: int | None = meta["pad_token_id"]
        self.legacy_behaviour: bool = meta["legacy_behaviour"]
        self.model_max_length: int = meta["model_max_length"]
        self.name_or_path = name_or_path
        self.padding_side = "right"

    def __call__(
        self, texts: str | Sequence[str], add_special_tokens: bool = True
    ) -> dict[str, Any]:
        rows = [texts] if isinstance(texts, str) else list(texts)
        ids = [self.encode(t, add_special_tokens=add_special_tokens) for t in rows]
        return {"input_ids": ids[0] if isinstance(texts, str) else ids}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        raise NotImplementedError

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> Any:
        if isinstance(tokens, str):
            return self._token_to_id(tokens)
        return [self._token_to_id(t) for t in tokens]

    def _token_to_id(self, token: str) -> int | None:
        raise NotImplementedError

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> Any:
        if isinstance(ids, int):
            return self._id_to_token(ids)
        return [self._id_to_token(int(i)) for i in ids]

    def _id_to_token(self, index: int) -> str:
        raise NotImplementedError

    def get_vocab(self) -> dict[str, int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        raise NotImplementedError

    def batch_decode(
        self, rows: Sequence[Sequence[int]], skip_special_tokens: bool = False
    ) -> list[str]:
        return [self.decode(row, skip_special_tokens=skip_special_tokens) for row in rows]


class RustTokenizer(LeanTokenizer):
    """A ``tokenizers``-backed family: the Rust tokenizer transformers itself wraps."""

    def __init__(self, folder: Path, meta: dict[str, Any], name_or_path: str) -> None:
        from tokenizers import Tokenizer

        super().__init__(meta, name_or_path)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        turn_off_bpe_cache(self._tokenizer)

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)

    def __call__(
        self, texts: str | Sequence[str], add_special_tokens: bool = True
    ) -> dict[str, Any]:
        if isinstance(texts, str):
            return {"input_ids": self.encode(texts, add_special_tokens)}
        encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [list(e.ids) for e in encoded]}

    def _token_to_id(self, token: str) -> int | None:
        found = self._tokenizer.token_to_id(token)
        return self.unk_token_id if found is None else int(found)

    def _id_to_token(self, index: int) -> str:
        return str(self._tokenizer.id_to_token(index))

    def get_vocab(self) -> dict[str, int]:
        return dict(self._tokenizer.get_vocab(with_added_tokens=True))

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))


class MarianLean(LeanTokenizer):
    """OPUS-MT's tokenizer as ``MarianTokenizer`` computes it: special tokens split out
    of the text, a leading ``>>xxx<<`` kept whole, SentencePiece pieces of the source
    model mapped through ``vocab.json`` (unknown pieces: ``<unk>``), ``</s>`` appended;
    decoding maps ids back to pieces and joins them with the source SentencePiece model
    (the target one when the vocabularies are separate), as transformers 5 does."""

    def __init__(self, folder: Path, meta: dict[str, Any], name_or_path: str) -> None:
        import sentencepiece

        super().__init__(meta, name_or_path)
        self.encoder: dict[str, int] = json.loads((folder / "vocab.json").read_text("utf-8"))
        separate = bool(meta["separate_vocabs"])
        target = folder / "target_vocab.json" if separate else folder / "vocab.json"
        target_encoder = json.loads(target.read_text("utf-8")) if separate else self.encoder
        self.decoder = {int(v): k for k, v in target_encoder.items()}
        self.supported_language_codes = (
            [] if separate else [k for k in self.encoder if k.startswith(">>") and k.endswith("<<")]
        )
        self._source = sentencepiece.SentencePieceProcessor()
        self._source.Load(str(folder / "source.spm"))
        self._target = sentencepiece.SentencePieceProcessor()
        self._target.Load(str(folder / "target.spm"))
        self._decoding = self._target if separate else self._source
        self._specials = set(meta["special_tokens"])
        self._added: dict[str, dict[str, bool]] = meta["added_tokens"]
        # longest first: a special token that contains another is split out whole
        self._split_order = sorted(self._added, key=len, reverse=True)

    def _split(self, text: str) -> list[str]:
        """The text cut around added tokens, with their lstrip/rstrip applied."""
        parts = [text]
        for token in self._split_order:
            cut: list[str] = []
            for part in parts:
                if part in self._added:
                    cut.append(part)
                    continue
                pieces = part.split(token)
                for i, piece in enumerate(pieces):
                    if i:
                        cut.append(token)
                    cut.append(piece)
            parts = cut
        for i, part in enumerate(parts):
            flags = self._added.get(part)
            if flags is None:
                continue
            if flags["rstrip"] and i + 1 < len(parts):
                parts[i + 1] = parts[i + 1].lstrip()
            if flags["lstrip"] and i > 0:
                parts[i - 1] = parts[i - 1].rstrip()
        return [p for p in parts if p]

    def _pieces(self, text: str) -> list[str]:
        code: list[str] = []
        if text.startswith(">>") and (end := text.find("<<")) != -1:
            code.append(text[: end + 2])
            text = text[end + 2 :]
        return code + list(self._source.encode(text, out_type=str))

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        tokens: list[str] = []
        for part in self._split(text):
            tokens.extend([part] if part in self._added else self._pieces(part))
        ids = [self._token_to_id(t) for t in tokens]
        if add_special_tokens and self.eos_token_id is not None:
            ids.append(self.eos_token_id)
        return [int(i) for i in ids if i is not None]

    def _token_to_id(self, token: str) -> int | None:
        found = self.encoder.get(token)
        return self.encoder.get("<unk>", self.unk_token_id) if found is None else found

    def _id_to_token(self, index: int) -> str:
        if index in self.decoder:
            return str(self.decoder[index])
        known = 0 <= index < self._decoding.GetPieceSize()
        piece = str(self._decoding.IdToPiece(index)) if known else ""
        return piece or "<unk>"

    def get_vocab(self) -> dict[str, int]:
        return dict(self.encoder)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        tokens = [self._id_to_token(int(i)) for i in ids]
        if skip_special_tokens:
            tokens = [t for t in tokens if t not in self._specials]
        out, run = "", list[str]()
        for token in tokens:
            if token in self._specials:
                out += str(self._decoding.decode_pieces(run)) + token + " "
                run = []
            else:
                run.append(token)
        out += str(self._decoding.decode_pieces(run))
        return out.replace(SPIECE_UNDERLINE, " ").strip()


def load_tokenizer(converted: Path, name_or_path: str) -> LeanTokenizer | None:
    """The lean tokenizer written at conversion, or None when the family has none."""
    folder = converted / LEAN_DIR
    meta_path = folder / "tokenizer_meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("kind") == "marian":
        return MarianLean(folder, meta, name_or_path)
    if meta.get("kind") == "tokenizers":
        return RustTokenizer(folder, meta, name_or_path)
    return None
