"""Liveness, readiness and the Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from tradetalk.db import unavailable_from
from tradetalk.deps import Ctx
from tradetalk.errors import DatabaseUnavailable
from tradetalk.observability import Metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database cannot be reached."}})
async def readyz(ctx: Ctx) -> dict[str, str]:
    """The process can reach its database and serve traffic."""
    try:
        async with ctx.db.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        # Overloaded (every pooled connection busy) when that is why; unavailable otherwise.
        raise unavailable_from(exc) or DatabaseUnavailable(
            "The database cannot be reached."
        ) from exc
    return {"status": "ready", "database": ctx.db.dialect}


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format."""
    registry: Metrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
