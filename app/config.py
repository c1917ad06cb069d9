"""Settings, read from environment variables (documented in the README)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ChannelSettings:
    """One marketplace shop: where it is and how to sign in (the key never prints)."""

    name: str
    base_url: str
    api_key: SecretStr
    shop_id: int | None
    auto_accept: bool


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
    # Requests per API key per minute (a moving window; per process unless rate_limit_storage
    # is shared).
    rate_limit_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    # Projections run in the service process unless a separate worker runs them.
    run_projections: bool = True
    projection_batch_size: int = Field(default=1000, ge=1, le=100_000)
    projection_poll_interval: float = Field(default=1.0, gt=0, le=60)
    # How long a list call with min_position waits for the projection to catch up.
    read_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    # Marketplace channels: a channel syncs when its base URL and API key are set.
    laredoute_base_url: str | None = None
    laredoute_api_key: SecretStr | None = None
    laredoute_shop_id: int | None = None
    laredoute_auto_accept: bool = False
    labrandboutique_base_url: str | None = None
    labrandboutique_api_key: SecretStr | None = None
    labrandboutique_shop_id: int | None = None
    labrandboutique_auto_accept: bool = False
    # "embedded": the sync jobs run in the service process; "off": run them with `oms worker`.
    sync_mode: Literal["embedded", "off"] = "embedded"
    # OR11 allows one call a minute at most; every 2 minutes stays well within it.
    import_interval: float = Field(default=120.0, gt=0, le=86_400)
    # Each poll re-reads orders updated this long before the last one seen (clock skew,
    # transactions committed late on the marketplace).
    import_overlap: float = Field(default=300.0, ge=0, le=86_400)
    import_page_size: int = Field(default=100, ge=1, le=100)
    action_interval: float = Field(default=2.0, gt=0, le=3600)
    action_expiry_hours: float = Field(default=72.0, gt=0)
    marketplace_timeout: float = Field(default=10.0, gt=0, le=120)
    # Orders still CREATED this close to their 72-hour acceptance deadline are flagged.
    deadline_warning_hours: float = Field(default=12.0, ge=0, le=72)
    # The offer feed sends the offers changed since the last feed at these hours of the day
    # (local time in offer_feed_timezone); a stock-out is sent at once, whatever the hour.
    offer_feed_hours: list[int] = Field(default_factory=lambda: [4, 8, 12, 16, 20])
    offer_feed_timezone: str = "Europe/Paris"
    # Where our offer values without a standard OF01 column go: value name -> the code of an
    # offer additional field (AF01). JSON in OMS_OFFER_FIELD_MAP; a field the shop does not
    # declare is not sent. The default is La Redoute's.
    offer_field_map: dict[str, str] = Field(default_factory=lambda: {
        "delivery_fee": "delivery-fee",
        "delivery_days_min": "delivery-days-range-min",
        "delivery_days_max": "delivery-days-range-max",
        "relay_fee": "relay-fee",
        "relay_delay": "relay-delay",
        "relay_days_min": "relay-days-range-min",
        "relay_days_max": "relay-days-range-max",
        "parent_sku": "partner-product-parent",
    })
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # Where the rate limit's counts live: "memory://" (each process its own) or a Redis URL
    # ("redis://127.0.0.1:6379/0"), shared by every API process that names it.
    rate_limit_storage: SecretStr = SecretStr("memory://")
    # Prefix of the rate limit's keys in Redis: deployments sharing one Redis use different ones.
    rate_limit_namespace: str = Field(default="oms", min_length=1, max_length=64,
                                      pattern=r"^[A-Za-z0-9_.:-]+$")
    # GET /metrics answers without an API key (for a scraper on a private network); otherwise
    # it needs a key whose role reads the sync state (admin, operator, auditor).
    metrics_public: bool = False
    # `oms worker` serves its own metrics on this port (0: not at all), on this address.
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with sqlite:/// or postgresql://")
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValueError("rate_limit_storage must be memory:// or a redis:// URL")
        return value

    @field_validator("offer_feed_hours")
    @classmethod
    def _feed_hours(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("offer_feed_hours needs at least one hour")
        if any(not 0 <= hour <= 23 for hour in value):
            raise ValueError("offer_feed_hours are hours of the day, 0 to 23")
        return sorted(set(value))

    @field_validator("offer_field_map")
    @classmethod
    def _field_map(cls, value: dict[str, str]) -> dict[str, str]:
        # The values and codes themselves are checked where the files are written.
        if any(not name.strip() or not code.strip() for name, code in value.items()):
            raise ValueError("offer_field_map needs a value name and a field code each")
        return {name.strip(): code.strip() for name, code in value.items()}

    @field_validator("offer_feed_timezone")
    @classmethod
    def _feed_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def channels(self) -> list[ChannelSettings]:
        """The marketplace channels configured for sync."""
        found = []
        for name in ("laredoute", "labrandboutique"):
            base_url = getattr(self, f"{name}_base_url")
            api_key = getattr(self, f"{name}_api_key")
            if base_url and api_key is not None and api_key.get_secret_value():
                found.append(
                    ChannelSettings(
                        name=name,
                        base_url=base_url.rstrip("/"),
                        api_key=api_key,
                        shop_id=getattr(self, f"{name}_shop_id"),
                        auto_accept=getattr(self, f"{name}_auto_accept"),
                    )
                )
        return found

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
