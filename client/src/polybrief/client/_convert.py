"""Proto ↔ dataclass conversion, shared by both clients: the only module that builds
request messages and reads response messages. A result dataclass is read from its
message field by field by name (``_copy``); only enums and nested messages are written
out."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf.message import Message
from grpc_health.v1 import health_pb2
from polybrief.client import _types as t
from polybrief.client._glossary import glossary_terms
from polybrief.v1 import polybrief_pb2 as pb

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")

MODES: dict[str, int] = {
    "abstractive": pb.SUMMARY_MODE_ABSTRACTIVE,
    "extractive": pb.SUMMARY_MODE_EXTRACTIVE,
}
_MODE_NAMES: dict[int, t.SummaryMode] = {
    pb.SUMMARY_MODE_ABSTRACTIVE: "abstractive",
    pb.SUMMARY_MODE_EXTRACTIVE: "extractive",
}
_STEPS: dict[int, t.StepKind] = {
    pb.STEP_KIND_SUMMARIZE: "summarize",
    pb.STEP_KIND_EXTRACT: "extract",
    pb.STEP_KIND_TRANSLATE: "translate",
}
_ROUTES: dict[int, t.RouteKind] = {
    pb.ROUTE_KIND_IDENTITY: "identity",
    pb.ROUTE_KIND_DIRECT: "direct",
    pb.ROUTE_KIND_MULTILINGUAL: "multilingual",
    pb.ROUTE_KIND_PIVOT: "pivot",
    pb.ROUTE_KIND_CROSS_LINGUAL: "cross_lingual",
}
_STATES: dict[int, t.ModelState] = {
    pb.MODEL_STATE_NOT_INSTALLED: "not_installed",
    pb.MODEL_STATE_INSTALLED: "installed",
    pb.MODEL_STATE_LOADED: "loaded",
    pb.MODEL_STATE_FAILED: "failed",
}


def as_list(texts: str | Sequence[str]) -> list[str]:
    """A batch of texts: a single string is a batch of one."""
    return [texts] if isinstance(texts, str) else list(texts)


# Requests ---------------------------------------------------------------------------


def add_glossary(
    request: pb.SummarizeRequest | pb.TranslateRequest,
    glossary: t.Glossary | None,
    ignore_case: bool,
) -> None:
    """Puts the glossary (TypeError for a malformed one) and its case rule in ``request``."""
    terms = glossary_terms(glossary)
    request.glossary.extend(pb.GlossaryTerm(source=s, target=x) for s, x in terms)
    request.glossary_ignore_case = ignore_case


def summarize_request(
    text: str,
    to: Sequence[str],
    source: str | None,
    max_words: int | None,
    mode: str,
    model: str | None,
    translation_model: str | None,
) -> pb.SummarizeRequest:
    """A SummarizeRequest; ValueError for an unknown mode or a negative word budget."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, not {mode!r}")
    if isinstance(to, str):  # "fr" would otherwise be read as ["f", "r"]
        to = [to]
    if max_words is not None and max_words < 0:
        raise ValueError(f"max_words must not be negative, not {max_words}")
    return pb.SummarizeRequest(
        text=text,
        target_languages=list(to),
        source_language=source or "",
        max_words=max_words or 0,
        mode=MODES[mode],  # type: ignore[arg-type]
        model=model or "",
        translation_model=translation_model or "",
    )


def translate_request(
    texts: str | Sequence[str],
    to: str,
    source: str | None,
    model: str | None,
) -> pb.TranslateRequest:
    """A TranslateRequest for one text or a batch."""
    return pb.TranslateRequest(
        texts=as_list(texts),
        target_language=to,
        source_language=source or "",
        model=model or "",
    )


def detect_request(texts: str | Sequence[str]) -> pb.DetectLanguageRequest:
    """A DetectLanguageRequest for one text or a batch."""
    return pb.DetectLanguageRequest(texts=as_list(texts))


def capabilities_request() -> pb.ListCapabilitiesRequest:
    """The (empty) ListCapabilitiesRequest."""
    return pb.ListCapabilitiesRequest()


def health_request(service: str) -> health_pb2.HealthCheckRequest:
    """A standard health check of ``service`` ("" is the server as a whole)."""
    return health_pb2.HealthCheckRequest(service=service)


# Responses --------------------------------------------------------------------------


