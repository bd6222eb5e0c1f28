"""Converts protobuf messages to engine dataclasses and back; nothing else.

Fields are copied by name between a dataclass and its message (``_domain``,
``_message``); only enums, nested messages and renamed fields are written out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf.message import Message
from polybrief.service import domain as d
from polybrief.v1 import polybrief_pb2 as pb

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")
_M = TypeVar("_M", bound=Message)

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
    d.RouteKind.CROSS_LINGUAL: pb.ROUTE_KIND_CROSS_LINGUAL,
}
_STATE = {
    d.ModelState.NOT_INSTALLED: pb.MODEL_STATE_NOT_INSTALLED,
    d.ModelState.INSTALLED: pb.MODEL_STATE_INSTALLED,
    d.ModelState.LOADED: pb.MODEL_STATE_LOADED,
    d.ModelState.FAILED: pb.MODEL_STATE_FAILED,
}


def _domain(cls: type[_D], msg: Message, **given: Any) -> _D:
    """A ``cls`` whose fields are read from the fields of ``msg`` of the same name
    (repeated ones as tuples), except the ``given`` ones."""
    fields = (f.name for f in dataclasses.fields(cls) if f.name not in given)
    copied = {name: _plain(getattr(msg, name)) for name in fields}
    return cls(**copied, **given)


def _plain(value: Any) -> Any:
    """A repeated (scalar) field's values as a tuple; any other value as it is."""
    return tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else value


def _message(cls: type[_M], value: DataclassInstance, **given: Any) -> _M:
    """A ``cls`` message with every field of ``value`` that it has (by name) and the
    ``given`` ones (enums, nested messages, fields named otherwise)."""
    names = cls.DESCRIPTOR.fields_by_name
    shared = (f.name for f in dataclasses.fields(value) if f.name in names and f.name not in given)
    return cls(**{name: getattr(value, name) for name in shared}, **given)


def _glossary(terms: Sequence[pb.GlossaryTerm]) -> tuple[d.GlossaryTerm, ...]:
    return tuple(_domain(d.GlossaryTerm, term) for term in terms)


def summarize_request(msg: pb.SummarizeRequest) -> d.SummarizeRequest:
    # An enum value unknown to this server version is read as the default mode.
    mode = _MODE_IN.get(msg.mode, d.Mode.ABSTRACTIVE)
    return _domain(d.SummarizeRequest, msg, mode=mode, glossary=_glossary(msg.glossary))


def translate_request(msg: pb.TranslateRequest) -> d.TranslateRequest:
    return _domain(d.TranslateRequest, msg, glossary=_glossary(msg.glossary))


def route(value: d.Route) -> pb.Route:
    steps = [_message(pb.Step, s, kind=_STEP[s.kind]) for s in value.steps]
    return _message(pb.Route, value, kind=_ROUTE[value.kind], steps=steps)


def item_error(value: d.ItemError | None) -> pb.ItemError | None:
    return None if value is None else _message(pb.ItemError, value)


def detection(value: d.Detection | None) -> pb.DetectedLanguage | None:
    return None if value is None else _detection(value)


def _detection(value: d.Detection) -> pb.DetectedLanguage:
    guesses = [pb.LanguageGuess(language=c, confidence=p) for c, p in value.candidates]
    return _message(pb.DetectedLanguage, value, candidates=guesses)


def warnings(values: Sequence[d.QualityWarning]) -> list[pb.QualityWarning]:
    return [_message(pb.QualityWarning, w, code=w.code.value) for w in values]


def _brief(b: d.Brief) -> pb.Brief:
    return _message(
        pb.Brief,
        b,
        mode=_MODE_OUT[b.mode],
        route=route(b.route),
        error=item_error(b.error),
        warnings=warnings(b.warnings),
    )


def summarize_response(value: d.SummarizeResult) -> pb.SummarizeResponse:
    return _message(
        pb.SummarizeResponse,
        value,
        detected_language=detection(value.detected),
        pipeline=_message(pb.PipelineReport, value.pipeline),
        briefs=[_brief(b) for b in value.briefs],
    )


def _translation(t: d.Translation) -> pb.Translation:
    detected = detection(t.detected)
    return _message(
        pb.Translation,
        t,
        detected_language=detected,
        route=route(t.route),
        error=item_error(t.error),
        warnings=warnings(t.warnings),
    )


def translate_response(value: d.TranslateResult) -> pb.TranslateResponse:
    translations = [_translation(t) for t in value.translations]
    return _message(pb.TranslateResponse, value, translations=translations)


def summarize_event(value: d.SummarizeEvent) -> pb.SummarizeEvent:
    if isinstance(value, d.Ready):
        return pb.SummarizeEvent(brief=pb.BriefEvent(index=value.index, brief=_brief(value.output)))
    done = _message(
        pb.SummarizeDone,
        value,
        detected_language=detection(value.detected),
        pipeline=_message(pb.PipelineReport, value.pipeline),
    )
    return pb.SummarizeEvent(done=done)


def translate_event(value: d.TranslateEvent) -> pb.TranslateEvent:
    if isinstance(value, d.Ready):
        item = pb.TranslationEvent(index=value.index, translation=_translation(value.output))
        return pb.TranslateEvent(translation=item)
    return pb.TranslateEvent(done=_message(pb.TranslateDone, value))


def detect_response(values: list[d.Detection]) -> pb.DetectLanguageResponse:
    return pb.DetectLanguageResponse(detections=[_detection(v) for v in values])


def _model(m: d.ModelInfo) -> pb.ModelInfo:
    spec = m.spec
    pairs = [
        pb.LanguagePair(source_language=s, target_language=t) for s, t in spec.translation_pairs()
    ]
    return _message(
        pb.ModelInfo,
        spec,
        revision=spec.revision or "",
        pairs=pairs,
        languages=spec.all_languages(),
        state=_STATE[m.state],
        state_detail=m.state_detail,
        max_input_tokens=m.max_input_tokens,
    )


def capabilities_response(value: d.Capabilities) -> pb.ListCapabilitiesResponse:
    return _message(
        pb.ListCapabilitiesResponse,
        value,
        languages=[_message(pb.LanguageInfo, lang) for lang in value.languages],
        models=[_model(m) for m in value.models],
        limits=_message(pb.Limits, value.limits),
    )
