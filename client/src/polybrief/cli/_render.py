"""Human-readable and JSON rendering of results."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from polybrief.client import Capabilities, DetectedLanguage, Route, SummarizeResult, Translation
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table


def route_text(route: Route) -> str:
    """'summarize tiny-bart (en) → translate opus-mt-en-fr (en→fr)'."""
    parts = []
    for step in route.steps:
        if step.kind == "translate":
            parts.append(f"translate {step.model} ({step.source_language}→{step.target_language})")
        elif step.kind == "summarize":
            parts.append(
                f"summarize {step.model} ({step.source_language}, {step.segments} chunk(s))"
            )
        else:
            parts.append(f"extract {step.segments} sentence(s) ({step.source_language})")
    suffix = f" [pivot {route.pivot_language}]" if route.pivot_language else ""
    return " → ".join(parts) + suffix


def as_json(value: Any) -> str:
    plain = (
        dataclasses.asdict(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type)
        else value
    )
    return json.dumps(
        plain,
        ensure_ascii=False,
        indent=2,
        default=dataclasses.asdict,
    )


def detection_text(d: DetectedLanguage | None) -> str:
    if d is None:
        return "given"
    return (
        f"detected {d.language or '?'} ({d.confidence:.2f}{'' if d.reliable else ', unreliable'})"
    )


def briefs(console: Console, result: SummarizeResult) -> None:
    for brief in result.briefs:
        if brief.error is not None:
            body = f"[red]{brief.error.code}: {escape(brief.error.message)}[/red]"
            if brief.error.hint:
                body += f"\n[yellow]→ {escape(brief.error.hint)}[/yellow]"
        else:
            body = escape(brief.text)
        if brief.fallback_reason:
            body += f"\n[dim]extractive fallback: {escape(brief.fallback_reason)}[/dim]"
        console.print(
            Panel(
                body,
                title=f"[bold]{brief.language}[/bold] · {brief.mode}",
                subtitle=route_text(brief.route),
                title_align="left",
                subtitle_align="left",
            )
        )
    p = result.pipeline
    console.print(
        f"source: {result.source_language} ({detection_text(result.detected_language)}); "
        f"{p.paragraphs} paragraphs, {p.sentences} sentences; "
        f"{p.duplicate_paragraphs_removed} duplicate paragraphs and "
        f"{p.duplicate_sentences_removed} duplicate sentences removed; "
        f"{p.removed_control_characters} control characters removed; "
        f"{p.chunks_summarized} chunk(s) summarised in {p.reduce_rounds} round(s)"
    )


def translations(console: Console, results: list[Translation]) -> None:
    for index, item in enumerate(results):
        head = f"[{index}] {item.source_language or '?'} {route_text(item.route)}"
        console.print(head, style="dim")
        if item.error is not None:
            console.print(f"[red]{item.error.code}: {item.error.message}[/red]")
            if item.error.hint:
                console.print(f"[yellow]→ {item.error.hint}[/yellow]")
        else:
            console.print(item.text, markup=False, highlight=False)


def models_table(console: Console, caps: Capabilities) -> None:
    table = Table(title=f"models (pivot language: {caps.pivot_language})")
    for column in ("id", "family", "tasks", "languages", "state", "license"):
        table.add_column(column)
    for m in caps.models:
        if m.pairs and len(m.pairs) <= 3:
            langs = ", ".join(f"{p.source_language}→{p.target_language}" for p in m.pairs)
        else:
            langs = ", ".join(m.languages[:12]) + (" …" if len(m.languages) > 12 else "")
        table.add_row(m.id, m.family, ",".join(m.tasks), langs, m.state, m.license)
    console.print(table)
