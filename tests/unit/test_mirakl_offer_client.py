"""The Mirakl client's offer imports (OF01, OF02, OF03) over httpx.MockTransport."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import httpx
import pytest

from app.ports.marketplace import UpstreamRefused, UpstreamUnavailable
from tests.contract.spec import validate_request
from tests.unit.test_mirakl_client import API_KEY, SHOP_ID, Marketplace, make_client

CSV = b"sku;product-id;product-id-type;price;quantity\nA;3601234567894;EAN;19.90;5\n"


def form_fields(request: httpx.Request) -> dict[str, tuple[bytes, str | None, str]]:
    """The multipart fields of a request: name -> (content, file name, content type)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + request.content)
    assert message.is_multipart()
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = (part.get_payload(decode=True), part.get_filename(),
                        part.get_content_type())
    return fields


# ---------------------------------------------------------------- OF01


def test_import_offers_sends_the_file_as_multipart() -> None:
    marketplace = Marketplace(httpx.Response(201, json={"import_id": 2035}))
    client, _ = make_client(marketplace)
    assert client.import_offers(CSV) == "2035"
    request = marketplace.request
    validate_request(request)
    assert request.method == "POST"
    assert request.url.path == "/api/offers/imports"
    assert request.url.params["shop_id"] == str(SHOP_ID)
    assert request.headers["authorization"] == API_KEY
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields = form_fields(request)
    assert fields["file"] == (CSV, "offers.csv", "text/csv")
    assert fields["import_mode"][0] == b"NORMAL"
    assert set(fields) == {"file", "import_mode"}


def test_import_id_given_as_text_is_kept_as_text() -> None:
    client, _ = make_client(Marketplace(httpx.Response(201, json={"import_id": "77"})))
    assert client.import_offers(CSV) == "77"


def test_import_mode_replace_only_when_asked() -> None:
    marketplace = Marketplace(httpx.Response(201, json={"import_id": 1}))
    client, _ = make_client(marketplace)
    client.import_offers(CSV, mode="REPLACE")
    validate_request(marketplace.request)
    assert form_fields(marketplace.request)["import_mode"][0] == b"REPLACE"


@pytest.mark.parametrize("mode", ["normal", "DELETE", ""])
def test_unknown_import_mode_is_refused_before_sending(mode: str) -> None:
    marketplace = Marketplace()
    client, _ = make_client(marketplace)
    with pytest.raises(ValueError):
        client.import_offers(CSV, mode=mode)
    assert marketplace.requests == []


def test_empty_file_is_refused_before_sending() -> None:
    marketplace = Marketplace()
    client, _ = make_client(marketplace)
    with pytest.raises(ValueError):
        client.import_offers(b"  \n")
    assert marketplace.requests == []


def test_import_offers_is_never_retried() -> None:
    marketplace = Marketplace(httpx.Response(503, json={"message": "busy"}))
    client, sleeps = make_client(marketplace)
    with pytest.raises(UpstreamUnavailable) as caught:
        client.import_offers(CSV)
    assert caught.value.status == 503
    assert not caught.value.maybe_applied  # 503: turned away at the door
    assert len(marketplace.requests) == 1
    assert sleeps == []


def test_import_offers_500_may_have_been_applied() -> None:
    client, _ = make_client(Marketplace(httpx.Response(500, text="oops")))
    with pytest.raises(UpstreamUnavailable) as caught:
        client.import_offers(CSV)
    assert caught.value.maybe_applied


def test_import_offers_timeout_may_have_been_applied() -> None:
    marketplace = Marketplace(httpx.ReadTimeout("slow"))
    client, sleeps = make_client(marketplace)
    with pytest.raises(UpstreamUnavailable) as caught:
        client.import_offers(CSV)
    assert caught.value.maybe_applied
    assert len(marketplace.requests) == 1 and sleeps == []


def test_import_offers_connect_error_was_not_applied() -> None:
    client, _ = make_client(Marketplace(httpx.ConnectError("refused")))
    with pytest.raises(UpstreamUnavailable) as caught:
        client.import_offers(CSV)
    assert not caught.value.maybe_applied