def health_status(reply: Any) -> str:
    """The status name: "SERVING", "NOT_SERVING", "UNKNOWN" or "SERVICE_UNKNOWN"."""
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def _copy(cls: type[_D], msg: Message, **given: Any) -> _D:
    """A ``cls`` whose fields are read from the fields of ``msg`` of the same name
    (repeated ones as tuples), except the ``given`` ones (enums, nested messages)."""
    fields = (f.name for f in dataclasses.fields(cls) if f.name not in given)
    copied = {name: _plain(getattr(msg, name)) for name in fields}
    return cls(**copied, **given)


def _plain(value: Any) -> Any:
    """A repeated (scalar) field's values as a tuple; any other value as it is."""
    return tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else value


def _route(msg: pb.Route) -> t.Route:
    steps = tuple(_copy(t.Step, s, kind=_STEPS.get(s.kind, "")) for s in msg.steps)
    return _copy(t.Route, msg, kind=_ROUTES.get(msg.kind, ""), steps=steps)


def _error(parent: pb.Brief | pb.Translation) -> t.ItemError | None:
    return _copy(t.ItemError, parent.error) if parent.HasField("error") else None


def _detected(msg: pb.DetectedLanguage) -> t.DetectedLanguage:
    guesses = tuple(t.LanguageGuess(c.language, c.confidence) for c in msg.candidates)
    return _copy(t.DetectedLanguage, msg, candidates=guesses)


def _detected_if_set(
    parent: pb.SummarizeResponse | pb.SummarizeDone | pb.Translation,
) -> t.DetectedLanguage | None:
    return _detected(parent.detected_language) if parent.HasField("detected_language") else None


def _warnings(parent: pb.Brief | pb.Translation) -> tuple[t.QualityWarning, ...]:
    return tuple(_copy(t.QualityWarning, w) for w in parent.warnings)


def _brief(b: pb.Brief) -> t.Brief:
    mode = _MODE_NAMES.get(b.mode, "abstractive")  # unspecified is treated as abstractive
    return _copy(
        t.Brief, b, mode=mode, route=_route(b.route), error=_error(b), warnings=_warnings(b)
    )


def summarize_result(msg: pb.SummarizeResponse) -> t.SummarizeResult:
    """The SummarizeResult of a SummarizeResponse."""
    return _copy(
        t.SummarizeResult,
        msg,
        briefs=tuple(_brief(b) for b in msg.briefs),
        detected_language=_detected_if_set(msg),
        pipeline=_copy(t.PipelineReport, msg.pipeline),
    )


def summarize_event(msg: pb.SummarizeEvent) -> t.SummarizeEvent:
    """The Ready brief or the SummarizeDone of a SummarizeEvent."""
    if msg.WhichOneof("event") == "brief":
        return t.Ready(msg.brief.index, _brief(msg.brief.brief))
    done = msg.done
    pipeline = _copy(t.PipelineReport, done.pipeline)
    return t.SummarizeDone(done.source_language, _detected_if_set(done), pipeline)


def translate_event(msg: pb.TranslateEvent) -> t.TranslateEvent:
    """The Ready translation or the TranslateDone of a TranslateEvent."""
    if msg.WhichOneof("event") == "translation":
        item = msg.translation
        return t.Ready(item.index, _translation(item.translation))
    return t.TranslateDone(msg.done.target_language)


def translate_result(msg: pb.TranslateResponse) -> list[t.Translation]:
    """One Translation per item of a TranslateResponse, in order."""
    return [_translation(x) for x in msg.translations]


def _translation(x: pb.Translation) -> t.Translation:
    detected = _detected_if_set(x)
    return _copy(
        t.Translation,
        x,
        detected_language=detected,
        route=_route(x.route),
        error=_error(x),
        warnings=_warnings(x),
    )


def detect_result(msg: pb.DetectLanguageResponse) -> list[t.DetectedLanguage]:
    """One DetectedLanguage per item of a DetectLanguageResponse, in order."""
    return [_detected(d) for d in msg.detections]


def _model(m: pb.ModelInfo) -> t.ModelInfo:
    pairs = tuple(_copy(t.LanguagePair, p) for p in m.pairs)
    return _copy(t.ModelInfo, m, pairs=pairs, state=_STATES.get(m.state, "unknown"))


def capabilities_result(msg: pb.ListCapabilitiesResponse) -> t.Capabilities:
    """The Capabilities of a ListCapabilitiesResponse."""
    return _copy(
        t.Capabilities,
        msg,
        languages=tuple(_copy(t.LanguageInfo, x) for x in msg.languages),
        models=tuple(_model(m) for m in msg.models),
        limits=_copy(t.Limits, msg.limits),
    )
