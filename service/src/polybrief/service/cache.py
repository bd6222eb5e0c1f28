"""A bounded LRU of translations: (model, source, target, normalised segment) → the
guarded output (text, score, warnings)."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass

from polybrief.service.quality.guard import Guarded

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    bytes: int
    max_bytes: int


def _size(key: Key, value: Guarded) -> int:
    warnings = sum(sys.getsizeof(w.message) + 64 for w in value.warnings)
    return sum(sys.getsizeof(part) for part in key) + sys.getsizeof(value.text) + 96 + warnings


class TranslationCache:
    """Thread-safe LRU bounded by an approximate memory budget (``max_bytes``)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Key, Guarded] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(model: str, source: str, target: str, segment: str) -> Key:
        return (model, source, target, " ".join(segment.split()))

    def get(self, key: Key) -> Guarded | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return value

    def put(self, key: Key, value: Guarded) -> None:
        if self.max_bytes <= 0:
            return
        size = _size(key, value)
        with self._lock:
            if key in self._items:
                self._bytes -= _size(key, self._items.pop(key))
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                old_key, old_value = self._items.popitem(last=False)
                self._bytes -= _size(old_key, old_value)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self._hits, self._misses, len(self._items), self._bytes, self.max_bytes
            )
