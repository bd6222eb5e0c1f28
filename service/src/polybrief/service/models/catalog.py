"""The declarative model catalogue (TOML): which models exist and what each serves.

Example entry::

    [[models]]
    id = "opus-mt-en-fr"                    # used in `model` fields of requests
    family = "marian"                       # see families.FAMILIES
    source = "Helsinki-NLP/opus-mt-en-fr"   # hub id, or a directory (relative to the file)
    revision = "main"                       # hub revision (branch, tag or commit)
    license = "apache-2.0"
    tasks = ["translate"]
    pairs = [["en", "fr"]]                  # pair models; or `languages` for many-to-many
    preload = true                          # load before the server reports SERVING
    [models.generation]                     # keyword arguments for model.generate
    num_beams = 4

``backend = "ctranslate2"`` runs the model with CTranslate2 (converted on first load and
cached; ``compute_type`` "auto" = int8 on CPU, int8_float16 on a GPU) for the families in
CT2_FAMILIES.

Family-specific keys: ``summary_prefix`` and ``translate_prefix`` (T5 prompts, with
``{source_name}``/``{target_name}`` placeholders), ``max_input_tokens`` (overrides the
window read from the model's config), ``summary_targets`` (a cross-lingual summariser,
family "crosssum": the languages it can write a summary in besides the source's own;
``summary_languages`` are the sources it reads).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASKS = ("translate", "summarize")
BACKENDS = ("transformers", "ctranslate2")
# Families whose CTranslate2 conversion was checked to reproduce transformers' output.
CT2_FAMILIES = ("marian", "bart", "t5", "mt5")
DEFAULT_CATALOG = Path(__file__).with_name("default_catalog.toml")

GenerationValue = int | float | bool | str


class CatalogError(ValueError):
    """The catalogue file is malformed; the message names the entry and key."""


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry, as the module docstring describes its keys: what the model is
    (``family``, ``source``, ``revision``), what it serves (``tasks``, ``pairs`` or
    ``languages``, ``summary_languages``, ``summary_targets``) and how it runs
    (``backend``, ``compute_type``, ``generation``, ``max_input_tokens``)."""

    id: str
    family: str
    source: str
    tasks: tuple[str, ...]
    revision: str | None = None
    license: str = "unknown"
    pairs: tuple[tuple[str, str], ...] = ()
    languages: tuple[str, ...] = ()
    summary_languages: tuple[str, ...] = ()
    # languages a cross-lingual summariser writes besides the source's own
    summary_targets: tuple[str, ...] = ()
    preload: bool = False
    max_input_tokens: int | None = None
    summary_prefix: str = ""
    translate_prefix: str = ""
    generation: Mapping[str, GenerationValue] = field(default_factory=dict)
    local_path: Path | None = None
    backend: str = "transformers"
    compute_type: str = "auto"

    def translation_pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (source, target) pair this model translates."""
        if "translate" not in self.tasks:
            return ()
        if self.pairs:
            return self.pairs
        return tuple((s, t) for s in self.languages for t in self.languages if s != t)

    def serves_pair(self, source: str, target: str) -> bool:
        return (source, target) in self.translation_pairs()

    def summarizes(self, source: str, target: str) -> bool:
        """Whether this model summarises text written in ``source`` into ``target``: its
        own language, or (a cross-lingual summariser) one of ``summary_targets``."""
        if "summarize" not in self.tasks or source not in self.summary_languages:
            return False
        return target == source or target in self.summary_targets

    @property
    def cross_lingual(self) -> bool:
        """Whether this model summarises straight into another language."""
        return bool(self.summary_targets)

    def all_languages(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for s, t in self.pairs:
            seen[s] = None
            seen[t] = None
        for code in (*self.languages, *self.summary_languages, *self.summary_targets):
            seen[code] = None
        return tuple(seen)

    @property
    def pull_command(self) -> str:
        return f"polybrief-server models pull {self.id}"


@dataclass(frozen=True)
class Catalog:
    """All models the server may serve, in priority order."""

    models: tuple[ModelSpec, ...]
    pivot_language: str = "en"
    path: Path | None = None

    def get(self, model_id: str) -> ModelSpec | None:
        for spec in self.models:
            if spec.id == model_id:
                return spec
        return None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(spec.id for spec in self.models)


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Reads a catalogue file; ``None`` reads the shipped default catalogue."""
    file = Path(path) if path is not None else DEFAULT_CATALOG
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"catalogue file {file} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{file}: not valid TOML: {exc}") from exc
    return parse_catalog(raw, base_dir=file.parent, path=file)


def parse_catalog(raw: Mapping[str, Any], *, base_dir: Path, path: Path | None = None) -> Catalog:
    """Validates a parsed catalogue document."""
    entries = raw.get("models")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{path}: needs at least one [[models]] entry")
    models: list[ModelSpec] = []
    for index, entry in enumerate(entries):
        spec = _parse_model(entry, index, base_dir)
        if any(m.id == spec.id for m in models):
            raise CatalogError(f"models[{index}]: duplicate id {spec.id!r}")
        models.append(spec)
    pivot = str(raw.get("pivot_language", "en"))
    return Catalog(models=tuple(models), pivot_language=pivot, path=path)


