"""The word cache of BPE tokenizers is off in every tokenizer polybrief loads (bpe_cache.py).

tokenizers 0.23 keeps that cache per thread, so each long-lived request thread grew its
own copy: the soak's steady RSS drift. Each case runs in a fresh process and measures
glibc's in-use heap while eight live threads tokenise distinct words; the control (the
same tokenizer as the library loads it) must show the growth, or the case says the
library changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fresh_process import run_probe

PROBE = r"""
import ctypes, json, random, sys, threading

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in "arena ordblks smblks hblks hblkhd "
                "usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Mallinfo2
how, where = sys.argv[1], sys.argv[2]
if how == "lean":
    from polybrief.service.models.lean import load_tokenizer
    encode = load_tokenizer(__import__("pathlib").Path(where), where).encode
else:
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(where)
    if how == "registry":
        from polybrief.service.models.catalog import Catalog
        from polybrief.service.models.registry import ModelRegistry
        registry = ModelRegistry(Catalog(models=()), allow_download=False, max_loaded=1,
                                 threads=1, ct2_cache=__import__("pathlib").Path(where))
        tokenizer, _ = registry._transformers_files(where, {"local_files_only": True})
    encode = tokenizer.encode
rng = random.Random(7)
texts = [" ".join(f"w{rng.randrange(10**9)}" for _ in range(3000)) for _ in range(8)]
ids = [None] * 8
encode("warm up")
before = libc.mallinfo2().uordblks
done, measured = threading.Barrier(9), threading.Event()

def work(i):
    ids[i] = hash(tuple(encode(texts[i])))  # not the list: it would count as growth
    done.wait()
    measured.wait()  # the thread (and any thread-local cache) lives until measured

threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for thread in threads:
    thread.start()
done.wait()
grown = libc.mallinfo2().uordblks - before
measured.set()
for thread in threads:
    thread.join()
print(json.dumps({"grown_mb": grown / 2**20, "ids": ids}))
"""


def _probe(how: str, where: Path) -> dict[str, object]:
    return run_probe(PROBE, how, str(where))


@pytest.fixture(scope="module")
def lean_bart(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from polybrief.service.models.lean import LEAN_DIR, _write_tokenizer
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("lean-bart")
    (folder / LEAN_DIR).mkdir()
    _write_tokenizer(folder / LEAN_DIR, AutoTokenizer.from_pretrained(tiny_dir / "tiny-bart"))
    return folder


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads glibc's mallinfo2")
@pytest.mark.parametrize("family", ["bart", "nllb"])
def test_bpe_tokenizers_keep_no_word_cache_per_thread(
    tiny_dir: Path, lean_bart: Path, family: str
) -> None:
    checkpoint = tiny_dir / f"tiny-{family}"
    control = _probe("library", checkpoint)
    assert control["grown_mb"] > 3, (  # type: ignore[operator]
        f"tokenizers no longer grows a cache per thread ({control['grown_mb']:.1f} MB for 8 "
        "threads of 3,000 new words): bpe_cache.py may no longer be needed"
    )
    loaded = {"registry": _probe("registry", checkpoint)}
    if family == "bart":
        loaded["lean"] = _probe("lean", lean_bart)
    for how, result in loaded.items():
        assert result["grown_mb"] < 1.5, (how, result["grown_mb"])  # type: ignore[operator]
        assert result["ids"] == control["ids"], how  # the cache never changed an id
