"""A small client for the Mirakl seller API of one La Redoute shop (OR11, OR21...OR30, OF01...OF03,
RE01, SH21, AF01).

It speaks HTTP and nothing else: no order state lives here. Two rules shape it:

- Only reads retry on their own. A GET is safe to repeat, so network errors, timeouts, 429 and
  500/502/503/504 are retried with exponential backoff and full jitter (Retry-After wins when
  the marketplace gives one). A PUT is never repeated here: the marketplace may have applied
  it before the answer was lost, so the caller gets `UpstreamUnavailable.maybe_applied` and
  decides (usually: read the order back, then retry if nothing changed).
- The API key never leaves the Authorization header: not in logs, exceptions or repr.

Response bodies are decoded with JSON numbers as Decimal, so money never passes through float.
"""

from __future__ import annotations

import email.utils
import json
import math
import random as _random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from pydantic import SecretStr

from app.ports.marketplace import (
    CancelLine,
    MarketplaceError,
    OrdersPage,
    RefundLine,
    UpstreamRefused,
    UpstreamUnavailable,
)

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=5.0)
MAX_PAGE_SIZE = 100  # OR11 never returns more than 100 orders a page
MAX_ORDER_IDS = 100
OFFER_IMPORT_MODES = ("NORMAL", "REPLACE")

_CENT = Decimal("0.01")
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses that say the request was not processed: 429 and 503 turn it away at the door,
# 501 has nothing to run it. Any other 5xx may come after the change was made.
_UNPROCESSED_STATUSES = frozenset({429, 501, 503})
# Failures after which repeating a read can help.
_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
# Failures that happen before a single byte of the request reached the marketplace.
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


