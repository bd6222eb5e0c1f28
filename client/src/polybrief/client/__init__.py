"""polybrief client: sync ``Client`` and asyncio ``AsyncClient`` for the polybrief.v1 API.

    from polybrief.client import Client

    with Client("localhost:50051") as client:
        result = client.summarize(article, to=["en", "fr", "ru"])
        for brief in result.briefs:
            print(brief.language, brief.error or brief.text)
        for event in client.stream_summarize(article, to=["en", "fr", "ru"]):
            ...  # a Ready brief per language as it is ready, then a SummarizeDone

Several targets give failover (``Client(["10.0.0.1:50051", "10.0.0.2:50051"])``);
``tls_credentials(ca, cert=..., key=...)`` makes TLS / mutual-TLS credentials from PEM
files; ``api_key=`` is sent as a bearer token.

Results are frozen dataclasses (``SummarizeResult``, ``Translation``, ...); each brief and
translation carries a ``confidence`` (0..1), ``warnings`` (``QualityWarning``) and the
``applied_terms`` of the glossary. A ``glossary=`` (``Glossary``: ``{source: target}`` or
``GlossaryTerm`` / ``(source, target)`` pairs, target "" = do not translate) keeps terms
verbatim. Failed calls raise ``PolybriefError`` subclasses (the hierarchy is in
``polybrief.client._errors``).
"""

from polybrief.client._async import AsyncClient
from polybrief.client._channel import tls_credentials
from polybrief.client._client import Client
from polybrief.client._errors import (
    DeadlineExceededError,
    InvalidArgumentError,
    ModelNotFoundError,
    ModelNotInstalledError,
    OverloadedError,
    PermissionDeniedError,
    PolybriefError,
    ServerError,
    UnauthenticatedError,
    UnavailableError,
    map_rpc_error,
)
from polybrief.client._glossary import parse_glossary
from polybrief.client._types import (
    WARNING_CODES,
    Assessment,
    Brief,
    Capabilities,
    DetectedLanguage,
    Glossary,
    GlossaryTerm,
    ItemError,
    LanguageGuess,
    LanguageInfo,
    LanguagePair,
    Limits,
    ModelInfo,
    ModelState,
    PipelineReport,
    QualityWarning,
    Ready,
    Route,
    RouteKind,
    Step,
    StepKind,
    SummarizeDone,
    SummarizeEvent,
    SummarizeResult,
    SummaryMode,
    TranslateDone,
    TranslateEvent,
    Translation,
)

__all__ = [
    "WARNING_CODES",
    "Assessment",
    "AsyncClient",
    "Brief",
    "Capabilities",
    "Client",
    "DeadlineExceededError",
    "DetectedLanguage",
    "Glossary",
    "GlossaryTerm",
    "InvalidArgumentError",
    "ItemError",
    "LanguageGuess",
    "LanguageInfo",
    "LanguagePair",
    "Limits",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelNotInstalledError",
    "ModelState",
    "OverloadedError",
    "PermissionDeniedError",
    "PipelineReport",
    "PolybriefError",
    "QualityWarning",
    "Ready",
    "Route",
    "RouteKind",
    "ServerError",
    "Step",
    "StepKind",
    "SummarizeDone",
    "SummarizeEvent",
    "SummarizeResult",
    "SummaryMode",
    "TranslateDone",
    "TranslateEvent",
    "Translation",
    "UnauthenticatedError",
    "UnavailableError",
    "map_rpc_error",
    "parse_glossary",
    "tls_credentials",
]
