"""polybrief client: sync ``Client`` and asyncio ``AsyncClient`` for the polybrief.v1 API.

    from polybrief.client import Client

    with Client("localhost:50051") as client:
        result = client.summarize(article, to=["en", "fr", "ru"])
        for brief in result.briefs:
            print(brief.language, brief.error or brief.text)

Several targets give failover (``Client(["10.0.0.1:50051", "10.0.0.2:50051"])``);
``tls_credentials(ca, cert=..., key=...)`` makes TLS / mutual-TLS credentials from PEM
files; ``api_key=`` is sent as a bearer token.

Results are frozen dataclasses (``SummarizeResult``, ``Translation``, ...); failed calls
raise ``PolybriefError`` subclasses (the hierarchy is in ``polybrief.client._errors``).
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
from polybrief.client._types import (
    Brief,
    Capabilities,
    DetectedLanguage,
    ItemError,
    LanguageGuess,
    LanguageInfo,
    LanguagePair,
    Limits,
    ModelInfo,
    ModelState,
    PipelineReport,
    Route,
    RouteKind,
    Step,
    StepKind,
    SummarizeResult,
    SummaryMode,
    Translation,
)

__all__ = [
    "AsyncClient",
    "Brief",
    "Capabilities",
    "Client",
    "DeadlineExceededError",
    "DetectedLanguage",
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
    "Route",
    "RouteKind",
    "ServerError",
    "Step",
    "StepKind",
    "SummarizeResult",
    "SummaryMode",
    "Translation",
    "UnauthenticatedError",
    "UnavailableError",
    "map_rpc_error",
    "tls_credentials",
]
