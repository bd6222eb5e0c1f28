"""Human-readable (rich) and JSON rendering of client results."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

import typer
from polybrief.client import (
    Brief,
    Capabilities,
    DetectedLanguage,
    ItemError,
    ModelInfo,
    PipelineReport,
    QualityWarning,
    Ready,
    Route,
    SummarizeDone,
    SummarizeEvent,
    SummarizeResult,
    Translation,
)
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table


def stdout() -> Console:
    """The console results are printed on (made per command: honours COLUMNS, NO_COLOR)."""
    return Console(highlight=False)


def _plain(value: Any) -> Any:
    """Dataclasses, named tuples and tuples as JSON-ready dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def as_json(value: Any) -> str:
    """``value`` (a result, or a list of results) as indented JSON."""
    return json.dumps(_plain(value), ensure_ascii=False, indent=2)


def print_json(value: Any) -> None:
    """Prints ``value`` as JSON, unwrapped and uncoloured (safe to pipe into ``jq``)."""
    typer.echo(as_json(value))


def route_text(route: Route) -> str:
    """'summarize tiny-bart (en) → translate opus-mt-en-fr (en→fr)'."""
    parts = []
    for step in route.steps:
        if step.kind == "translate":
            parts.append(f"translate {step.model} ({step.source_language}→{step.target_language})")
        elif step.kind == "summarize":
            parts.append(f"summarize {step.model} ({step.source_language})")
        else:
            parts.append(f"extract sentences ({step.source_language})")
    suffix = f" (pivot through {route.pivot_language})" if route.pivot_language else ""
    return " → ".join(parts) + suffix


def detection_text(d: DetectedLanguage | None) -> str:
    """'detected, confidence 0.97' (or 'given' when the caller named the language)."""
    if d is None:
        return "given"
    return f"detected, confidence {d.confidence:.2f}{'' if d.reliable else ', unreliable'}"


def item_error_markup(error: ItemError) -> str:
    """The error in red and, below it, what to do about it."""
    text = f"[red]{escape(error.code)}: {escape(error.message)}[/red]"
    if error.hint:
        text += f"\n[yellow]→ {escape(error.hint)}[/yellow]"
    return text


def warning_text(w: QualityWarning) -> str:
    """'⚠ WRONG_LANGUAGE (segment 2, looks like en): the output is not in fr'."""
    where = [f"segment {w.segment}"] if w.segment >= 0 else []
    where += [f"looks like {w.detected_language}"] if w.detected_language else []
    return f"⚠ {w.code}" + (f" ({', '.join(where)})" if where else "") + f": {w.message}"


def trust_text(item: Brief | Translation) -> str:
    """'confidence 0.83 · terms kept: Charles de Gaulle, marine'."""
    terms = f" · terms kept: {', '.join(item.applied_terms)}" if item.applied_terms else ""
    return f"confidence {item.confidence:.2f}{terms}"


def trust_markup(item: Brief | Translation) -> str:
    """The confidence line (dim) and one line per warning (yellow), for an output that
    was produced (an item error says it all)."""
    lines = [f"[dim]{escape(trust_text(item))}[/dim]"]
    lines += [f"[yellow]{escape(warning_text(w))}[/yellow]" for w in item.warnings]
    return "\n".join(lines)


def _brief_panel(brief: Brief) -> Panel:
    body = item_error_markup(brief.error) if brief.error else escape(brief.text)
    if brief.fallback_reason:
        body += f"\n[dim]extractive fallback: {escape(brief.fallback_reason)}[/dim]"
    if brief.error is None:
        body += "\n" + trust_markup(brief)
    route = route_text(brief.route)
    return Panel(
        body,
        title=f"[bold]{escape(brief.language)}[/bold] · {brief.mode}",
        subtitle=escape(route) if route else None,
        title_align="left",
        subtitle_align="left",
    )


def pipeline_text(p: PipelineReport) -> str:
    """'13 paragraphs, 13 sentences · 12 duplicate paragraphs removed · 10 chunks ...'."""
    parts = [f"{p.paragraphs} paragraphs, {p.sentences} sentences"]
    removed = [
        (p.duplicate_paragraphs_removed, "duplicate paragraphs"),
        (p.duplicate_sentences_removed, "duplicate sentences"),
        (p.removed_control_characters, "control characters"),
    ]
    parts += [f"{n} {what} removed" for n, what in removed if n]
    if p.chunks_summarized:
        rounds = f" in {p.reduce_rounds} rounds" if p.reduce_rounds > 1 else ""
        parts.append(f"{p.chunks_summarized} chunks summarised{rounds}")
    return " · ".join(parts)


