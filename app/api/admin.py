"""Administration: API keys and channel settings (role admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from app.adapters.api_keys import ApiKey, InvalidKeyRequest, LastAdminKey
from app.api.auth import AUTH_PROBLEMS, AuthorisedRoute, PrincipalDep, requires
from app.api.deps import ApiKeysDep, ServiceDep, SettingsDep, SyncStoreDep
from app.api.problems import ProblemError
from app.api.schemas import from_epoch, problem_doc
from app.domain.order import Channel

router = APIRouter(prefix="/v1", tags=["administration"], responses=AUTH_PROBLEMS,
                   route_class=AuthorisedRoute)

Role = Literal["admin", "operator", "auditor", "integrator"]



class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    role: Role


class KeyPublic(BaseModel):
    name: str
    role: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyPublic:
        return cls(name=key.name, role=key.role, prefix=key.prefix,
                   created_at=from_epoch(key.created_at),  # type: ignore[arg-type]
                   last_used_at=from_epoch(key.last_used_at), revoked_at=from_epoch(key.revoked_at))


class KeyCreated(KeyPublic):
    # The key itself: shown here once, never again.
    key: str


class KeyListPublic(BaseModel):
    items: list[KeyPublic]


class ChannelSettingsPublic(BaseModel):
    channel: str
    configured: bool
    auto_accept: bool


class ChannelSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    auto_accept: bool


@router.get("/keys", response_model=KeyListPublic, dependencies=[requires("keys:manage")],
            summary="Every API key (never the keys themselves)")
def list_keys(keys: ApiKeysDep) -> KeyListPublic:
    return KeyListPublic(items=[KeyPublic.of(k) for k in keys.list()])


@router.post(
    "/keys", response_model=KeyCreated, status_code=201, dependencies=[requires("keys:manage")],
    summary="Create an API key; the answer shows the key once",
    responses={409: problem_doc("A key has this name already"),
               422: problem_doc("The body is invalid: the problem names the field and the rule")},
)
def create_key(body: KeyCreate, keys: ApiKeysDep) -> Response:
    try:
        key, secret = keys.create(body.name, body.role)
    except InvalidKeyRequest as exc:
        status = 409 if exc.rule == "unique" else 422
        raise ProblemError(status, "invalid-request" if status == 422 else "conflict",
                           "The key cannot be created", str(exc), field=exc.field,
                           rule=exc.rule) from None
    created = KeyCreated(**KeyPublic.of(key).model_dump(), key=secret)
    return Response(created.model_dump_json(), status_code=201, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@router.post(
    "/keys/{name}/revoke", response_model=KeyPublic, dependencies=[requires("keys:manage")],
    summary="Revoke an API key: it stops working at once",
    description="The last active admin key is not revoked (409, rule last_admin): create "
    "another admin key first. `oms keys revoke` on the server can still revoke it.",
    responses={404: problem_doc("No key has this name"),
               409: problem_doc("It is the last active admin key (rule last_admin)"),
               422: problem_doc("The name is invalid")},
)
def revoke_key(name: str, keys: ApiKeysDep) -> KeyPublic:
    try:
        key = keys.revoke(name, keep_an_admin=True)
    except LastAdminKey as exc:
        raise ProblemError(409, "conflict", "The last admin key is kept", str(exc),
                           field=exc.field, rule=exc.rule) from None
    if key is None:
        raise ProblemError(404, "not-found", "Not found", f"no API key is named {name!r}")
    return KeyPublic.of(key)


class ChannelSettings:
    """Each channel's settings: the configuration, and the admin's choices over it."""

    def __init__(self, settings: SettingsDep, store: SyncStoreDep) -> None:
        self.configured = {c.name: c for c in settings.channels()}
        self.store = store

    def of(self, channel: str) -> ChannelSettingsPublic:
        chosen = self.store.auto_accept(channel)
        default = self.configured[channel].auto_accept if channel in self.configured else False
        return ChannelSettingsPublic(channel=channel, configured=channel in self.configured,
                                     auto_accept=default if chosen is None else chosen)


ChannelSettingsDep = Annotated[ChannelSettings, Depends()]


@router.get("/channels", response_model=list[ChannelSettingsPublic],
            dependencies=[requires("channels:manage")],
            summary="Each channel's settings (credentials are configuration and never shown)")
def list_channels(channels: ChannelSettingsDep) -> list[ChannelSettingsPublic]:
    return [channels.of(c.value) for c in Channel]


@router.put(
    "/channels/{channel}", response_model=ChannelSettingsPublic,
    dependencies=[requires("channels:manage")],
    summary="Change a channel's settings (auto-accept)",
    responses={422: problem_doc("Unknown channel or invalid body: the problem names the field")},
)
def update_channel(
    channel: Channel,
    body: ChannelSettingsUpdate,
    channels: ChannelSettingsDep,
    service: ServiceDep,
    admin: PrincipalDep,
) -> ChannelSettingsPublic:
    channels.store.set_auto_accept(
        channel.value, body.auto_accept, by=admin.name, at=service.clock().timestamp()
    )
    return channels.of(channel.value)
