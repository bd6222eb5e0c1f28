"""The word cache of ``tokenizers`` BPE models, turned off.

tokenizers 0.23 caches each word's merges in a *thread-local* map, per model: up to
10,000 words (about 3 MB) for every thread that ever tokenised with that model, freed
only when the thread exits. A server's request, leg and inference threads live as long
as the process, so each grew its own copy: under the soak's mixed load this was the
server's steady RSS growth (``bench/soak.py``; memray traced it to
``BPE::tokenize_with_cache``). Without the cache BPE tokenises about 20% slower, some
300,000 words a second on one core of the reference VM: a negligible share of a call
that then runs a model. Unigram models (T5, mT5, PEGASUS, mBART-50) keep one shared,
bounded cache and are left as they are.
"""

from __future__ import annotations

from typing import Any


def turn_off_bpe_cache(tokenizer: Any) -> None:
    """Turns off the per-thread word cache of ``tokenizer`` when its model is BPE: a
    ``tokenizers.Tokenizer``, or a transformers tokenizer with a ``backend_tokenizer``;
    any other tokenizer is left alone."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    model: Any = getattr(backend, "model", None)
    if type(model).__name__ == "BPE" and hasattr(model, "_resize_cache"):
        model._resize_cache(0)  # capacity 0: nothing is ever inserted, in any thread
