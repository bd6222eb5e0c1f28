"""Chooses models: a direct pair model, else a many-to-many model, else two hops through
the pivot language. Among routes of equal rank, ones whose models are usable now
(installed, not failed) win; when none is usable, the preferred route is returned so
that running it reports exactly which model is missing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from polybrief.service.domain import RouteKind
from polybrief.service.errors import UnsupportedRoute
from polybrief.service.models.catalog import Catalog, ModelSpec


@dataclass(frozen=True)
class Hop:
    """One translation pass: ``spec`` from ``source`` into ``target`` (a direct or
    multilingual route has one, a pivot route two, through the pivot language)."""

    spec: ModelSpec
    source: str
    target: str


@dataclass(frozen=True)
class Plan:
    kind: RouteKind
    hops: tuple[Hop, ...] = ()
    pivot: str = ""

    def models(self) -> tuple[ModelSpec, ...]:
        return tuple(hop.spec for hop in self.hops)


def is_direct(spec: ModelSpec) -> bool:
    """A model made for exactly one language pair."""
    return len(spec.translation_pairs()) == 1


def _single_hops(catalog: Catalog, source: str, target: str) -> Iterator[tuple[RouteKind, Hop]]:
    for spec in catalog.models:
        if is_direct(spec) and spec.serves_pair(source, target):
            yield RouteKind.DIRECT, Hop(spec, source, target)
    for spec in catalog.models:
        if not is_direct(spec) and spec.serves_pair(source, target):
            yield RouteKind.MULTILINGUAL, Hop(spec, source, target)


def candidate_plans(catalog: Catalog, source: str, target: str) -> list[Plan]:
    """Every route for the pair, best first (direct, multilingual, pivot)."""
    if source == target:
        return [Plan(RouteKind.IDENTITY)]
    plans = [Plan(kind, (hop,)) for kind, hop in _single_hops(catalog, source, target)]
    pivot = catalog.pivot_language
    if pivot not in (source, target):
        first = [hop for _, hop in _single_hops(catalog, source, pivot)]
        second = [hop for _, hop in _single_hops(catalog, pivot, target)]
        plans.extend(Plan(RouteKind.PIVOT, (a, b), pivot) for a in first for b in second)
    return plans


def plan_translation(
    catalog: Catalog,
    source: str,
    target: str,
    usable: Callable[[ModelSpec], bool],
    model: ModelSpec | None = None,
) -> Plan:
    """The route for one pair; ``model`` forces a single-hop route through that model."""
    if source == target:
        return Plan(RouteKind.IDENTITY)
    if model is not None:
        if not model.serves_pair(source, target):
            raise UnsupportedRoute(
                f"model {model.id!r} does not translate {source}→{target}; it serves "
                + ", ".join(f"{s}→{t}" for s, t in model.translation_pairs()[:20])
            )
        kind = RouteKind.DIRECT if is_direct(model) else RouteKind.MULTILINGUAL
        return Plan(kind, (Hop(model, source, target),))
    plans = candidate_plans(catalog, source, target)
    if not plans:
        raise UnsupportedRoute(
            f"no model in the catalogue translates {source}→{target}, directly or through "
            f"{catalog.pivot_language!r}"
        )
    for plan in plans:
        if all(usable(spec) for spec in plan.models()):
            return plan
    return plans[0]


def summarizers(catalog: Catalog, language: str) -> list[ModelSpec]:
    """Abstractive summarisers for a language, in catalogue order."""
    return [
        spec
        for spec in catalog.models
        if "summarize" in spec.tasks and language in spec.summary_languages
    ]