def briefs(console: Console, result: SummarizeResult) -> None:
    """One panel per brief (text, confidence, terms kept, warnings; route below), then
    the source language and the pipeline report."""
    for brief in result.briefs:
        console.print(_brief_panel(brief))
    _report(console, result)


def _report(console: Console, result: SummarizeResult) -> None:
    source = f"{result.source_language or '?'} ({detection_text(result.detected_language)})"
    console.print(f"source: {escape(source)}")
    console.print(f"pipeline: {pipeline_text(result.pipeline)}")


class _Waiting:
    """The live status line: a spinner, the languages still running and the time so far."""

    def __init__(self, labels: Sequence[str], started: float) -> None:
        self.pending = dict(enumerate(labels))
        self.started = started
        self.spinner = Spinner("dots")

    def __rich__(self) -> Spinner:
        names = ", ".join(self.pending.values())
        self.spinner.update(
            text=f"waiting for {names} ({time.perf_counter() - self.started:.1f} s)"
        )
        return self.spinner


def streamed_briefs(
    console: Console, events: Iterable[SummarizeEvent], languages: Sequence[str]
) -> SummarizeResult:
    """Each brief's panel as soon as it arrives, under a live status line naming the
    languages still running; then the source, the pipeline report and the time each
    brief took (and the total). Returns the briefs as a SummarizeResult, in request order."""
    started = time.perf_counter()
    waiting = _Waiting(list(languages) or ["the source language"], started)
    arrived: dict[int, tuple[Brief, float]] = {}
    done: SummarizeDone | None = None
    with Live(waiting, console=console, transient=True, refresh_per_second=8):
        for event in events:
            if isinstance(event, Ready):
                arrived[event.index] = (event.output, time.perf_counter() - started)
                waiting.pending.pop(event.index, None)
                console.print(_brief_panel(event.output))
            else:
                done = event
    total = time.perf_counter() - started
    if done is None:  # the server always ends a stream with its report
        raise RuntimeError("the stream ended without its report")
    ordered = [arrived[i] for i in sorted(arrived)]
    result = SummarizeResult(
        tuple(brief for brief, _ in ordered),
        done.source_language,
        done.detected_language,
        done.pipeline,
    )
    _report(console, result)
    times = " · ".join(f"{brief.language} {seconds:.2f} s" for brief, seconds in ordered)
    console.print(f"times: {escape(times)} · total {total:.2f} s")
    return result


def translations(console: Console, results: Sequence[Translation]) -> None:
    """Each translation (or its error) under a dim line with its language and route, then
    its confidence, the glossary terms it kept and its warnings."""
    for index, item in enumerate(results):
        route = route_text(item.route)
        head = f"[{index}] {item.source_language or '?'}" + (f": {route}" if route else "")
        console.print(head, style="dim", markup=False)
        if item.error is not None:
            console.print(item_error_markup(item.error))
        else:
            console.print(item.text, markup=False)
            console.print(trust_markup(item))


def detections(texts: Sequence[str], found: Sequence[DetectedLanguage]) -> None:
    """Tab-separated lines, for scripts: language, confidence, reliability, text start."""
    for text, d in zip(texts, found, strict=True):
        trust = "reliable" if d.reliable else "unreliable"
        start = " ".join(text.split())[:60]
        typer.echo("\t".join((d.language or "?", f"{d.confidence:.2f}", trust, start)))


def _languages(m: ModelInfo) -> str:
    if m.pairs and len(m.pairs) <= 4:
        return ", ".join(f"{p.source_language}→{p.target_language}" for p in m.pairs)
    langs = m.languages or m.summary_languages
    return ", ".join(langs[:10]) + (f" … ({len(langs)})" if len(langs) > 10 else "")


def models_table(console: Console, caps: Capabilities) -> None:
    """A table of the catalogue's models."""
    table = Table(title=f"models (pivot language: {caps.pivot_language or 'none'})")
    for column in ("id", "family", "tasks", "languages", "state", "license"):
        table.add_column(column, no_wrap=column in ("id", "family", "state"))
    for m in caps.models:
        failed = m.state == "failed" and m.state_detail
        state = f"{m.state}: {m.state_detail}" if failed else m.state
        row = (m.id, m.family, ", ".join(m.tasks), _languages(m), state, m.license)
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    limits = ", ".join(f"{f.name}={getattr(caps.limits, f.name)}" for f in fields(caps.limits))
    console.print(escape(f"limits: {limits}"), soft_wrap=True)
