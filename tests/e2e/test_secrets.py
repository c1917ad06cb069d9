"""The planted secret: a marketplace API key nobody could mistake for anything else goes in as
La Redoute's key, the shop on the sandbox really opens with it, a whole working day runs
through the service, and the key must then be found nowhere: not in a log line (at DEBUG, the
libraries' included), not in a response body or header, not in a stored event nor in any other
row of the store, not in the text of an error the marketplace client raised.

La Brand Boutique gets a second planted key that the sandbox does not know, so that the
marketplace answers 401 and the failure paths (errors, tracebacks, the sync status) are seen too.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.adapters.db import open_database
from app.adapters.laredoute.client import MiraklClient
from app.ports.marketplace import MarketplaceError, UpstreamRefused, UpstreamUnavailable
from app.api.app import create_app
from app.config import Settings
from app.logs import configure_logging
from sandbox.app import create_sandbox_app
from sandbox.config import DEFAULT_SHOPS, SandboxConfig, ShopConfig
from tests.e2e.harness import Harness, eventually, manual_timings, with_channels
from tests.support import LiveServer, bearer, free_port, make_api_key

PLANTED = "planted-Secret-7f3c9a2e41b84d06c5e8"  # La Redoute's key: works on the sandbox
PLANTED_WRONG = "planted-Wrong-0b5d1e66a9c34f72"  # La Brand Boutique's: unknown there, 401
PLANTED_SHOP = ShopConfig(2003, PLANTED, "LAREDOUTE", "La Redoute", "LRP")
SECRETS = (PLANTED, PLANTED_WRONG)


def leaks(text: str | bytes | Iterable[Any]) -> list[str]:
    """Which planted secrets (or a long enough piece of one) appear in `text`."""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("latin-1")
    elif not isinstance(text, str):
        text = "\n".join(_as_text(v) for v in text)
    found = []
    for secret in SECRETS:
        # The random tail on its own too: a key cut short or re-prefixed is still a leak.
        if secret in text or secret[-16:] in text:
            found.append(secret)
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, tuple | list):
        return " ".join(_as_text(v) for v in value)
    return str(value)


def test_the_scanner_finds_a_planted_secret() -> None:
    assert leaks(f'{{"error": "Authorization: {PLANTED}"}}') == [PLANTED]
    assert leaks(("row", 1, f"x{PLANTED_WRONG}y".encode())) == [PLANTED_WRONG]
    assert leaks([(b"state", memoryview(PLANTED.encode()))]) == [PLANTED]
    assert leaks("key=" + PLANTED[-16:]) == [PLANTED]
    assert leaks("planted-Secret-********") == []
    assert leaks(["nothing", b"here", 42]) == []


class Recorder:
    """Our API over real HTTP; keeps every answer (status line, headers, body)."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=10)
        self.seen: list[str] = []

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def request(self, method: str, path: str, expect: int | None = 200,
                **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        self.seen.append(f"{method} {path} {response.status_code}\n"
                         f"{response.headers!r}\n{response.text}")
        if expect is not None:
            assert response.status_code == expect, (method, path, response.text)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


class Stderr:
    """Everything written to stdout and stderr (file descriptors 1 and 2) since the start."""

    def __init__(self, capfd: pytest.CaptureFixture[str]) -> None:
        self.capfd = capfd
        self.text = ""

    def read(self) -> str:
        out, err = self.capfd.readouterr()
        self.text += out + err
        return self.text


@contextmanager
def debug_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[Stderr]:
    """Every log at DEBUG, ours as JSON and the libraries' (httpx, httpcore, uvicorn) too.

    Set up inside the test itself: the streams pytest puts in place for a test's setup are
    closed by the time the test runs.
    """
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    configure_logging("DEBUG", "json")
    try:
        yield Stderr(capfd)
    finally:
        configure_logging("WARNING", "console")
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def planted_sandbox() -> Iterator[LiveServer]:
    """The sandbox with one more shop, whose key is the planted secret."""
    config = SandboxConfig(shops=(*DEFAULT_SHOPS, PLANTED_SHOP), seed=11,
                           timings=manual_timings())
    with LiveServer(create_sandbox_app(config)) as server:
        yield server


def _stored_rows(settings: Settings) -> list[tuple[str, tuple[Any, ...]]]:
    """Every row of every table of the store, as (table, row)."""
    db = open_database(settings)
    try:
        if settings.dialect == "sqlite":
            tables = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            tables = [r[0] for r in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert {"orders_events", "import_errors", "marketplace_actions", "sync_cursors",
                "api_keys", "channel_settings"} <= set(tables)
        return [(t, row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"')]
    finally:
        db.close()


def _error_texts(exc: BaseException) -> str:
    """What anyone may print of an error: str, repr, args, attributes, its traceback.

    The traceback includes the chained cause, except for the errors raised from a network
    error whose own message carries the key (contrived: httpx never puts headers in its
    messages). Their cause is the raw httpx error, kept for debugging; only what the client
    writes itself is scrubbed.
    """
    texts = [str(exc), repr(exc), repr(vars(exc)), repr(exc.args)]
    chained_raw = isinstance(exc.__cause__, httpx.RequestError) and "sent " in str(exc.__cause__)
    texts += traceback.format_exception(exc, chain=not chained_raw)
    return "\n".join(texts)


def test_a_planted_marketplace_key_is_never_shown_logged_or_stored(
    settings: Settings, planted_sandbox: LiveServer, capfd: pytest.CaptureFixture[str]
) -> None:
    with debug_logs(capfd) as logs:
        _planted_secret_scenario(settings, planted_sandbox, logs)


def _planted_secret_scenario(
    settings: Settings, planted_sandbox: LiveServer, debug_logs: Stderr
) -> None:
    synced = with_channels(
        settings, planted_sandbox.url,
        laredoute_api_key=SecretStr(PLANTED), laredoute_shop_id=PLANTED_SHOP.shop_id,
        labrandboutique_api_key=SecretStr(PLANTED_WRONG),
        import_interval=0.2, action_interval=0.2,
    )
    market = Harness(synced, planted_sandbox.url)
    admin_key = make_api_key(settings, "admin", "admin-secrets")
    raised: list[BaseException] = []
    try:
        with (LiveServer(create_app(synced)) as service,
              Recorder(service.url, bearer(admin_key)) as api):
            _working_day(market, api, raised)
            _every_read(api)

            # The jobs on their own threads, as the service runs them: the 401 is logged by
            # the scheduler with its traceback.
            market.sync.start()
            eventually(lambda: '"job_failed"' in debug_logs.read()
                       and "import:labrandboutique" in debug_logs.text)
            market.sync.scheduler.stop()
        raised.extend(_client_errors(planted_sandbox.url))
    finally:
        market.close()

    logs = debug_logs.read()
    # The capture saw what it should have: our JSON logs, the libraries' and the requests.
    for expected in ('"request_handled"', '"orders_import_round"', '"order_import_error"',
                     "httpx", "UNAUTHORIZED", '"job_failed"'):
        assert expected in logs, expected
    assert leaks(logs) == [], "a planted secret is in the logs"
    assert leaks(api.seen) == [], "a planted secret is in an API response"
    assert len(api.seen) > 30

    rows = _stored_rows(settings)
    tables = {t for t, _ in rows}
    assert {"orders_events", "import_errors", "marketplace_actions", "sync_cursors"} <= tables
    assert sum(t == "orders_events" for t, _ in rows) >= 7
    assert sum(t == "import_errors" for t, _ in rows) == 2
    assert leaks(row for _, row in rows) == [], [t for t, row in rows if leaks([row])]
    # The events' states were read as they are stored (bytes), and they are what we think.
    states = [bytes(row[3]) for t, row in rows if t == "orders_events"]
    assert any(b"admin-secrets" in state for state in states)
    assert all(b'"correlation_id"' in state for state in states)

    assert len(raised) >= 6
    for exc in raised:
        assert leaks(_error_texts(exc)) == [], repr(exc)
    assert leaks(repr(synced) + str(synced) + repr(synced.channels()) + repr(market.sync)) == []


def _working_day(market: Harness, api: Recorder, raised: list[BaseException]) -> None:
    """Imports, an accept delivered, a shipment, a refused action, a 401, import errors."""
    shop = PLANTED_SHOP.shop_id
    on_time, late = market.generate(2, shop_id=shop, lines=2)
    no_lines = market.generate(1, shop_id=shop, corrupt="no_lines")[0]
    unknown = market.generate(1, shop_id=shop, corrupt="unknown_state")[0]
    market.generate(1, shop_id=2002)  # La Brand Boutique's, never readable with a wrong key

    run = market.import_round()
    assert (run.imported, run.errors) == (2, 2)
    order = market.order(on_time)

    # Accepted over HTTP, delivered, paid by the marketplace, shipped over HTTP, delivered.
    api.post(f"/v1/orders/{order.id}/accept", headers={"If-Match": '"1"'})
    market.deliver_until_settled()
    assert market.raw(on_time)["order_state"] == "WAITING_DEBIT_PAYMENT"
    market.post(f"/orders/{on_time}/payment", {"outcome": "validate"})
    market.import_round()
    current = api.get(f"/v1/orders/{order.id}")
    assert current.json()["status"] == "TOSHIP"
    api.post(f"/v1/orders/{order.id}/ship", headers={"If-Match": current.headers["ETag"]},
             json={"tracking_number": "6A12345678901", "carrier": "Colissimo"})
    market.deliver_until_settled()
    assert market.raw(on_time)["order_state"] == "SHIPPED"

    # The other order's 72 hours run out on the marketplace before we accept it: refused.
    market.post("/clock", {"advance_seconds": 73 * 3600})
    refused = market.order(late)
    api.post(f"/v1/orders/{refused.id}/accept", headers={"If-Match": '"1"'})
    market.deliver_until_settled()
    (action,) = api.get(f"/v1/orders/{refused.id}/actions").json()["actions"]
    assert (action["state"], action["error_code"]) == ("failed", "ORDER_INVALID_STATE")
    api.post(f"/v1/orders/{refused.id}/actions/{action['id']}/retry")
    market.deliver_until_settled()
    market.import_round()
    assert api.get(f"/v1/orders/{refused.id}").json()["status"] == "CANCELED"

    # La Brand Boutique's key is wrong: the marketplace answers 401.
    with pytest.raises(UpstreamRefused) as refused_401:
        market.import_round("labrandboutique")
    assert refused_401.value.status == 401
    raised.append(refused_401.value)

    status = api.get("/v1/sync/status").json()
    channels = {c["channel"]: c for c in status["channels"]}
    assert channels["laredoute"]["last_error"] is None
    assert "401" in channels["labrandboutique"]["last_error"]
    errors = api.get("/v1/import-errors").json()["items"]
    assert {e["marketplace_order_id"] for e in errors} == {no_lines, unknown}


def _every_read(api: Recorder) -> None:
    """Every read route, and a few refusals, as an admin and as nobody."""
    orders = api.get("/v1/orders", params={"limit": 100}).json()["items"]
    assert orders
    for tab in ("new", "waiting_shipment", "shipped", "canceled"):
        api.get("/v1/orders", params={"tab": tab}, expect=None)
    for order in orders:
        api.get(f"/v1/orders/{order['id']}")
        api.get(f"/v1/orders/{order['id']}/events")
        api.get(f"/v1/orders/{order['id']}/actions")
    api.get("/v1/import-errors", params={"include_resolved": "true"})
    api.get("/v1/sync/status")
    api.get("/v1/channels")
    api.request("PUT", "/v1/channels/laredoute", json={"auto_accept": False})
    api.get("/v1/keys")
    page = api.get("/v1/events", params={"limit": 1000}).json()
    assert len(page["items"]) >= 7
    api.get("/openapi.json")
    api.get("/healthz")
    api.get("/readyz")
    api.get("/v1/orders/not-a-uuid", expect=422)
    api.post("/v1/orders/00000000-0000-0000-0000-000000000000/accept",
             headers={"If-Match": '"1"'}, expect=404)
    api.get("/v1/orders", headers={"Authorization": f"Bearer {PLANTED}"}, expect=401)


def _client_errors(sandbox_url: str) -> list[MarketplaceError]:
    """The client's own errors, with a key the marketplace echoes back or never receives."""
    raised: list[MarketplaceError] = []

    def attempt(client: MiraklClient, call: Any) -> None:
        with client, pytest.raises(MarketplaceError) as caught:
            call(client)
        raised.append(caught.value)

    # The sandbox refuses a wrong key, and a right key on another shop.
    attempt(MiraklClient(sandbox_url, PLANTED_WRONG, 2002),
            lambda c: c.list_orders())
    attempt(MiraklClient(sandbox_url, SecretStr(PLANTED), 2001),
            lambda c: c.list_orders())

    # A marketplace (or a proxy) that copies the Authorization header into its answers.
    def echo(status: int) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            key = request.headers["Authorization"]
            return httpx.Response(status, json={"status": status, "code": f"BAD-{key}",
                                                "message": f"rejected key {key}"})
        return httpx.MockTransport(handler)

    for status in (400, 401, 404):
        attempt(MiraklClient("http://marketplace.test", PLANTED, 2003, transport=echo(status)),
                lambda c: c.accept("LRP-1-A", {"L1": True}))
    attempt(MiraklClient("http://marketplace.test", PLANTED, 2003, transport=echo(500),
                         read_retries=1, sleep=lambda _: None),
            lambda c: c.list_orders())
    attempt(MiraklClient("http://marketplace.test", PLANTED, 2003, transport=echo(502)),
            lambda c: c.accept("LRP-1-A", {"L1": True}))

    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text=f"<html>Forbidden for {request.headers['Authorization']}")

    attempt(MiraklClient("http://marketplace.test", PLANTED, 2003,
                         transport=httpx.MockTransport(html)),
            lambda c: c.list_orders())

    # Network errors whose text carries the header, and a port nobody listens on.
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError(f"connection reset, sent {request.headers['Authorization']}",
                              request=request)

    attempt(MiraklClient("http://marketplace.test", PLANTED, 2003, read_retries=0,
                         transport=httpx.MockTransport(broken)),
            lambda c: c.list_orders())
    attempt(MiraklClient("http://marketplace.test", PLANTED, 2003,
                         transport=httpx.MockTransport(broken)),
            lambda c: c.accept("LRP-1-A", {"L1": True}))
    attempt(MiraklClient(f"http://127.0.0.1:{free_port()}", PLANTED, 2003, read_retries=0),
            lambda c: c.list_orders())
    assert {type(e) for e in raised} == {UpstreamRefused, UpstreamUnavailable}
    return raised
