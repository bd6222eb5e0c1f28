"""grpc.health.v1 for the server: the whole service, and one entry per catalogue model.

``""`` and ``polybrief.v1.Polybrief`` are SERVING once preloading is done; each model's
``polybrief.model.<id>`` follows the registry's load events: NOT_SERVING after a failed
load, SERVING after a good one.
"""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer
from polybrief.service.api.servicer import SERVICE_NAME
from polybrief.service.domain import ModelState
from polybrief.service.models.registry import ModelRegistry

MODEL_HEALTH_PREFIX = "polybrief.model."


def _status(serving: bool) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
    return (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )


async def mark_service(health: HealthServicer, serving: bool) -> None:
    """Sets the overall and the polybrief service entries."""
    for name in ("", SERVICE_NAME):
        await health.set(name, _status(serving))


async def follow_models(health: HealthServicer, registry: ModelRegistry) -> None:
    """Gives every catalogue model an entry now, then keeps it in step with its loads
    (which happen on other threads)."""
    loop = asyncio.get_running_loop()
    for spec in registry.catalog.models:
        state, _ = registry.state(spec)
        await health.set(MODEL_HEALTH_PREFIX + spec.id, _status(state is not ModelState.FAILED))

    def loaded(model_id: str, ok: bool) -> None:
        asyncio.run_coroutine_threadsafe(
            health.set(MODEL_HEALTH_PREFIX + model_id, _status(ok)), loop
        )

    registry.on_load(loaded)
