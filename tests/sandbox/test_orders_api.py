"""OR11 list orders: auth per shop, filters, offset pagination and its order."""

from __future__ import annotations

from tests.sandbox.conftest import Sandbox, assert_mirakl_error


def test_a_missing_or_unknown_api_key_is_refused_with_401(sandbox: Sandbox) -> None:
    import httpx

    bare = httpx.get(f"{sandbox.url}/api/orders")
    assert_mirakl_error(bare, 401)
    wrong = httpx.get(f"{sandbox.url}/api/orders", headers={"Authorization": "Bearer nope"})
    assert_mirakl_error(wrong, 401)
    for path in ("/api/reasons", "/api/shipping/carriers"):
        assert httpx.get(sandbox.url + path).status_code == 401


def test_a_key_sees_only_its_own_shops_orders(sandbox: Sandbox) -> None:
    lr = sandbox.orders(2, shop_id=2001)
    lbb = sandbox.orders(3, shop_id=2002)
    mine = sandbox.lr.get("/api/orders").json()
    assert sorted(o["order_id"] for o in mine["orders"]) == sorted(lr)
    assert {o["channel"]["code"] for o in mine["orders"]} == {"LAREDOUTE"}
    theirs = sandbox.lbb.get("/api/orders", params={"shop_id": 2002}).json()
    assert sorted(o["order_id"] for o in theirs["orders"]) == sorted(lbb)
    assert all(o["order_id"].startswith("LBB-") for o in theirs["orders"])
    # Another shop's order is not found, and naming another shop is refused.
    assert_mirakl_error(sandbox.lr.put(f"/api/orders/{lbb[0]}/ship"), 404, "ORDER_NOT_FOUND")
    assert_mirakl_error(sandbox.lr.get("/api/orders", params={"shop_id": 2002}), 401)


def test_pages_follow_created_date_then_order_id_with_total_count(sandbox: Sandbox) -> None:
    first = sandbox.orders(12)
    sandbox.advance(60)
    later = sandbox.orders(3)
    expected = sorted(first) + sorted(later)
    seen = []
    for offset in (0, 10):
        page = sandbox.lr.get("/api/orders", params={"offset": offset}).json()
        assert page["total_count"] == 15
        seen += [o["order_id"] for o in page["orders"]]
    assert seen == expected  # default page size 10, so two pages
    small = sandbox.lr.get("/api/orders", params={"max": 4, "offset": 12}).json()
    assert [o["order_id"] for o in small["orders"]] == expected[12:]


def test_page_size_is_capped_at_100_and_bad_paging_is_a_400(sandbox: Sandbox) -> None:
    sandbox.orders(105)
    page = sandbox.lr.get("/api/orders", params={"max": 500}).json()
    assert len(page["orders"]) == 100 and page["total_count"] == 105
    assert_mirakl_error(sandbox.lr.get("/api/orders", params={"max": 0}), 400, "VALIDATION_ERROR")
    assert_mirakl_error(sandbox.lr.get("/api/orders", params={"offset": -1}), 400)
    assert_mirakl_error(sandbox.lr.get("/api/orders", params={"start_date": "yesterday"}), 400)


def test_filters_by_ids_states_and_channel(sandbox: Sandbox) -> None:
    a, b, c = sandbox.orders(3)
    sandbox.to_shipping(b)

    def ids(**params: str) -> list[str]:
        return sorted(o["order_id"] for o in sandbox.lr.get("/api/orders", params=params)
                      .json()["orders"])

    assert ids(order_ids=f"{a},{c}") == sorted([a, c])
    assert ids(order_state_codes="SHIPPING") == [b]
    assert ids(order_state_codes="WAITING_ACCEPTANCE,SHIPPING") == sorted([a, b, c])
    assert ids(channel_codes="LAREDOUTE") == sorted([a, b, c])
    assert ids(channel_codes="LABRANDBOUTIQUE") == []


def test_filters_by_creation_and_update_dates(sandbox: Sandbox) -> None:
    old = sandbox.order()
    sandbox.advance(3600)
    mark = sandbox.control.get("/clock").json()["now"]
    # The filters include both ends and the clock keeps milliseconds: nothing may happen in
    # the same millisecond as a mark.
    sandbox.advance(1)
    new = sandbox.order()
    sandbox.advance(3600)
    later = sandbox.control.get("/clock").json()["now"]
    sandbox.advance(1)
    sandbox.accept(old)  # updated after `later`, created before `mark`

    def ids(**params: str) -> list[str]:
        return sorted(o["order_id"] for o in sandbox.lr.get("/api/orders", params=params)
                      .json()["orders"])

    assert ids(start_date=mark) == [new]
    assert ids(end_date=mark) == [old]
    assert ids(start_update_date=later) == [old]
    assert ids(start_update_date=mark, end_update_date=later) == [new]


def test_reasons_and_carriers_are_the_marketplaces_lists(sandbox: Sandbox) -> None:
    reasons = sandbox.lr.get("/api/reasons").json()
    assert reasons["total_count"] == len(reasons["reasons"])
    types = {r["type"] for r in reasons["reasons"]}
    assert types == {"REFUND", "CANCELATION"}
    damaged = next(r for r in reasons["reasons"] if r["code"] == "DAMAGED_PRODUCT")
    assert damaged["label"] == "Produit endommagé à la livraison"
    carriers = sandbox.lr.get("/api/shipping/carriers").json()["carriers"]
    labels = [c["label"] for c in carriers]
    assert {"Colissimo", "Chronopost", "DHL", "UPS", "GLS", "DPD", "Mondial Relay",
            "Colis Privé"} == set(labels)
    assert labels == sorted(labels, key=str.casefold)
    assert all("{trackingId}" in c["tracking_url"] for c in carriers)
