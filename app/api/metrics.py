"""GET /metrics (Prometheus text format), and the count of each command's outcome.

/metrics needs a key whose role may read the sync state (admin, operator, auditor: it shows
nothing more than GET /v1/sync/status and counts), unless OMS_METRICS_PUBLIC is set, for a
scraper on a private network: then `PublicMetrics` answers it before any key is asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.auth import requires
from app.api.problems import ProblemError
from app.domain.errors import DomainError, VersionConflict
from app.metrics import count_command, exposition

router = APIRouter(tags=["metrics"])


def _registry(request: Request) -> CollectorRegistry:
    return request.app.state.metrics


@router.get(
    "/metrics",
    summary="The service's metrics, in Prometheus text format",
    dependencies=[requires("sync:read")],
    include_in_schema=False,
)
def metrics(request: Request) -> Response:
    body, content_type = exposition(_registry(request))
    return Response(body, media_type=content_type)


class PublicMetrics:
    """Answers GET /metrics without a key (OMS_METRICS_PUBLIC); placed before AuthMiddleware."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != "/metrics" or scope.get(
            "method"
        ) not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        import anyio

        body, content_type = await anyio.to_thread.run_sync(exposition, self.registry)
        scope["route"] = router.routes[0]  # counted under its template like any route
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body",
                    "body": b"" if scope.get("method") == "HEAD" else body})


def counted_command(request: Request, run: Callable[[], Response]) -> Response:
    """Run a command route's work and count its outcome under the route's name."""
    route = request.scope.get("route")
    command = str(getattr(route, "name", None) or "unknown")
    try:
        response = run()
    except VersionConflict:
        count_command(command, "conflict")
        raise
    except DomainError:
        count_command(command, "refused")
        raise
    except ProblemError:
        count_command(command, "rejected")
        raise
    except Exception:
        count_command(command, "error")
        raise
    if response.headers.get("Idempotent-Replayed") == "true":
        outcome = "replayed"
    elif response.status_code < 400:
        outcome = "succeeded"
    else:  # a refusal remembered under its Idempotency-Key
        outcome = "refused"
    count_command(command, outcome)
    return response


__all__ = ["PublicMetrics", "counted_command", "router"]
