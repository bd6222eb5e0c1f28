"""The engine: summarise, translate, detect and list capabilities over plain dataclasses.

It validates requests, routes them to models and runs the text pipeline. It never
imports grpc; the gRPC servicer converts messages to and from these types.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from polybrief.service.context import NO_CONTEXT, CallContext
from polybrief.service.domain import (
    Brief,
    Capabilities,
    Detection,
    FieldViolation,
    ItemError,
    LanguageInfo,
    LanguagePair,
    Limits,
    Mode,
    ModelInfo,
    PipelineReport,
    Route,
    RouteKind,
    Step,
    StepKind,
    SummarizeRequest,
    SummarizeResult,
    TranslateRequest,
    TranslateResult,
    Translation,
)
from polybrief.service.errors import (
    Cancelled,
    DeadlineExpired,
    InvalidRequest,
    ModelLoadFailed,
    ModelNotInstalled,
    OutOfMemory,
    Overloaded,
    PolybriefError,
    UnsupportedRoute,
)
from polybrief.service.inference import Runner, summarize_sentences, translate_text
from polybrief.service.languages import language_name
from polybrief.service.models.catalog import ModelSpec
from polybrief.service.models.registry import ModelRegistry
from polybrief.service.routing import Plan, candidate_plans, plan_translation, summarizers
from polybrief.service.text.clean import has_letters
from polybrief.service.text.detect import detect_language
from polybrief.service.text.extractive import extract
from polybrief.service.text.segment import Document, build_document, join_document
from polybrief.service.validation import validate_detect, validate_summarize, validate_translate

log = logging.getLogger(__name__)

Detector = Callable[[str], Detection]
# Errors that end the whole request, not just the output they happened in.
_REQUEST_ERRORS = (InvalidRequest, Cancelled, DeadlineExpired, Overloaded)


def item_error(exc: PolybriefError) -> ItemError:
    """The per-item form of an error that spoils one output but not the request."""
    if isinstance(exc, ModelNotInstalled):
        return ItemError("MODEL_NOT_INSTALLED", str(exc), exc.model_id, exc.hint)
    if isinstance(exc, ModelLoadFailed):
        return ItemError("MODEL_FAILED", str(exc), exc.model_id, "check the server log")
    if isinstance(exc, UnsupportedRoute):
        return ItemError(exc.code, str(exc), "", "polybrief models list shows the routes served")
    if isinstance(exc, OutOfMemory):
        return ItemError("OUT_OF_MEMORY", str(exc), "", "send less text per call")
    return ItemError("FAILED", str(exc))


class Engine:
    """Summarisation and translation over a model registry."""

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        limits: Limits,
        runner: Runner,
        detector: Detector = detect_language,
    ) -> None:
        self.registry = registry
        self.runner = runner
        self.catalog = registry.catalog
        self.limits = limits
        self.detector = detector

    def close(self) -> None:
        """Stops the inference thread; queued work fails with Overloaded."""
        self.runner.batcher.close()

    # ----------------------------------------------------------------- translate
    def translate(
        self, request: TranslateRequest, context: CallContext = NO_CONTEXT
    ) -> TranslateResult:
        """Translates every text; per-item routing problems are reported per item."""
        req = validate_translate(request, self.limits)
        forced = self._model_for(req.model, "translate", "model") if req.model else None
        results = [
            self._translate_item(text, req.source_language, req.target_language, forced, context)
            for text in req.texts
        ]
        return TranslateResult(tuple(results), req.target_language)

    def _translate_item(
        self, text: str, source: str, target: str, forced: ModelSpec | None, context: CallContext
    ) -> Translation:
        detected = None
        if not source:
            detected = self.detector(text)
            source = detected.language
        if not has_letters(text) or not source:
            return Translation(text, source, Route(RouteKind.IDENTITY), detected)
        outcome = self._translated(text, source, target, forced, "model", context)
        if isinstance(outcome, ItemError):
            return Translation("", source, Route(None), detected, outcome)
        translated, route = outcome
        return Translation(translated, source, route, detected)

    def _translated(
        self,
        text: str,
        source: str,
        target: str,
        forced: ModelSpec | None,
        field: str,
        context: CallContext,
    ) -> tuple[str, Route] | ItemError:
        """``text`` in ``target`` and its route, or the error of this one output.

        ``_REQUEST_ERRORS`` end the request, and so does a missing model the request named
        (``forced``, in ``field``); any other error only spoils this output.
        """
        try:
            return self._run_plan(self._plan(source, target, forced, field), text, context)
        except PolybriefError as exc:
            if isinstance(exc, _REQUEST_ERRORS):
                raise
            if isinstance(exc, ModelNotInstalled) and forced is not None:
                raise
            return item_error(exc)

    def _plan(self, source: str, target: str, forced: ModelSpec | None, field: str) -> Plan:
        try:
            return plan_translation(self.catalog, source, target, self.registry.usable, forced)
        except UnsupportedRoute as exc:
            if forced is not None:
                raise _invalid(field, str(exc)) from exc
            raise

    def _run_plan(self, plan: Plan, text: str, context: CallContext) -> tuple[str, Route]:
        steps: list[Step] = []
        for hop in plan.hops:
            loaded = self.registry.get(hop.spec.id)
            result = translate_text(self.runner, loaded, text, hop.source, hop.target, context)
            text = result.text
            steps.append(
                Step(StepKind.TRANSLATE, hop.spec.id, hop.source, hop.target, result.segments)
            )
        return text, Route(plan.kind, tuple(steps), plan.pivot)

    def _model_for(self, model_id: str, task: str, field: str) -> ModelSpec:
        spec = self.registry.spec(model_id)
        if task not in spec.tasks:
            tasks = ", ".join(spec.tasks)
            raise _invalid(field, f"model {model_id!r} does not {task} (tasks: {tasks})")
        return spec

    # ----------------------------------------------------------------- summarise
    def summarize(
        self, request: SummarizeRequest, context: CallContext = NO_CONTEXT
    ) -> SummarizeResult:
        """One brief per target language; the source is summarised once, then translated."""
        req = validate_summarize(request, self.limits)
        summary_model = self._model_for(req.model, "summarize", "model") if req.model else None
        translation_model = (
            self._model_for(req.translation_model, "translate", "translation_model")
            if req.translation_model
            else None
        )
        detected = None
        source = req.source_language
        if not source:
            detected = self.detector(req.text)
            source = detected.language
            if not source:
                raise _invalid("source_language", "could not detect the language; set it")
        if summary_model is not None and source not in summary_model.summary_languages:
            raise _invalid("model", f"model {summary_model.id!r} does not summarise {source!r}")
        document = build_document(req.text, source)
        text, step, mode, reason, chunks, rounds = self._summary(
            document, source, req.max_words, req.mode, summary_model, context
        )
        briefs = [
            self._brief(text, step, mode, reason, source, target, translation_model, context)
            for target in (req.target_languages or (source,))
        ]
        report = PipelineReport(
            input_characters=req.input_characters,
            removed_control_characters=req.removed_control_characters,
            paragraphs=document.paragraph_count,
            duplicate_paragraphs_removed=document.duplicate_paragraphs_removed,
            duplicate_sentences_removed=document.duplicate_sentences_removed,
            sentences=document.sentence_count,
            chunks_summarized=chunks,
            reduce_rounds=rounds,
        )
        return SummarizeResult(tuple(briefs), source, detected, report)

    def _summary(
        self,
        document: Document,
        language: str,
        max_words: int,
        mode: Mode,
        forced: ModelSpec | None,
        context: CallContext,
    ) -> tuple[str, Step, Mode, str, int, int]:
        """(text, step, mode used, fallback reason, chunks summarised, reduce rounds)."""
        reason = ""
        if mode is Mode.ABSTRACTIVE:
            specs = [forced] if forced else summarizers(self.catalog, language)
            usable = [s for s in specs if forced or self.registry.usable(s)]
            if not specs:
                reason = f"no abstractive summariser for {language!r} in the catalogue"
            elif not usable:
                reason = "; ".join(
                    f"summariser {s.id!r} is {self.registry.state(s)[0].value.replace('_', ' ')}"
                    f" ({s.pull_command})"
                    for s in specs
                )
            for spec in usable:
                try:
                    loaded = self.registry.get(spec.id)
                    summary = summarize_sentences(
                        self.runner, loaded, document.sentences, language, max_words, context
                    )
                except (ModelNotInstalled, ModelLoadFailed) as exc:
                    if forced is not None:
                        raise
                    reason = str(exc)
                    continue
                step = Step(StepKind.SUMMARIZE, spec.id, language, language, summary.chunks)
                return summary.text, step, Mode.ABSTRACTIVE, "", summary.chunks, summary.rounds
        chosen = extract(document.sentences, max_words)
        text = join_document([chosen], language)
        step = Step(StepKind.EXTRACT, "", language, language, len(chosen))
        return text, step, Mode.EXTRACTIVE, reason, 0, 0

    def _brief(
        self,
        summary: str,
        step: Step,
        mode: Mode,
        reason: str,
        source: str,
        target: str,
        forced: ModelSpec | None,
        context: CallContext,
    ) -> Brief:
        outcome = self._translated(summary, source, target, forced, "translation_model", context)
        if isinstance(outcome, ItemError):
            return Brief(target, "", mode, Route(None, (step,)), reason, outcome)
        text, route = outcome
        route = Route(route.kind, (step, *route.steps), route.pivot_language)
        return Brief(target, text, mode, route, reason)

    # ----------------------------------------------------------------- detect
    def detect(self, texts: Sequence[str]) -> list[Detection]:
        """Language of each text, with confidence."""
        return [self.detector(text) for text in validate_detect(tuple(texts), self.limits)]

    # ----------------------------------------------------------------- listing
    def capabilities(self) -> Capabilities:
        """Languages, models (with their state), routes and limits."""
        models = []
        for spec in self.catalog.models:
            state, detail = self.registry.state(spec)
            models.append(
                ModelInfo(
                    id=spec.id,
                    family=spec.family,
                    tasks=spec.tasks,
                    source=spec.source,
                    revision=spec.revision or "",
                    license=spec.license,
                    pairs=tuple(LanguagePair(s, t) for s, t in spec.translation_pairs()),
                    summary_languages=spec.summary_languages,
                    languages=spec.all_languages(),
                    state=state,
                    state_detail=detail,
                    max_input_tokens=self.registry.window(spec),
                )
            )
        codes = sorted({c for spec in self.catalog.models for c in spec.all_languages()})
        languages = []
        for code in codes:
            others = [c for c in codes if c != code]
            languages.append(
                LanguageInfo(
                    code=code,
                    name=_safe_name(code),
                    translate_source=any(candidate_plans(self.catalog, code, o) for o in others),
                    translate_target=any(candidate_plans(self.catalog, o, code) for o in others),
                    summarize_abstractive=bool(summarizers(self.catalog, code)),
                )
            )
        return Capabilities(
            tuple(languages), tuple(models), self.limits, self.catalog.pivot_language
        )

    def preload(self) -> list[str]:
        """Loads the catalogue's preload models that are installed; returns the failures."""
        failures = []
        for spec in self.catalog.models:
            if not spec.preload:
                continue
            if not self.registry.usable(spec):
                log.warning("not preloading %s: %s", spec.id, self.registry.state(spec)[1])
                continue
            try:
                self.registry.get(spec.id)
            except PolybriefError as exc:
                failures.append(f"{spec.id}: {exc}")
        return failures


def _invalid(field: str, description: str) -> InvalidRequest:
    return InvalidRequest([FieldViolation(field, description)])


def _safe_name(code: str) -> str:
    try:
        return language_name(code)
    except ValueError:
        return code
