"""Builds request messages and turns responses into result dataclasses, for both clients."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from polybrief.client import _types as t
from polybrief.v1 import polybrief_pb2 as pb

SERVICE = "polybrief.v1.Polybrief"
MODES = {"abstractive": pb.SUMMARY_MODE_ABSTRACTIVE, "extractive": pb.SUMMARY_MODE_EXTRACTIVE}
_MODE_NAMES = {pb.SUMMARY_MODE_ABSTRACTIVE: "abstractive", pb.SUMMARY_MODE_EXTRACTIVE: "extractive"}
_STEPS = {
    pb.STEP_KIND_SUMMARIZE: "summarize",
    pb.STEP_KIND_EXTRACT: "extract",
    pb.STEP_KIND_TRANSLATE: "translate",
}
_ROUTES = {
    pb.ROUTE_KIND_IDENTITY: "identity",
    pb.ROUTE_KIND_DIRECT: "direct",
    pb.ROUTE_KIND_MULTILINGUAL: "multilingual",
    pb.ROUTE_KIND_PIVOT: "pivot",
}
_STATES = {
    pb.MODEL_STATE_NOT_INSTALLED: "not_installed",
    pb.MODEL_STATE_INSTALLED: "installed",
    pb.MODEL_STATE_LOADED: "loaded",
    pb.MODEL_STATE_FAILED: "failed",
}

# Every RPC is idempotent (same input, same output, no side effects), so all of them are
# retried on UNAVAILABLE — unlike Google Translation v3, which does not retry TranslateText.
_RETRY = {
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "2s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{"service": SERVICE}, {"service": "grpc.health.v1.Health"}],
                "retryPolicy": _RETRY,
            }
        ]
    }
)
CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.service_config", SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
)


def as_list(texts: str | Sequence[str]) -> list[str]:
    return [texts] if isinstance(texts, str) else list(texts)


def summarize_request(
    text: str,
    to: Sequence[str],
    source: str | None,
    max_words: int | None,
    mode: str,
    model: str | None,
    translation_model: str | None,
) -> pb.SummarizeRequest:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, not {mode!r}")
    return pb.SummarizeRequest(
        text=text,
        target_languages=list(to),
        source_language=source or "",
        max_words=max_words or 0,
        mode=MODES[mode],
        model=model or "",
        translation_model=translation_model or "",
    )


def translate_request(
    texts: str | Sequence[str], to: str, source: str | None, model: str | None
) -> pb.TranslateRequest:
    return pb.TranslateRequest(
        texts=as_list(texts), target_language=to, source_language=source or "", model=model or ""
    )


def detect_request(texts: str | Sequence[str]) -> pb.DetectLanguageRequest:
    return pb.DetectLanguageRequest(texts=as_list(texts))


def _route(msg: pb.Route) -> t.Route:
    steps = tuple(
        t.Step(_STEPS.get(s.kind, ""), s.model, s.source_language, s.target_language, s.segments)
        for s in msg.steps
    )
    return t.Route(_ROUTES.get(msg.kind, ""), steps, msg.pivot_language)


def _error(parent: Any) -> t.ItemError | None:
    if not parent.HasField("error"):
        return None
    e = parent.error
    return t.ItemError(e.code, e.message, e.model, e.hint)


def _detected(msg: pb.DetectedLanguage) -> t.DetectedLanguage:
    return t.DetectedLanguage(
        msg.language,
        msg.confidence,
        msg.reliable,
        tuple((c.language, c.confidence) for c in msg.candidates),
    )


def summarize_result(msg: pb.SummarizeResponse) -> t.SummarizeResult:
    p = msg.pipeline
    briefs = tuple(
        t.Brief(
            b.language,
            b.text,
            _MODE_NAMES.get(b.mode, "abstractive"),
            b.fallback_reason,
            _route(b.route),
            _error(b),
        )
        for b in msg.briefs
    )
    return t.SummarizeResult(
        briefs=briefs,
        source_language=msg.source_language,
        detected_language=_detected(msg.detected_language)
        if msg.HasField("detected_language")
        else None,
        pipeline=t.PipelineReport(
            p.input_characters,
            p.removed_control_characters,
            p.paragraphs,
            p.duplicate_paragraphs_removed,
            p.duplicate_sentences_removed,
            p.sentences,
            p.chunks_summarized,
            p.reduce_rounds,
        ),
    )


def translate_result(msg: pb.TranslateResponse) -> list[t.Translation]:
    return [
        t.Translation(
            x.text,
            x.source_language,
            _detected(x.detected_language) if x.HasField("detected_language") else None,
            _route(x.route),
            _error(x),
        )
        for x in msg.translations
    ]


def detect_result(msg: pb.DetectLanguageResponse) -> list[t.DetectedLanguage]:
    return [_detected(d) for d in msg.detections]


def capabilities_result(msg: pb.ListCapabilitiesResponse) -> t.Capabilities:
    lim = msg.limits
    return t.Capabilities(
        languages=tuple(
            t.LanguageInfo(
                x.code, x.name, x.translate_source, x.translate_target, x.summarize_abstractive
            )
            for x in msg.languages
        ),
        models=tuple(
            t.ModelInfo(
                m.id,
                m.family,
                tuple(m.tasks),
                m.source,
                m.revision,
                m.license,
                tuple(t.LanguagePair(p.source_language, p.target_language) for p in m.pairs),
                tuple(m.summary_languages),
                tuple(m.languages),
                _STATES.get(m.state, "unknown"),
                m.state_detail,
                m.max_input_tokens,
            )
            for m in msg.models
        ),
        limits=t.Limits(
            lim.max_text_characters,
            lim.max_translate_items,
            lim.max_item_characters,
            lim.max_total_characters,
            lim.max_target_languages,
            lim.min_words,
            lim.max_words,
            lim.default_words,
            lim.max_receive_message_bytes,
        ),
        pivot_language=msg.pivot_language,
    )
