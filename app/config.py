"""Settings, read from environment variables (documented in the README)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Everything the service needs to start; secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(env_prefix="OMS_", extra="ignore")

    database_url: SecretStr = Field(
        default=SecretStr("sqlite:///./var/oms.sqlite3"),
        validation_alias="DATABASE_URL",
    )
    environment: Literal["development", "production", "test"] = "development"
    # Seconds a writer waits for a lock before giving up, so that one stuck writer cannot
    # hang the others.
    lock_timeout: int = Field(default=5, ge=1, le=300)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    migrations_dir: Path = _REPO_ROOT / "migrations"
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # Projections run in the service process unless a separate worker runs them.
    run_projections: bool = True
    projection_batch_size: int = Field(default=1000, ge=1, le=100_000)
    projection_poll_interval: float = Field(default=1.0, gt=0, le=60)
    # How long a list call with min_position waits for the projection to catch up.
    read_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with sqlite:/// or postgresql://")
        return value

    @property
    def dialect(self) -> Literal["sqlite", "postgres"]:
        url = self.database_url.get_secret_value()
        return "sqlite" if url.startswith("sqlite:") else "postgres"

    @property
    def sqlite_path(self) -> str:
        url = self.database_url.get_secret_value()
        path = url[len("sqlite:///") :]
        return path or ":memory:"

    def postgres_params(self) -> dict[str, str]:
        """Connection parameters from a postgresql:// URL."""
        parts = urlsplit(self.database_url.get_secret_value())
        params = {
            "host": parts.hostname or "127.0.0.1",
            "port": str(parts.port or 5432),
            "dbname": unquote(parts.path.lstrip("/")) or "postgres",
            "user": unquote(parts.username or "postgres"),
            "password": unquote(parts.password or ""),
        }
        return params

    def postgres_conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        params = {k: v for k, v in self.postgres_params().items() if v}
        return make_conninfo(**params)