def test_import_offers_refused() -> None:
    client, _ = make_client(Marketplace(
        httpx.Response(400, json={"message": "The file is required", "status": 400})))
    with pytest.raises(UpstreamRefused) as caught:
        client.import_offers(CSV)
    assert caught.value.status == 400
    assert caught.value.message == "The file is required"


def test_import_offers_answer_without_id() -> None:
    client, _ = make_client(Marketplace(httpx.Response(201, json={"other": 1})))
    with pytest.raises(UpstreamUnavailable) as caught:
        client.import_offers(CSV)
    assert caught.value.maybe_applied


def test_the_key_stays_out_of_errors() -> None:
    client, _ = make_client(Marketplace(
        httpx.Response(400, json={"message": f"bad key {API_KEY}"})))
    with pytest.raises(UpstreamRefused) as caught:
        client.import_offers(CSV)
    assert API_KEY not in str(caught.value)


# ---------------------------------------------------------------- OF02


OF02_BODY = {
    "import_id": 2035, "date_created": "2026-06-10T08:00:00Z", "mode": "NORMAL",
    "type": "MIRAKL", "status": "COMPLETE", "reason_status": "", "lines_read": 2,
    "lines_in_success": 1, "lines_in_error": 1, "lines_in_pending": 0, "offer_inserted": 1,
    "offer_updated": 0, "offer_deleted": 0, "has_error_report": True,
}


def test_offer_import_reads_the_status() -> None:
    marketplace = Marketplace(httpx.Response(200, json=OF02_BODY))
    client, _ = make_client(marketplace)
    body = client.offer_import("2035")
    assert body["status"] == "COMPLETE" and body["has_error_report"] is True
    validate_request(marketplace.request)
    assert marketplace.request.method == "GET"
    assert marketplace.request.url.path == "/api/offers/imports/2035"
    assert marketplace.request.url.params["shop_id"] == str(SHOP_ID)


def test_offer_import_is_retried() -> None:
    marketplace = Marketplace(httpx.Response(503), httpx.ReadTimeout("slow"),
                              httpx.Response(200, json=OF02_BODY))
    client, sleeps = make_client(marketplace)
    assert client.offer_import("2035")["status"] == "COMPLETE"
    assert len(marketplace.requests) == 3 and len(sleeps) == 2


def test_offer_import_without_status() -> None:
    client, _ = make_client(Marketplace(httpx.Response(200, json={"import_id": 1})))
    with pytest.raises(UpstreamUnavailable):
        client.offer_import("1")


def test_offer_import_unknown() -> None:
    client, _ = make_client(Marketplace(httpx.Response(404, json={"message": "not found"})))
    with pytest.raises(UpstreamRefused) as caught:
        client.offer_import("9")
    assert caught.value.status == 404


def test_offer_import_id_is_required() -> None:
    client, _ = make_client(Marketplace())
    with pytest.raises(ValueError):
        client.offer_import("")


# ---------------------------------------------------------------- OF03


REPORT = b"sku;product-id;error-line;error-message\nA;3601234567894;1;product not found\n"


def test_error_report_is_the_file_as_given() -> None:
    marketplace = Marketplace(httpx.Response(
        200, content=REPORT, headers={"content-type": "application/octet-stream"}))
    client, _ = make_client(marketplace)
    assert client.offer_error_report("2035") == REPORT
    validate_request(marketplace.request)
    assert marketplace.request.url.path == "/api/offers/imports/2035/error_report"
    assert marketplace.request.url.params["shop_id"] == str(SHOP_ID)


def test_no_error_report_is_none() -> None:
    client, _ = make_client(Marketplace(httpx.Response(404, json={"message": "no report"})))
    assert client.offer_error_report("2035") is None


def test_error_report_is_retried_then_gives_up() -> None:
    marketplace = Marketplace(*[httpx.Response(502)] * 3)
    client, sleeps = make_client(marketplace, read_retries=2)
    with pytest.raises(UpstreamUnavailable):
        client.offer_error_report("2035")
    assert len(marketplace.requests) == 3 and len(sleeps) == 2


def test_error_report_other_refusals_are_raised() -> None:
    client, _ = make_client(Marketplace(httpx.Response(403, json={"message": "forbidden"})))
    with pytest.raises(UpstreamRefused):
        client.offer_error_report("2035")
