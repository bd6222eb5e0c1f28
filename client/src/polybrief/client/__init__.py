"""polybrief client: sync ``Client`` and asyncio ``AsyncClient`` for the polybrief.v1 API.

from polybrief.client import Client

with Client("localhost:50051") as client:
    result = client.summarize(article, to=["en", "fr", "ru"])
"""

from polybrief.client._async import AsyncClient
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
    LanguageInfo,
    LanguagePair,
    Limits,
    ModelInfo,
    PipelineReport,
    Route,
    Step,
    SummarizeResult,
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
    "LanguageInfo",
    "LanguagePair",
    "Limits",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelNotInstalledError",
    "OverloadedError",
    "PermissionDeniedError",
    "PipelineReport",
    "PolybriefError",
    "Route",
    "ServerError",
    "Step",
    "SummarizeResult",
    "Translation",
    "UnauthenticatedError",
    "UnavailableError",
    "map_rpc_error",
]
