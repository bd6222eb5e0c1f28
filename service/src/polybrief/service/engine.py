"""The engine: summarise, translate, detect and list capabilities over plain dataclasses.

It validates requests, routes them to models and runs the text pipeline. It never
imports grpc; the gRPC servicer converts messages to and from these types.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from polybrief.service import domain as d
from polybrief.service.context import NO_CONTEXT, CallContext
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
from polybrief.service.fanout import Part, completed
from polybrief.service.inference import (
    Runner,
    Summary,
    TranslatedText,
    summarize_sentences,
    translate_texts,
)
from polybrief.service.languages import language_name
from polybrief.service.models.catalog import ModelSpec
from polybrief.service.models.registry import ModelRegistry
from polybrief.service.quality.checks import combine
from polybrief.service.quality.glossary import Match, apply_terms, find_terms, pick_sentinel
from polybrief.service.quality.names import find_names
from polybrief.service.quality.review import review
from polybrief.service.routing import Plan, candidate_plans, plan_translation, summarizers
from polybrief.service.text.clean import has_letters
from polybrief.service.text.detect import detect_language
from polybrief.service.text.extractive import extract
from polybrief.service.text.markup import Placeholders
from polybrief.service.text.markup import html as markup_html
from polybrief.service.text.markup import markdown as markup_markdown
from polybrief.service.text.segment import Document, build_document, join_document
from polybrief.service.validation import (
    CleanSummarize,
    validate_detect,
    validate_summarize,
    validate_translate,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
#: The formatted inputs and their modules (``text.markup``).
MARKUP: dict[str, Any] = {d.HTML: markup_html, d.MARKDOWN: markup_markdown}
#: Languages written right to left: their HTML root gets dir="rtl".
RTL = frozenset({"ar", "he", "fa", "ur"})
# Markup placeholders are sentinels numbered from here, apart from the glossary's.
MARKUP_SENTINELS = 500

Detector = Callable[[str], d.Detection]
# Errors that end the whole request, not just the output they happened in.
_REQUEST_ERRORS = (InvalidRequest, Cancelled, DeadlineExpired, Overloaded)


def item_error(exc: PolybriefError) -> d.ItemError:
    """The per-item form of an error that spoils one output but not the request."""
    if isinstance(exc, ModelNotInstalled):
        return d.ItemError("MODEL_NOT_INSTALLED", str(exc), exc.model_id, exc.hint)
    if isinstance(exc, ModelLoadFailed):
        return d.ItemError("MODEL_FAILED", str(exc), exc.model_id, "check the server log")
    if isinstance(exc, UnsupportedRoute):
        return d.ItemError(exc.code, str(exc), "", "polybrief models list shows the routes served")
    if isinstance(exc, OutOfMemory):
        return d.ItemError("OUT_OF_MEMORY", str(exc), "", "send less text per call")
    return d.ItemError("FAILED", str(exc))


class Engine:
    """Summarisation and translation over a model registry."""

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        limits: d.Limits,
        runner: Runner,
        low_confidence: float,
        legs: Executor,
        detector: Detector = detect_language,
    ) -> None:
        self.registry = registry
        self.runner = runner
        self.catalog = registry.catalog
        self.limits = limits
        self.low_confidence = low_confidence
        self.detector = detector
        self.legs = legs
        self._sentinels: dict[tuple[str, ...], Callable[[int], str]] = {}

    def close(self) -> None:
        """Stops the inference thread; queued work fails with Overloaded."""
        self.runner.batcher.close()
        self.legs.shutdown(wait=False, cancel_futures=True)

    # ----------------------------------------------------------------- translate
    def translate(
        self, request: d.TranslateRequest, context: CallContext = NO_CONTEXT
    ) -> d.TranslateResult:
        """Translates every text (side by side); per-item routing problems are reported
        per item."""
        results: dict[int, d.Translation] = {}
        target = ""
        for event in self.stream_translate(request, context):
            if isinstance(event, d.Ready):
                results[event.index] = event.output
            else:
                target = event.target_language
        return d.TranslateResult(tuple(results[i] for i in sorted(results)), target)

    def stream_translate(
        self, request: d.TranslateRequest, context: CallContext = NO_CONTEXT
    ) -> Iterator[d.TranslateEvent]:
        """``translate``, one event per item as it completes, then ``TranslationDone``.
        The request is validated here, before the first event."""
        req = validate_translate(request, self.limits)
        forced = self._model_for(req.model, "translate", "model") if req.model else None
        terms = Terms(req.glossary, req.glossary_ignore_case)

        def item(text: str) -> Part[d.Translation]:
            return lambda part: self._translate_item(
                text, req.source_language, req.target_language, forced, terms, part, req.mime_type
            )

        def events() -> Iterator[d.TranslateEvent]:
            parts = [item(text) for text in req.texts]
            for index, translation in completed(self.legs, parts, context):
                yield d.Ready(index, translation)
            yield d.TranslationDone(req.target_language)

        return events()

    def _translate_item(
        self,
        text: str,
        source: str,
        target: str,
        forced: ModelSpec | None,
        terms: Terms,
        context: CallContext,
        mime_type: str = d.PLAIN,
    ) -> d.Translation:
        readable = text if mime_type == d.PLAIN else MARKUP[mime_type].plain_text(text)
        detected = None
        if not source:
            detected = self.detector(readable)
            source = detected.language
        if not has_letters(readable) or not source:
            applied = _found(readable, terms)
            route = d.Route(d.RouteKind.IDENTITY)
            return d.Translation(
                text, source, route, detected, confidence=1.0, applied_terms=applied
            )
        if mime_type == d.PLAIN:
            outcome = self._translated(text, source, target, forced, "model", terms, context)
        else:
            outcome = self._translated_markup(
                text, readable, source, target, forced, terms, context, mime_type
            )
        if isinstance(outcome, d.ItemError):
            return d.Translation("", source, d.Route(None), detected, outcome)
        return d.Translation(
            outcome.text,
            source,
            outcome.route,
            detected,
            confidence=outcome.confidence,
            warnings=outcome.warnings,
            applied_terms=outcome.applied_terms,
        )

    def _translated(
        self,
        text: str,
        source: str,
        target: str,
        forced: ModelSpec | None,
        field: str,
        terms: Terms,
        context: CallContext,
    ) -> Output | d.ItemError:
        """``text`` in ``target`` with its route, confidence and warnings, or the error of
        this one output.

        ``_REQUEST_ERRORS`` end the request, and so does a missing model the request named
        (``forced``, in ``field``); any other error only spoils this output. An output
        that reads as another language is redone once on another route when the catalogue
        has one; it keeps the warning otherwise.
        """
        try:
            plan = self._plan(source, target, forced, field)
            output = self._reviewed(plan, text, source, target, terms, context)
            if forced is None and _has(output, d.WarningCode.WRONG_LANGUAGE):
                for other in self._other_plans(plan, source, target)[:1]:
                    try:
                        retried = self._reviewed(other, text, source, target, terms, context)
                    except PolybriefError as exc:
                        if isinstance(exc, _REQUEST_ERRORS):
                            raise
                        log.warning("retry on %s failed: %s", other.kind, exc)
                        break  # the first output, with its warning, is still an answer
                    if not _has(retried, d.WarningCode.WRONG_LANGUAGE):
                        return _rerouted(retried, output, plan, other, target)
            return output
        except PolybriefError as exc:
            return _for_the_item(exc, forced)

    def _translated_markup(
        self,
        text: str,
        readable: str,
        source: str,
        target: str,
        forced: ModelSpec | None,
        terms: Terms,
        context: CallContext,
        mime_type: str,
    ) -> Output | d.ItemError:
        """An HTML or Markdown document translated with its structure kept
        (``text.markup``): its units in one batch through ``plan``, inline markup masked
        with placeholders in the sentinel form the models keep; units whose placeholders
        did not survive are redone piece by piece, and the output says so
        (MARKUP_FALLBACK). The whole readable output is then checked like a translation
        (no retry on another route)."""
        try:
            plan = self._plan(source, target, forced, "model")
            sentinel = self._sentinel(plan)
            placeholders = Placeholders(
                lambda i: sentinel(MARKUP_SENTINELS + 2 * i),
                lambda i: sentinel(MARKUP_SENTINELS + 2 * i + 1),
            )
            pieces: list[Output] = []

            def batch(units: Sequence[str]) -> list[str]:
                if terms.terms:  # each unit through the glossary machinery
                    done = [self._with_terms(plan, unit, terms, context) for unit in units]
                else:
                    results, route = self._run_plan(plan, list(units), context)
                    done = [
                        Output(r.text, route, (), confidence=r.confidence, warnings=r.warnings)
                        for r in results
                    ]
                pieces.extend(done)
                return [output.text for output in done]

            module = MARKUP[mime_type]
            direction = {"rtl": target in RTL} if mime_type == d.HTML else {}
            rebuilt = module.translate_document(text, batch, placeholders, **direction)
        except PolybriefError as exc:
            return _for_the_item(exc, forced)
        warnings = [w for piece in pieces for w in piece.warnings]
        if rebuilt.fallbacks:
            shown = "; ".join(rebuilt.fallbacks[:5])
            more = f" (+{len(rebuilt.fallbacks) - 5} more)" if len(rebuilt.fallbacks) > 5 else ""
            warnings.append(
                d.QualityWarning(
                    d.WarningCode.MARKUP_FALLBACK,
                    f"{len(rebuilt.fallbacks)} of {rebuilt.units} units translated piece by "
                    f"piece between their tags: {shown}{more}",
                )
            )
        confidence = combine([p.confidence for p in pieces], [len(p.text) for p in pieces])
        route = pieces[0].route if pieces else d.Route(plan.kind, (), plan.pivot)
        if self.runner.guards and pieces:
            found = self._review(
                readable, module.plain_text(rebuilt.text), source, target, confidence
            )
            warnings.extend(found)
            self._warned(found, plan.models())
        applied = tuple(dict.fromkeys(t for p in pieces for t in p.applied_terms))
        return Output(
            rebuilt.text,
            route,
            (),
            confidence=confidence,
            warnings=tuple(warnings),
            applied_terms=applied,
        )

    def _other_plans(self, plan: Plan, source: str, target: str) -> list[Plan]:
        """Usable routes for the pair other than ``plan`` (multilingual, pivot, ...)."""
        return [
            other
            for other in candidate_plans(self.catalog, source, target)
            if other.models() != plan.models()
            and all(self.registry.usable(m) for m in other.models())
        ]

    def _reviewed(
        self, plan: Plan, text: str, source: str, target: str, terms: Terms, context: CallContext
    ) -> Output:
        """``plan`` run on ``text`` with the terms kept, and the whole output checked."""
        output = self._with_terms(plan, text, terms, context)
        if not self.runner.guards or plan.kind is d.RouteKind.IDENTITY:
            return output
        warnings = self._review(
            text, output.text, source, target, output.confidence, output.expected
        )
        self._warned(warnings, plan.models())
        return dataclasses.replace(output, warnings=(*output.warnings, *warnings))

    def _review(
        self,
        source_text: str,
        output: str,
        source: str,
        target: str,
        confidence: float,
        expected: Sequence[str] = (),
    ) -> tuple[d.QualityWarning, ...]:
        """The whole-output checks of ``output`` (``review``), its language detected here."""
        detected = self.detector(output) if has_letters(output) else None
        found = review(
            source_text,
            output,
            source_language=source,
            target_language=target,
            confidence=confidence,
            detected=detected,
            low_confidence=self.low_confidence,
            expected_terms=expected,
        )
        return tuple(found)

    def _warned(self, warnings: Sequence[d.QualityWarning], models: Sequence[ModelSpec]) -> None:
        """Counts each of ``warnings`` against every model that made the output."""
        for warning in warnings:
            for model in models:
                self.runner.telemetry.output_warned(model.id, warning.code.value)

    def _with_terms(self, plan: Plan, text: str, terms: Terms, context: CallContext) -> Output:
        """Runs ``plan`` on ``text``; glossary terms found in it come out verbatim, by
        masking them with sentinels when the model keeps those, else by translating the
        text around them (``quality.glossary``)."""
        matches = find_terms(text, terms.terms, ignore_case=terms.ignore_case)
        if not matches or plan.kind is d.RouteKind.IDENTITY:
            [result], route = self._run_plan(plan, [text], context)
            applied = tuple(dict.fromkeys(m.term.source for m in matches))
            return Output(
                result.text,
                route,
                (),
                confidence=result.confidence,
                warnings=result.warnings,
                applied_terms=applied,
            )
        calls: list[tuple[list[TranslatedText], d.Route, list[str]]] = []

        def translate(pieces: Sequence[str]) -> list[str]:
            results, route = self._run_plan(plan, pieces, context)
            calls.append((results, route, list(pieces)))
            return [result.text for result in results]

        done = apply_terms(text, matches, translate, self._sentinel(plan))
        if not done.masked:
            log.info(
                "glossary: %s did not keep the term placeholders; translated around %d term(s)",
                "+".join(m.id for m in plan.models()),
                len(matches),
            )
        results, route, pieces = calls[-1]
        confidence = combine([r.confidence for r in results], [len(p) for p in pieces])
        warnings = tuple(w for r in results for w in r.warnings)
        expected = tuple(_term_output(text, m) for m in matches)
        return Output(
            done.text,
            route,
            expected,
            confidence=confidence,
            warnings=warnings,
            applied_terms=done.applied,
        )

    def _sentinel(self, plan: Plan) -> Callable[[int], str]:
        """The sentinel format that every model of ``plan`` round-trips intact."""
        key = tuple(m.id for m in plan.models())
        if key not in self._sentinels:
            tokenizers = [self.registry.get(m.id).tokenizer for m in plan.models()]

            def roundtrip(sample: str) -> str:
                for tokenizer in tokenizers:
                    ids = tokenizer(sample)["input_ids"]
                    sample = tokenizer.decode(ids, skip_special_tokens=True)
                return str(sample)

            self._sentinels[key] = pick_sentinel(roundtrip)
        return self._sentinels[key]

    def _plan(self, source: str, target: str, forced: ModelSpec | None, field: str) -> Plan:
        try:
            return plan_translation(self.catalog, source, target, self.registry.usable, forced)
        except UnsupportedRoute as exc:
            if forced is not None:
                raise _invalid(field, str(exc)) from exc
            raise

    def _run_plan(
        self, plan: Plan, texts: Sequence[str], context: CallContext
    ) -> tuple[list[TranslatedText], d.Route]:
        """``texts`` through every hop of ``plan`` (their segments batched together); a
        text's confidence is the product of its hops', its warnings those of all hops."""
        steps: list[d.Step] = []
        results = [TranslatedText(text, 0, 1.0, ()) for text in texts]
        for hop in plan.hops:
            loaded = self.registry.get(hop.spec.id)
            hop_results = translate_texts(
                self.runner, loaded, [r.text for r in results], hop.source, hop.target, context
            )
            results = [
                TranslatedText(
                    new.text,
                    new.segments,
                    old.confidence * new.confidence,
                    (*old.warnings, *new.warnings),
                )
                for old, new in zip(results, hop_results, strict=True)
            ]
            segments = sum(r.segments for r in hop_results)
            steps.append(
                d.Step(d.StepKind.TRANSLATE, hop.spec.id, hop.source, hop.target, segments)
            )
        return results, d.Route(plan.kind, tuple(steps), plan.pivot)

    def _model_for(self, model_id: str, task: str, field: str) -> ModelSpec:
        spec = self.registry.spec(model_id)
        if task not in spec.tasks:
            tasks = ", ".join(spec.tasks)
            raise _invalid(field, f"model {model_id!r} does not {task} (tasks: {tasks})")
        return spec

    # ----------------------------------------------------------------- summarise
    def summarize(
        self, request: d.SummarizeRequest, context: CallContext = NO_CONTEXT
    ) -> d.SummarizeResult:
        """One brief per target language, their legs side by side (see ``stream_summarize``)."""
        briefs: dict[int, d.Brief] = {}
        done: d.SummaryDone | None = None
        for event in self.stream_summarize(request, context):
            if isinstance(event, d.Ready):
                briefs[event.index] = event.output
            else:
                done = event
        if done is None:  # the stream always ends with its report
            raise RuntimeError("summary stream ended without its report")
        ordered = tuple(briefs[i] for i in sorted(briefs))
        return d.SummarizeResult(ordered, done.source_language, done.detected, done.pipeline)

    def stream_summarize(
        self, request: d.SummarizeRequest, context: CallContext = NO_CONTEXT
    ) -> Iterator[d.SummarizeEvent]:
        """The briefs, one event each as it completes, then ``SummaryDone``.

        Each target language is a leg, all legs run side by side: either the source is
        summarised once (shared by the legs that need it) and translated, or a
        cross-lingual summariser writes the brief straight in the target (``_route_for``).
        The request is validated here, before the first event.
        """
        job = self._brief_job(request)
        shared = _Once(lambda part: self._summary(job, part))
        stats: list[Summarized] = []

        def leg(target: str) -> Part[d.Brief]:
            return lambda part: self._leg(job, shared, target, stats, part)

        def events() -> Iterator[d.SummarizeEvent]:
            parts = [leg(target) for target in job.targets]
            for index, brief in completed(self.legs, parts, context):
                yield d.Ready(index, brief)
            yield d.SummaryDone(job.source, job.detected, job.report(shared.value or stats[0]))

        return events()

    def _brief_job(self, request: d.SummarizeRequest) -> BriefJob:
        """The validated request, its source language (detected when not given), its
        document and the models it names."""
        req = validate_summarize(request, self.limits)
        if req.mime_type != d.PLAIN:  # briefed from the readable text, answered in plain text
            readable = MARKUP[req.mime_type].plain_text(req.text)
            if not has_letters(readable):
                raise _invalid("text", f"the {req.mime_type} document has no readable text")
            req = dataclasses.replace(req, text=readable)
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
        return BriefJob(
            req,
            source,
            detected,
            build_document(req.text, source),
            summary_model,
            translation_model,
            Terms(req.glossary, req.glossary_ignore_case),
        )

    def _leg(
        self,
        job: BriefJob,
        shared: _Once[Summarized],
        target: str,
        stats: list[Summarized],
        context: CallContext,
    ) -> d.Brief:
        """The brief in ``target``: straight from a cross-lingual summariser when the
        catalogue prefers one and its output is in ``target``, else the shared summary
        translated (with a REROUTED warning when the direct one failed the check)."""
        rerouted: tuple[d.QualityWarning, ...] = ()
        spec = self._route_for(job, target)
        if spec is not None:
            direct = self._direct_summary(job, spec, target, context)
            stats.append(direct)
            wrong = [w for w in direct.warnings if w.code is d.WarningCode.WRONG_LANGUAGE]
            if not wrong:
                route = d.Route(d.RouteKind.CROSS_LINGUAL, (direct.step,))
                return d.Brief(
                    target,
                    direct.text,
                    d.Mode.ABSTRACTIVE,
                    route,
                    confidence=direct.confidence,
                    warnings=direct.warnings,
                )
            looks = wrong[0].detected_language
            how = f"redone by summarising in {job.source}, then translating"
            rerouted = (
                _rerouted_warning(f"the cross-lingual summary by {spec.id}", looks, target, how),
            )
            self._warned(rerouted, [spec])
        summary = shared.get(context)
        brief = self._brief(summary, job.source, target, job.translation_model, job.terms, context)
        if rerouted:
            brief = dataclasses.replace(brief, warnings=(*rerouted, *brief.warnings))
        return brief

    def _route_for(self, job: BriefJob, target: str) -> ModelSpec | None:
        """The cross-lingual summariser that writes the ``target`` brief directly, or None
        for summarise-then-translate: the first usable summariser for the source in
        catalogue order decides (or the one the request names). Never for a brief in the
        source language, an extractive one, one whose translation model is named, or a
        glossary with terms in the text (only a translation leg keeps them verbatim)."""
        req = job.request
        if target == job.source or req.mode is not d.Mode.ABSTRACTIVE or job.translation_model:
            return None
        if job.terms.terms and find_terms(
            req.text, job.terms.terms, ignore_case=job.terms.ignore_case
        ):
            return None
        if job.summary_model is not None:
            forced = job.summary_model
            return (
                forced if forced.cross_lingual and forced.summarizes(job.source, target) else None
            )
        for spec in summarizers(self.catalog, job.source):
            if self.registry.usable(spec):
                return spec if spec.cross_lingual and spec.summarizes(job.source, target) else None
        return None

    def _direct_summary(
        self, job: BriefJob, spec: ModelSpec, target: str, context: CallContext
    ) -> Summarized:
        """The article summarised by ``spec`` straight into ``target``; its language is
        always checked (whatever ``quality_guards`` says): a wrong one is rerouted."""
        loaded = self.registry.get(spec.id)
        sentences = job.document.sentences
        summary = summarize_sentences(
            self.runner, loaded, sentences, job.source, job.request.max_words, context, target
        )
        step = d.Step(d.StepKind.SUMMARIZE, spec.id, job.source, target, summary.chunks)
        warnings = summary.warnings + self._review(
            "", summary.text, job.source, target, summary.confidence
        )
        self._warned(warnings, [spec])
        return Summarized.abstractive(summary, step, warnings)

    def _summary(self, job: BriefJob, context: CallContext) -> Summarized:
        """The source-language summary, abstractive when a summariser can run, else
        extractive (with the reason)."""
        document, language, max_words = job.document, job.source, job.request.max_words
        mode, forced = job.request.mode, job.summary_model
        reason = ""
        if mode is d.Mode.ABSTRACTIVE:
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
                step = d.Step(d.StepKind.SUMMARIZE, spec.id, language, language, summary.chunks)
                warnings = summary.warnings
                if self.runner.guards:
                    warnings += self._review(
                        "", summary.text, language, language, summary.confidence
                    )
                    self._warned(warnings, [spec])
                return Summarized.abstractive(summary, step, warnings)
        chosen = extract(document.sentences, max_words)
        text = join_document([chosen], language)
        step = d.Step(d.StepKind.EXTRACT, "", language, language, len(chosen))
        # extractive: the source's own sentences, so as trustworthy as the source
        return Summarized(text, step, d.Mode.EXTRACTIVE, reason, 0, 0, 1.0, ())

    def _brief(
        self,
        summary: Summarized,
        source: str,
        target: str,
        forced: ModelSpec | None,
        terms: Terms,
        context: CallContext,
    ) -> d.Brief:
        """The brief in ``target``: the summary translated, with the glossary's terms and
        the summary's names (``quality.names``) kept verbatim."""
        protected = terms.with_names(find_names(summary.text)) if target != source else terms
        outcome = self._translated(
            summary.text, source, target, forced, "translation_model", protected, context
        )
        if isinstance(outcome, d.ItemError):
            route = d.Route(None, (summary.step,))
            return d.Brief(target, "", summary.mode, route, summary.reason, outcome)
        route = d.Route(
            outcome.route.kind, (summary.step, *outcome.route.steps), outcome.route.pivot_language
        )
        return d.Brief(
            target,
            outcome.text,
            summary.mode,
            route,
            summary.reason,
            confidence=summary.confidence * outcome.confidence,
            warnings=(*_of_summary(summary, translated=target != source), *outcome.warnings),
            applied_terms=outcome.applied_terms,
        )

    # ----------------------------------------------------------------- detect
    def detect(self, texts: Sequence[str]) -> list[d.Detection]:
        """Language of each text, with confidence."""
        return [self.detector(text) for text in validate_detect(tuple(texts), self.limits)]

    # ----------------------------------------------------------------- listing
    def capabilities(self) -> d.Capabilities:
        """Languages, models (with their state), routes and limits."""
        models = []
        for spec in self.catalog.models:
            state, detail = self.registry.state(spec)
            models.append(d.ModelInfo(spec, state, detail, self.registry.window(spec)))
        codes = sorted({c for spec in self.catalog.models for c in spec.all_languages()})
        languages = []
        for code in codes:
            others = [c for c in codes if c != code]
            languages.append(
                d.LanguageInfo(
                    code=code,
                    name=_safe_name(code),
                    translate_source=any(candidate_plans(self.catalog, code, o) for o in others),
                    translate_target=any(candidate_plans(self.catalog, o, code) for o in others),
                    summarize_abstractive=bool(summarizers(self.catalog, code)),
                )
            )
        return d.Capabilities(
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
    return InvalidRequest([d.FieldViolation(field, description)])


def _safe_name(code: str) -> str:
    try:
        return language_name(code)
    except ValueError:
        return code


@dataclass(frozen=True)
class Terms:
    """The terms an output must keep: the request's glossary (and, for briefs, names)."""

    terms: tuple[d.GlossaryTerm, ...] = ()
    ignore_case: bool = False

    def with_names(self, names: Sequence[str]) -> Terms:
        """These terms, then ``names`` kept as they are (a glossary entry wins)."""
        known = {t.source.casefold() for t in self.terms}
        extra = tuple(d.GlossaryTerm(n) for n in names if n.casefold() not in known)
        return Terms((*self.terms, *extra), self.ignore_case)


@dataclass(frozen=True)
class BriefJob:
    """A validated Summarize request and what its legs share."""

    request: CleanSummarize
    source: str
    detected: d.Detection | None
    document: Document
    summary_model: ModelSpec | None
    translation_model: ModelSpec | None
    terms: Terms

    @property
    def targets(self) -> tuple[str, ...]:
        return self.request.target_languages or (self.source,)

    def report(self, summary: Summarized) -> d.PipelineReport:
        """What the pipeline did, with the map-reduce figures of ``summary``."""
        req, document = self.request, self.document
        return d.PipelineReport(
            input_characters=req.input_characters,
            removed_control_characters=req.removed_control_characters,
            paragraphs=document.paragraph_count,
            duplicate_paragraphs_removed=document.duplicate_paragraphs_removed,
            duplicate_sentences_removed=document.duplicate_sentences_removed,
            sentences=document.sentence_count,
            chunks_summarized=summary.chunks,
            reduce_rounds=summary.rounds,
        )


class _Once(Generic[T]):
    """A value computed by the first leg that needs it; the others wait for it (or get
    its error)."""

    def __init__(self, make: Callable[[CallContext], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self.value: T | None = None
        self._error: BaseException | None = None

    def get(self, context: CallContext) -> T:
        with self._lock:
            if self._error is not None:
                raise self._error
            if self.value is None:
                try:
                    self.value = self._make(context)
                except BaseException as exc:
                    self._error = exc
                    raise
            return self.value


@dataclass(frozen=True)
class Output(d.Assessment):
    """A translated output and how far to trust it."""

    text: str
    route: d.Route
    expected: tuple[str, ...]  # what each found term must read as in the output


@dataclass(frozen=True)
class Summarized:
    """The summary leg of the briefs."""

    text: str
    step: d.Step
    mode: d.Mode
    reason: str
    chunks: int
    rounds: int
    confidence: float
    warnings: tuple[d.QualityWarning, ...]

    @classmethod
    def abstractive(
        cls, summary: Summary, step: d.Step, warnings: tuple[d.QualityWarning, ...]
    ) -> Summarized:
        """A model's summary as the leg that wrote it, with all its warnings."""
        m = summary
        return cls(m.text, step, d.Mode.ABSTRACTIVE, "", m.chunks, m.rounds, m.confidence, warnings)


def _of_summary(summary: Summarized, *, translated: bool) -> tuple[d.QualityWarning, ...]:
    """The summary leg's warnings, named as such in a brief that was then translated."""
    if not translated:
        return summary.warnings
    return tuple(
        dataclasses.replace(w, message=f"summary ({summary.step.source_language}): {w.message}")
        for w in summary.warnings
    )


def _rerouted(retried: Output, first: Output, plan: Plan, other: Plan, target: str) -> Output:
    """``retried`` with the REROUTED warning that says why ``plan`` was left."""
    [looks, *_] = [
        w.detected_language for w in first.warnings if w.code is d.WarningCode.WRONG_LANGUAGE
    ]
    models = "+".join(m.id for m in plan.models())
    how = f"redone on the {other.kind.value} route"
    note = _rerouted_warning(f"the output of {models}", looks, target, how)
    return dataclasses.replace(retried, warnings=(note, *retried.warnings))


def _rerouted_warning(what: str, looks: str, target: str, how: str) -> d.QualityWarning:
    """REROUTED: ``what`` read as ``looks`` (a language code, or "" when unsure), not
    ``target``, and ``how`` it was redone."""
    return d.QualityWarning(
        d.WarningCode.REROUTED,
        f"{what} read as {looks or 'another language'}, not {target}: {how}",
        detected_language=looks,
    )


def _for_the_item(exc: PolybriefError, forced: ModelSpec | None) -> d.ItemError:
    """The error of one output, or ``exc`` raised when it ends the whole request: one of
    ``_REQUEST_ERRORS``, or a missing model that the request named."""
    if isinstance(exc, _REQUEST_ERRORS) or (
        isinstance(exc, ModelNotInstalled) and forced is not None
    ):
        raise exc
    return item_error(exc)


def _has(output: Output, code: d.WarningCode) -> bool:
    return any(w.code is code for w in output.warnings)


def _found(text: str, terms: Terms) -> tuple[str, ...]:
    matches = find_terms(text, terms.terms, ignore_case=terms.ignore_case)
    return tuple(dict.fromkeys(m.term.source for m in matches))


def _term_output(text: str, match: Match) -> str:
    """What a matched term reads as in the output: its target, or the source's own text."""
    return match.term.target or text[match.start : match.end]