def _parse_model(entry: Any, index: int, base_dir: Path) -> ModelSpec:
    where = f"models[{index}]"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: must be a table")
    known = {
        "id",
        "family",
        "source",
        "revision",
        "license",
        "tasks",
        "pairs",
        "languages",
        "summary_languages",
        "summary_targets",
        "preload",
        "max_input_tokens",
        "summary_prefix",
        "translate_prefix",
        "generation",
        "backend",
        "compute_type",
    }
    unknown = set(entry) - known
    if unknown:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
    for key in ("id", "family", "source", "tasks"):
        if key not in entry:
            raise CatalogError(f"{where}: missing required key {key!r}")
    model_id = str(entry["id"])
    where = f"model {model_id!r}"
    family = str(entry["family"])
    from polybrief.service.models.families import FAMILIES  # families import ModelSpec

    if family not in FAMILIES:
        raise CatalogError(f"{where}: unknown family {family!r}; supported: {', '.join(FAMILIES)}")
    tasks = tuple(str(t) for t in entry["tasks"])
    bad_tasks = [t for t in tasks if t not in TASKS]
    if bad_tasks or not tasks:
        raise CatalogError(f"{where}: tasks must be a non-empty subset of {TASKS}")
    pairs = tuple((str(p[0]), str(p[1])) for p in entry.get("pairs", []))
    if any(len(p) != 2 for p in entry.get("pairs", [])):
        raise CatalogError(f"{where}: each pair must be [source, target]")
    languages = tuple(str(x) for x in entry.get("languages", []))
    summary_languages = tuple(str(x) for x in entry.get("summary_languages", []))
    if "translate" in tasks and not (pairs or languages):
        raise CatalogError(f"{where}: a translation model needs `pairs` or `languages`")
    if "summarize" in tasks and not summary_languages:
        raise CatalogError(f"{where}: a summarisation model needs `summary_languages`")
    summary_targets = _summary_targets(entry, where, family, tasks, summary_languages)
    source = str(entry["source"])
    local_path = _local_path(source, base_dir)
    generation = entry.get("generation", {})
    if not isinstance(generation, dict):
        raise CatalogError(f"{where}: `generation` must be a table")
    max_input = entry.get("max_input_tokens")
    backend = str(entry.get("backend", "transformers"))
    if backend not in BACKENDS:
        raise CatalogError(
            f"{where}: unknown backend {backend!r}; supported: {', '.join(BACKENDS)}"
        )
    if backend == "ctranslate2" and family not in CT2_FAMILIES:
        why = (
            " (crosssum picks its output language by the decoder start token, which "
            "CTranslate2 cannot set per call: use the transformers backend)"
            if family == "crosssum"
            else ""
        )
        raise CatalogError(
            f"{where}: the ctranslate2 backend is verified for {', '.join(CT2_FAMILIES)} only" + why
        )
    return ModelSpec(
        id=model_id,
        family=family,
        source=source,
        tasks=tasks,
        revision=str(entry["revision"]) if "revision" in entry else None,
        license=str(entry.get("license", "unknown")),
        pairs=pairs,
        languages=languages,
        summary_languages=summary_languages,
        summary_targets=summary_targets,
        preload=bool(entry.get("preload", False)),
        max_input_tokens=int(max_input) if max_input is not None else None,
        summary_prefix=str(entry.get("summary_prefix", "")),
        translate_prefix=str(entry.get("translate_prefix", "")),
        generation=dict(generation),
        local_path=local_path,
        backend=backend,
        compute_type=str(entry.get("compute_type", "auto")),
    )


def _summary_targets(
    entry: Mapping[str, Any],
    where: str,
    family: str,
    tasks: tuple[str, ...],
    summary_languages: tuple[str, ...],
) -> tuple[str, ...]:
    """The entry's ``summary_targets``, checked: codes of a summarising cross-lingual
    family that can name every language it reads and writes."""
    raw = entry.get("summary_targets", [])
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise CatalogError(f"{where}: `summary_targets` must be a list of language codes")
    targets = tuple(raw)
    if targets and "summarize" not in tasks:
        raise CatalogError(f"{where}: `summary_targets` needs the summarize task")
    from polybrief.service.models.families import adapter_for

    adapter = adapter_for(family)
    if targets and not adapter.cross_lingual:
        raise CatalogError(
            f"{where}: `summary_targets` needs a cross-lingual summarisation family "
            f"(crosssum); {family!r} writes summaries in the source's language only"
        )
    unnamed = adapter.unnamed_languages((*summary_languages, *targets))
    if unnamed:
        raise CatalogError(
            f"{where}: the {family} family has no language name for {', '.join(unnamed)} "
            "(in `summary_languages` or `summary_targets`)"
        )
    return targets


def _local_path(source: str, base_dir: Path) -> Path | None:
    """A source is a local directory when it starts with '.', '/' or '~', or exists."""
    if source.startswith((".", "/", "~")):
        return (base_dir / Path(source).expanduser()).resolve()
    candidate = base_dir / source
    if candidate.is_dir():
        return candidate.resolve()
    return None
