"""AF01 as the client sends it: a valid request for the offer fields, answered as the spec
says, read back; a read, so retried like the others."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.adapters.laredoute import MiraklClient
from app.ports.marketplace import UpstreamRefused, UpstreamUnavailable
from tests.contract.test_client_requests import always, client_for

FIELDS: list[dict[str, Any]] = [
    {"code": "delivery-fee", "label": "Frais de livraison", "type": "NUMERIC",
     "required": True, "editable": True, "entity": "OFFER"},
    {"code": "colour", "label": "Couleur", "type": "LIST", "required": False,
     "editable": True, "entity": "OFFER", "accepted_values": ["red", "blue"]},
    # A marketplace answering more than asked: not an offer field, left out.
    {"code": "gift-message", "label": "Message", "type": "STRING", "required": False,
     "editable": True, "entity": "ORDER_LINE"},
]


def test_offer_additional_fields_is_a_valid_af01_for_offers() -> None:
    client, market = client_for(always(200, {"additional_fields": FIELDS, "total_count": 3}))

    fields = client.offer_additional_fields()

    assert [f["code"] for f in fields] == ["delivery-fee", "colour"]
    (request,) = market.requests
    assert (request.method, request.url.path) == ("GET", "/api/additional_fields")
    assert dict(request.url.params) == {"entities": "OFFER", "shop_id": "2001"}


def plain_client(answers: list[httpx.Response]) -> tuple[MiraklClient, list[httpx.Request]]:
    """A client over a marketplace answering outside the spec (AF01 documents 200 only)."""
    seen: list[httpx.Request] = []
    replies = iter(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(replies)

    client = MiraklClient("http://127.0.0.1:8900", "sandbox-laredoute-key", 2001,
                          transport=httpx.MockTransport(answer), sleep=lambda _: None)
    return client, seen


def test_af01_is_retried_like_other_reads() -> None:
    client, seen = plain_client([
        httpx.Response(503, json={"status": 503, "message": "busy"}),
        httpx.Response(200, json={"additional_fields": FIELDS[:1], "total_count": 1}),
    ])
    assert [f["code"] for f in client.offer_additional_fields()] == ["delivery-fee"]
    assert len(seen) == 2


def test_an_af01_refusal_is_the_callers() -> None:
    client, seen = plain_client([httpx.Response(403, json={"status": 403,
                                                           "message": "Forbidden"})])
    with pytest.raises(UpstreamRefused) as refused:
        client.offer_additional_fields()
    assert (refused.value.operation, refused.value.status) == ("AF01", 403)
    assert len(seen) == 1  # a refusal is not retried


def test_an_af01_answer_without_its_list_is_unusable() -> None:
    client, _ = plain_client([httpx.Response(200, json={"total_count": 0})])
    with pytest.raises(UpstreamUnavailable, match="additional_fields"):
        client.offer_additional_fields()
