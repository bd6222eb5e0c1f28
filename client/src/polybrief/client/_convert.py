"""Proto ↔ dataclass conversion, shared by both clients: the only module that builds
request messages and reads response messages."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from grpc_health.v1 import health_pb2
from polybrief.client import _types as t
from polybrief.v1 import polybrief_pb2 as pb

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
    texts: str | Sequence[str], to: str, source: str | None, model: str | None
) -> pb.TranslateRequest:
    """A TranslateRequest for one text or a batch."""
    return pb.TranslateRequest(
        texts=as_list(texts), target_language=to, source_language=source or "", model=model or ""
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


def _route(msg: pb.Route) -> t.Route:
    steps = tuple(
        t.Step(_STEPS.get(s.kind, ""), s.model, s.source_language, s.target_language, s.segments)
        for s in msg.steps
    )
    return t.Route(_ROUTES.get(msg.kind, ""), steps, msg.pivot_language)


def _error(parent: pb.Brief | pb.Translation) -> t.ItemError | None:
    if not parent.HasField("error"):
        return None
    e = parent.error
    return t.ItemError(e.code, e.message, e.model, e.hint)


def _detected(msg: pb.DetectedLanguage) -> t.DetectedLanguage:
    return t.DetectedLanguage(
        msg.language,
        msg.confidence,
        msg.reliable,
        tuple(t.LanguageGuess(c.language, c.confidence) for c in msg.candidates),
    )


def _detected_if_set(parent: pb.SummarizeResponse | pb.Translation) -> t.DetectedLanguage | None:
    return _detected(parent.detected_language) if parent.HasField("detected_language") else None


def _brief(b: pb.Brief) -> t.Brief:
    mode = _MODE_NAMES.get(b.mode, "abstractive")  # unspecified is treated as abstractive
    return t.Brief(b.language, b.text, mode, b.fallback_reason, _route(b.route), _error(b))


def _pipeline(p: pb.PipelineReport) -> t.PipelineReport:
    return t.PipelineReport(
        input_characters=p.input_characters,
        removed_control_characters=p.removed_control_characters,
        paragraphs=p.paragraphs,
        duplicate_paragraphs_removed=p.duplicate_paragraphs_removed,
        duplicate_sentences_removed=p.duplicate_sentences_removed,
        sentences=p.sentences,
        chunks_summarized=p.chunks_summarized,
        reduce_rounds=p.reduce_rounds,
    )


def summarize_result(msg: pb.SummarizeResponse) -> t.SummarizeResult:
    """The SummarizeResult of a SummarizeResponse."""
    return t.SummarizeResult(
        briefs=tuple(_brief(b) for b in msg.briefs),
        source_language=msg.source_language,
        detected_language=_detected_if_set(msg),
        pipeline=_pipeline(msg.pipeline),
    )


def translate_result(msg: pb.TranslateResponse) -> list[t.Translation]:
    """One Translation per item of a TranslateResponse, in order."""
    return [
        t.Translation(x.text, x.source_language, _detected_if_set(x), _route(x.route), _error(x))
        for x in msg.translations
    ]


def detect_result(msg: pb.DetectLanguageResponse) -> list[t.DetectedLanguage]:
    """One DetectedLanguage per item of a DetectLanguageResponse, in order."""
    return [_detected(d) for d in msg.detections]


def _model(m: pb.ModelInfo) -> t.ModelInfo:
    return t.ModelInfo(
        id=m.id,
        family=m.family,
        tasks=tuple(m.tasks),
        source=m.source,
        revision=m.revision,
        license=m.license,
        pairs=tuple(t.LanguagePair(p.source_language, p.target_language) for p in m.pairs),
        summary_languages=tuple(m.summary_languages),
        languages=tuple(m.languages),
        state=_STATES.get(m.state, "unknown"),
        state_detail=m.state_detail,
        max_input_tokens=m.max_input_tokens,
    )


def _limits(lim: pb.Limits) -> t.Limits:
    return t.Limits(**{f.name: getattr(lim, f.name) for f in dataclasses.fields(t.Limits)})


def capabilities_result(msg: pb.ListCapabilitiesResponse) -> t.Capabilities:
    """The Capabilities of a ListCapabilitiesResponse."""
    languages = tuple(
        t.LanguageInfo(
            x.code, x.name, x.translate_source, x.translate_target, x.summarize_abstractive
        )
        for x in msg.languages
    )
    return t.Capabilities(
        languages=languages,
        models=tuple(_model(m) for m in msg.models),
        limits=_limits(msg.limits),
        pivot_language=msg.pivot_language,
    )
