"""Converts protobuf messages to engine dataclasses and back; nothing else."""

from __future__ import annotations

import dataclasses

from polybrief.service import domain as d
from polybrief.v1 import polybrief_pb2 as pb

_MODE_IN = {
    pb.SUMMARY_MODE_UNSPECIFIED: d.Mode.ABSTRACTIVE,
    pb.SUMMARY_MODE_ABSTRACTIVE: d.Mode.ABSTRACTIVE,
    pb.SUMMARY_MODE_EXTRACTIVE: d.Mode.EXTRACTIVE,
}
_MODE_OUT = {
    d.Mode.ABSTRACTIVE: pb.SUMMARY_MODE_ABSTRACTIVE,
    d.Mode.EXTRACTIVE: pb.SUMMARY_MODE_EXTRACTIVE,
}
_STEP = {
    d.StepKind.SUMMARIZE: pb.STEP_KIND_SUMMARIZE,
    d.StepKind.EXTRACT: pb.STEP_KIND_EXTRACT,
    d.StepKind.TRANSLATE: pb.STEP_KIND_TRANSLATE,
}
_ROUTE = {
    None: pb.ROUTE_KIND_UNSPECIFIED,
    d.RouteKind.IDENTITY: pb.ROUTE_KIND_IDENTITY,
    d.RouteKind.DIRECT: pb.ROUTE_KIND_DIRECT,
    d.RouteKind.MULTILINGUAL: pb.ROUTE_KIND_MULTILINGUAL,
    d.RouteKind.PIVOT: pb.ROUTE_KIND_PIVOT,
}
_STATE = {
    d.ModelState.NOT_INSTALLED: pb.MODEL_STATE_NOT_INSTALLED,
    d.ModelState.INSTALLED: pb.MODEL_STATE_INSTALLED,
    d.ModelState.LOADED: pb.MODEL_STATE_LOADED,
    d.ModelState.FAILED: pb.MODEL_STATE_FAILED,
}


def summarize_request(msg: pb.SummarizeRequest) -> d.SummarizeRequest:
    return d.SummarizeRequest(
        text=msg.text,
        target_languages=tuple(msg.target_languages),
        source_language=msg.source_language,
        max_words=msg.max_words,
        # An enum value unknown to this server version is read as the default mode.
        mode=_MODE_IN.get(msg.mode, d.Mode.ABSTRACTIVE),
        model=msg.model,
        translation_model=msg.translation_model,
    )


def translate_request(msg: pb.TranslateRequest) -> d.TranslateRequest:
    return d.TranslateRequest(
        texts=tuple(msg.texts),
        target_language=msg.target_language,
        source_language=msg.source_language,
        model=msg.model,
    )


def route(value: d.Route) -> pb.Route:
    return pb.Route(
        kind=_ROUTE[value.kind],
        pivot_language=value.pivot_language,
        steps=[
            pb.Step(
                kind=_STEP[s.kind],
                model=s.model,
                source_language=s.source_language,
                target_language=s.target_language,
                segments=s.segments,
            )
            for s in value.steps
        ],
    )


def item_error(value: d.ItemError | None) -> pb.ItemError | None:
    if value is None:
        return None
    return pb.ItemError(code=value.code, message=value.message, model=value.model, hint=value.hint)


def detection(value: d.Detection | None) -> pb.DetectedLanguage | None:
    return None if value is None else _detection(value)


def _detection(value: d.Detection) -> pb.DetectedLanguage:
    return pb.DetectedLanguage(
        language=value.language,
        confidence=value.confidence,
        reliable=value.reliable,
        candidates=[pb.LanguageGuess(language=c, confidence=p) for c, p in value.candidates],
    )


def summarize_response(value: d.SummarizeResult) -> pb.SummarizeResponse:
    p = value.pipeline
    return pb.SummarizeResponse(
        source_language=value.source_language,
        detected_language=detection(value.detected),
        pipeline=pb.PipelineReport(
            input_characters=p.input_characters,
            removed_control_characters=p.removed_control_characters,
            paragraphs=p.paragraphs,
            duplicate_paragraphs_removed=p.duplicate_paragraphs_removed,
            duplicate_sentences_removed=p.duplicate_sentences_removed,
            sentences=p.sentences,
            chunks_summarized=p.chunks_summarized,
            reduce_rounds=p.reduce_rounds,
        ),
        briefs=[
            pb.Brief(
                language=b.language,
                text=b.text,
                mode=_MODE_OUT[b.mode],
                fallback_reason=b.fallback_reason,
                route=route(b.route),
                error=item_error(b.error),
            )
            for b in value.briefs
        ],
    )


def translate_response(value: d.TranslateResult) -> pb.TranslateResponse:
    return pb.TranslateResponse(
        target_language=value.target_language,
        translations=[
            pb.Translation(
                text=t.text,
                source_language=t.source_language,
                detected_language=detection(t.detected),
                route=route(t.route),
                error=item_error(t.error),
            )
            for t in value.translations
        ],
    )


def detect_response(values: list[d.Detection]) -> pb.DetectLanguageResponse:
    return pb.DetectLanguageResponse(detections=[_detection(v) for v in values])


def capabilities_response(value: d.Capabilities) -> pb.ListCapabilitiesResponse:
    lim = value.limits
    return pb.ListCapabilitiesResponse(
        pivot_language=value.pivot_language,
        languages=[
            pb.LanguageInfo(
                code=lang.code,
                name=lang.name,
                translate_source=lang.translate_source,
                translate_target=lang.translate_target,
                summarize_abstractive=lang.summarize_abstractive,
            )
            for lang in value.languages
        ],
        models=[
            pb.ModelInfo(
                id=m.id,
                family=m.family,
                tasks=m.tasks,
                source=m.source,
                revision=m.revision,
                license=m.license,
                pairs=[
                    pb.LanguagePair(source_language=p.source, target_language=p.target)
                    for p in m.pairs
                ],
                summary_languages=m.summary_languages,
                languages=m.languages,
                state=_STATE[m.state],
                state_detail=m.state_detail,
                max_input_tokens=m.max_input_tokens,
            )
            for m in value.models
        ],
        limits=pb.Limits(**dataclasses.asdict(lim)),
    )