class MiraklClient:
    """The seller API of one shop; one instance per (base URL, shop, API key)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr,
        shop_id: int | None = None,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        read_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not key.get_secret_value().strip():
            raise ValueError("the Mirakl API key is empty")
        if read_retries < 0:
            raise ValueError("read_retries must be 0 or more")
        self.base_url = base_url
        self.shop_id = shop_id
        self._api_key = key
        self._read_retries = read_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._random = random
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers={"Authorization": key.get_secret_value(), "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"MiraklClient(base_url={self.base_url!r}, shop_id={self.shop_id!r})"

    def __enter__(self) -> MiraklClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ---------------------------------------------------------------- orders: reads

    def list_orders(
        self,
        *,
        start_update_date: datetime | None = None,
        order_ids: Sequence[str] | None = None,
        states: Sequence[str] | None = None,
        offset: int = 0,
        max: int = MAX_PAGE_SIZE,  # noqa: A002 - the API's own name for the page size
    ) -> OrdersPage:
        """OR11: one page of orders, oldest created first."""
        if offset < 0:
            raise ValueError("offset must be 0 or more")
        if not 1 <= max <= MAX_PAGE_SIZE:
            raise ValueError(f"max must be between 1 and {MAX_PAGE_SIZE}")
        params: dict[str, str | int] = {}
        if order_ids is not None:
            params["order_ids"] = _comma_list("order_ids", order_ids, limit=MAX_ORDER_IDS)
        if states is not None:
            params["order_state_codes"] = _comma_list("states", states)
        if start_update_date is not None:
            params["start_update_date"] = _utc_text(start_update_date)
        params["offset"] = offset
        params["max"] = max
        body = self._get_json("OR11", "/api/orders", params)
        orders = body.get("orders")
        total_count = body.get("total_count")
        if (
            not isinstance(orders, list)
            or not all(isinstance(order, dict) for order in orders)
            or not isinstance(total_count, int)
            or isinstance(total_count, bool)
        ):
            raise UpstreamUnavailable("OR11", "the answer has no orders list and total_count")
        return OrdersPage(orders=orders, total_count=total_count, offset=offset)

    def iter_order_pages(
        self, *, start_update_date: datetime | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[OrdersPage]:
        """Every page of OR11, by offset, until the total is reached or a page comes back empty.

        The offset moves by the number of orders actually returned, so a marketplace that
        caps pages below `page_size` skips nothing.
        """
        offset = 0
        while True:
            page = self.list_orders(
                start_update_date=start_update_date, offset=offset, max=page_size
            )
            yield page
            offset += len(page.orders)
            if not page.orders or offset >= page.total_count:
                return

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        """OR11 filtered on one id: the order, or None if this shop has no such order."""
        page = self.list_orders(order_ids=[_required("order_id", order_id)], max=1)
        for order in page.orders:
            if order.get("order_id") == order_id:
                return order
        return None

    # ---------------------------------------------------------------- orders: writes

    def accept(self, order_id: str, decisions: Mapping[str, bool]) -> None:
        """OR21: accept (True) or refuse (False) each line; every line must have a decision."""
        if not decisions:
            raise ValueError("decisions is empty: give one decision per order line")
        lines = [
            {"accepted": bool(accepted), "id": _required("order line id", line_id)}
            for line_id, accepted in decisions.items()
        ]
        self._put("OR21", _order_path(order_id, "accept"), {"order_lines": lines})

    def update_tracking(
        self,
        order_id: str,
        *,
        tracking_number: str,
        carrier_code: str | None = None,
        carrier_name: str | None = None,
        carrier_url: str | None = None,
    ) -> None:
        """OR23: the parcel's tracking; a carrier unknown to the marketplace needs name and URL."""
        body = {
            "carrier_code": carrier_code,
            "carrier_name": carrier_name,
            "carrier_url": carrier_url,
            "tracking_number": _required("tracking_number", tracking_number),
        }
        # The spec allows no nulls: fields we do not know are left out.
        self._put(
            "OR23",
            _order_path(order_id, "tracking"),
            {key: value for key, value in body.items() if value is not None},
        )

    def ship(self, order_id: str) -> None:
        """OR24: confirm the shipment (the tracking goes first, with OR23)."""
        self._put("OR24", _order_path(order_id, "ship"), None)

    def refund(
        self, refunds: Sequence[RefundLine], *, tax_mode: str | None = None
    ) -> list[dict[str, Any]]:
        """OR28: ask for refunds; the answer lists the refunds created (one order_refund_id).

        `tax_mode` is the order's (TAX_INCLUDED or TAX_EXCLUDED): the amounts are read in it.
        """
        if not refunds:
            raise ValueError("refunds is empty")
        body: dict[str, Any] = {
            "refunds": [
                {
                    "amount": _cents("amount", line.amount),
                    "order_line_id": _required("order_line_id", line.order_line_id),
                    # Informative only: a refund of shipping alone has quantity 0.
                    "quantity": _count("quantity", line.quantity, minimum=0),
                    "reason_code": _required("reason_code", line.reason_code),
                    "shipping_amount": _cents("shipping_amount", line.shipping_amount),
                    **_money_parts(line),
                }
                for line in refunds
            ]
        }
        if tax_mode is not None:
            body["order_tax_mode"] = _tax_mode(tax_mode)
        answer = self._put("OR28", "/api/orders/refund", body)
        return _list_of_objects("OR28", answer, "refunds", maybe_applied=True)

    def cancel_order(self, order_id: str) -> None:
        """OR29: cancel the whole order (before shipment)."""
        self._put("OR29", _order_path(order_id, "cancel"), None)

    def cancel_lines(
        self, cancelations: Sequence[CancelLine], *, tax_mode: str | None = None
    ) -> list[dict[str, Any]]:
        """OR30: cancel quantities of some lines; the answer lists the cancelations created."""
        if not cancelations:
            raise ValueError("cancelations is empty")
        body: dict[str, Any] = {
            "cancelations": [
                {
                    "amount": _cents("amount", line.amount),
                    "order_line_id": _required("order_line_id", line.order_line_id),
                    "quantity": _count("quantity", line.quantity),
                    "reason_code": _required("reason_code", line.reason_code),
                    "shipping_amount": _cents("shipping_amount", line.shipping_amount),
                    **_money_parts(line),
                }
                for line in cancelations
            ]
        }
        if tax_mode is not None:
            body["order_tax_mode"] = _tax_mode(tax_mode)
        answer = self._put("OR30", "/api/orders/cancel", body)
        return _list_of_objects("OR30", answer, "cancelations", maybe_applied=True)

    # ---------------------------------------------------------------- offers

    def import_offers(self, csv_bytes: bytes, *, mode: str = "NORMAL") -> str:
        """OF01: send an offer file (CSV); the marketplace's import id, to follow with OF02.

        A write: never repeated here. NORMAL adds and updates the offers of the file; REPLACE
        would also delete every offer the file does not list, so callers choose it on purpose.
        """
        if mode not in OFFER_IMPORT_MODES:
            raise ValueError(f"mode must be one of {', '.join(OFFER_IMPORT_MODES)}")
        if not isinstance(csv_bytes, bytes) or not csv_bytes.strip():
            raise ValueError("the offer file is empty")
        response = self._post_form(
            "OF01",
            "/api/offers/imports",
            files={"file": ("offers.csv", csv_bytes, "text/csv")},
            data={"import_mode": mode},
        )
        body = self._json_object("OF01", response, maybe_applied=True)
        import_id = body.get("import_id")
        if isinstance(import_id, bool) or not isinstance(import_id, int | str) or not str(
            import_id
        ).strip():
            raise UpstreamUnavailable("OF01", "the answer has no import_id", maybe_applied=True)
        return str(import_id)

    def offer_import(self, import_id: str) -> dict[str, Any]:
        """OF02: an offer import's status (WAITING, RUNNING, COMPLETE, FAILED...) and counts."""
        body = self._get_json("OF02", _import_path(import_id), {})
        if not isinstance(body.get("status"), str):
            raise UpstreamUnavailable("OF02", "the answer has no status")
        return body

    def offer_error_report(self, import_id: str) -> bytes | None:
        """OF03: the lines in error of an import, as sent plus "error-line" and
        "error-message"; None when the import has no error report."""
        try:
            response = self._call("OF03", "GET", _import_path(import_id) + "/error_report")
        except UpstreamRefused as exc:
            if exc.status == 404:
                return None
            raise
        return response.content

    # ---------------------------------------------------------------- settings

    def reasons(self) -> list[dict[str, Any]]:
        """RE01: the reason codes (refund, cancelation...) the marketplace accepts."""
        body = self._get_json("RE01", "/api/reasons", {})
        return _list_of_objects("RE01", body, "reasons", maybe_applied=False)

    def carriers(self) -> list[dict[str, Any]]:
        """SH21: the carriers the marketplace knows, with their codes and tracking URLs."""
        body = self._get_json("SH21", "/api/shipping/carriers", {})
        return _list_of_objects("SH21", body, "carriers", maybe_applied=False)

    def offer_additional_fields(self) -> list[dict[str, Any]]:
        """AF01 (entities=OFFER): the custom offer fields the shop declares, with their code,
        type, whether they are required and their accepted values. The spec allows one call
        a day: callers keep the answer."""
        body = self._get_json("AF01", "/api/additional_fields", {"entities": "OFFER"})
        fields = _list_of_objects("AF01", body, "additional_fields", maybe_applied=False)
        return [f for f in fields if f.get("entity") in (None, "OFFER")]

    # ---------------------------------------------------------------- HTTP

    def _get_json(
        self, operation: str, path: str, params: Mapping[str, str | int]
    ) -> dict[str, Any]:
        response = self._call(operation, "GET", path, params=params)
        return self._json_object(operation, response, maybe_applied=False)

    def _put(self, operation: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        response = self._call(operation, "PUT", path, body=body)
        if not response.content:
            return {}
        # The write went through (2xx): a garbled answer must not hide that.
        return self._json_object(operation, response, maybe_applied=True)

    def _post_form(
        self,
        operation: str,
        path: str,
        *,
        files: Mapping[str, tuple[str, bytes, str]],
        data: Mapping[str, str],
    ) -> httpx.Response:
        """Send a multipart/form-data POST once (a write: never repeated here)."""
        query: dict[str, str | int] = {}
        if self.shop_id is not None:
            query["shop_id"] = self.shop_id
        request = self._http.build_request(
            "POST", path, params=query, files=dict(files), data=dict(data)
        )
        try:
            response = self._send(operation, request, 1)
        except httpx.RequestError as exc:
            raise self._unavailable_after(operation, exc, is_write=True) from exc
        if not response.is_success:
            raise self._error_for(operation, response, is_write=True)
        return response

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send once, or for a GET up to 1 + read_retries times; raise our own errors."""
        query = dict(params or {})
        if self.shop_id is not None:
            query["shop_id"] = self.shop_id
        request = self._http.build_request(
            method,
            path,
            params=query,
            content=_json_bytes(body) if body is not None else None,
            headers={"Content-Type": "application/json"} if body is not None else None,
        )
        is_read = method == "GET"
        attempt = 0
        while True:
            attempt += 1
            error: MarketplaceError
            retryable: bool
            try:
                response = self._send(operation, request, attempt)
            except httpx.RequestError as exc:
                error = self._unavailable_after(operation, exc, is_write=not is_read)
                retryable = isinstance(exc, _RETRYABLE_ERRORS)
                cause: BaseException | None = exc
            else:
                if response.is_success:
                    return response
                error = self._error_for(operation, response, is_write=not is_read)
                retryable = response.status_code in _RETRYABLE_STATUSES
                cause = None
            if not (is_read and retryable and attempt <= self._read_retries):
                raise error from cause
            self._wait_before_retry(operation, method, attempt, error)

    def _send(self, operation: str, request: httpx.Request, attempt: int) -> httpx.Response:
        started = time.perf_counter()
        fields = {
            "operation": operation,
            "method": request.method,
            "path": request.url.path,
            "attempt": attempt,
        }
        try:
            response = self._http.send(request)
        except httpx.RequestError as exc:
            log.info(
                "mirakl_call",
                **fields,
                status=None,
                error=type(exc).__name__,
                duration_ms=_elapsed_ms(started),
            )
            raise
        log.info(
            "mirakl_call", **fields, status=response.status_code, duration_ms=_elapsed_ms(started)
        )
        return response

    def _wait_before_retry(
        self, operation: str, method: str, attempt: int, error: MarketplaceError
    ) -> None:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            delay = min(retry_after, self._backoff_max)
        else:
            # Full jitter: clients that failed together do not come back together.
            ceiling = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
            delay = self._random() * ceiling
        log.info(
            "mirakl_retry",
            operation=operation,
            method=method,
            attempt=attempt,
            status=getattr(error, "status", None),
            reason=getattr(error, "reason", None),
            delay_s=round(delay, 3),
        )
        self._sleep(delay)

    def _unavailable_after(
        self, operation: str, exc: httpx.RequestError, *, is_write: bool
    ) -> UpstreamUnavailable:
        reason = self._scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return UpstreamUnavailable(
            operation, reason, maybe_applied=is_write and not isinstance(exc, _NOT_SENT_ERRORS)
        )

    def _error_for(
        self, operation: str, response: httpx.Response, *, is_write: bool
    ) -> MarketplaceError:
        status = response.status_code
        if 400 <= status < 500 and status != 429:
            code, message = self._error_body(response)
            if status == 401:
                code = "UNAUTHORIZED"
            return UpstreamRefused(operation, status, code, message)
        _, message = self._error_body(response)
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
        processed = status >= 500 and status not in _UNPROCESSED_STATUSES
        return UpstreamUnavailable(
            operation,
            f"HTTP {status}: {message}",
            status=status,
            retry_after=retry_after,
            maybe_applied=is_write and processed,
        )

    def _error_body(self, response: httpx.Response) -> tuple[str | None, str]:
        """The Mirakl error body's code and message; a proxy's HTML page gives its first words."""
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = body.get("code") if isinstance(body.get("code"), str) else None
            message = body.get("message") if isinstance(body.get("message"), str) else None
        else:
            code = message = None
        if not message:
            message = " ".join(response.text.split())[:200] or response.reason_phrase
        return (self._scrub(code) if code else None), self._scrub(message or "")

    def _json_object(
        self, operation: str, response: httpx.Response, *, maybe_applied: bool
    ) -> dict[str, Any]:
        try:
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise UpstreamUnavailable(
                operation,
                "the answer is not a JSON object",
                status=response.status_code,
                maybe_applied=maybe_applied,
            )
        return body

    def _scrub(self, text: str) -> str:
        """Text copied from elsewhere, with the API key masked should it appear in it."""
        return text.replace(self._api_key.get_secret_value(), "**********")


# -------------------------------------------------------------------- helpers


def _import_path(import_id: str) -> str:
    return f"/api/offers/imports/{quote(_required('import_id', str(import_id)), safe='')}"


def _order_path(order_id: str, action: str) -> str:
    return f"/api/orders/{quote(_required('order_id', order_id), safe='')}/{action}"


def _required(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is required")
    return value


def _count(name: str, value: int, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}")
    return value


def _cents(name: str, value: Decimal) -> Decimal:
    """An amount to the cent; floats and fractions of cents are refused, not rounded."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(_CENT):
        raise ValueError(f"{name} must be a positive amount or 0, to the cent")
    return amount.quantize(_CENT)


_TAX_MODES = ("TAX_INCLUDED", "TAX_EXCLUDED")


def _tax_mode(value: str) -> str:
    if value not in _TAX_MODES:
        raise ValueError(f"order_tax_mode must be one of {', '.join(_TAX_MODES)}")
    return value


def _money_parts(line: RefundLine | CancelLine) -> dict[str, Any]:
    """The taxes, shipping taxes and fees of an OR28 / OR30 line, and its currency: each
    list only when the line has such codes (the marketplace wants them when the order has)."""
    parts: dict[str, Any] = {}
    for key in ("taxes", "shipping_taxes", "fees"):
        amounts = getattr(line, key)
        if amounts:
            parts[key] = [
                {"amount": _cents(f"{key}.amount", amount), "code": _required(f"{key}.code", code)}
                for code, amount in amounts.items()
            ]
    if line.currency is not None:
        parts["currency_iso_code"] = line.currency
    return parts


def _comma_list(name: str, values: Sequence[str], *, limit: int | None = None) -> str:
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of strings, not one string")
    items = [_required(name, value) for value in values]
    if not items:
        raise ValueError(f"{name} is empty: leave it out to list everything")
    if any("," in item for item in items):
        raise ValueError(f"{name} cannot contain commas")
    if limit is not None and len(items) > limit:
        raise ValueError(f"{name} has {len(items)} values; at most {limit} are allowed")
    return ",".join(items)


def _utc_text(moment: datetime) -> str:
    """ISO-8601 in UTC with Z, to the millisecond (truncated, so a start date never moves later)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("dates sent to the marketplace must carry a time zone")
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _json_bytes(value: Any) -> bytes:
    """JSON in which each Decimal is written as a number with exactly two decimals."""
    return _json_text(value).encode("utf-8")


def _json_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if value is None or isinstance(value, str | bool | int):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{_json_text(v)}"
            for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    raise TypeError(f"cannot send a {type(value).__name__} to the marketplace")


def _list_of_objects(
    operation: str, body: Mapping[str, Any], key: str, *, maybe_applied: bool
) -> list[dict[str, Any]]:
    items = body.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise UpstreamUnavailable(
            operation, f"the answer has no {key} list", maybe_applied=maybe_applied
        )
    return items


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_PAGE_SIZE",
    "CancelLine",
    "MiraklClient",
    "OrdersPage",
    "RefundLine",
]
