"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.adapters.migrations import pending
from app.api.deps import DatabaseDep, RunnersDep, SettingsDep
from app.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is up")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The store answers, its schema is up to date and no projection has failed",
    responses={503: {"model": Health, "description": "Not ready: see checks"}},
)
def readyz(db: DatabaseDep, settings: SettingsDep, runners: RunnersDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        db.ping()
        missing = pending(db, settings.migrations_dir)
        checks["store"] = "ok"
        checks["migrations"] = "ok" if not missing else f"pending: {', '.join(missing)}"
        for name, runner in runners.items():
            status = runner.status()
            checks[f"projection:{name}"] = (
                "ok"
                if status.healthy
                else f"failed at position {status.failed_position}: {status.error}"
            )
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["store"] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values()) and "migrations" in checks
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
