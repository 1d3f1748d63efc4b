"""The section's payment list: who may read it, what each filter finds, pages that skip nothing.

The local stack is shared by the session's tests, so lists hold other tests' payments of the same
section too: these tests look for their own payments in them and never count the whole list.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.services import payments
from chalicelib.store import payments as store
from tests.integration.payments.conftest import ask_refund, staff_headers

SECTION = "koseki-jumin"  # the section of juminhyo-copy, the form with a fee paid first


def _list(client, query: str, headers: dict | None = None) -> tuple[int, dict]:
    response = client.http.get(f"/staff/payments?{query}", headers=headers or staff_headers(SECTION, "staff"))
    return response.status_code, json.loads(response.body)


@pytest.fixture
def intent(owing, resident_api):
    def start(method: str = "paypay") -> str:
        receipt, secret = owing(copies=1)
        status, started = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": method})
        assert status == 201, started
        return started["paymentId"]

    return start


@pytest.fixture
def kinds(intent, paybox, settle):
    """One payment of each kind staff look for: completed, paid after expiry, paid the wrong amount."""
    completed = intent()
    paybox.pay(completed)
    late = intent()
    payments.sweep(datetime.now(UTC) + timedelta(minutes=11))  # expires every open code
    paybox.pay(late, force=True)  # the resident's app paid just as the code went
    mismatch = intent()
    paybox.pay(mismatch, amount=3000)
    paybox.deliver()
    settle()
    assert store.get(completed).status == "completed"
    assert store.get(late).review_reasons == ["paid_after_end"]
    assert store.get(mismatch).review_reasons == ["amount_mismatch"]
    return {"completed": completed, "late": late, "mismatch": mismatch}


def _ids(answer: dict) -> list[str]:
    return [item["paymentId"] for item in answer["items"]]


def test_only_the_sections_staff_may_list_its_payments(client):
    assert client.http.get("/staff/payments?status=needs_review").status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert _list(client, "status=needs_review", bad)[0] == 401
    # Announcers send news; they do not handle money.
    status, error = _list(client, "status=needs_review", staff_headers(SECTION, "announcer"))
    assert status == 403 and error["error"]["code"] == "forbidden"
    # Another section's list is refused, not quietly replaced by one's own.
    status, error = _list(client, "status=needs_review&section=seiso")
    assert (
        status == 403
        and "ほかの課" in error["error"]["message"]
        and "own section" in error["error"]["message"]
    )
    assert _list(client, f"status=needs_review&section={SECTION}")[0] == 200


def test_the_query_is_checked_and_every_problem_named_in_japanese_and_english(client):
    status, error = _list(client, "status=lost&limit=500&colour=red")
    assert status == 400 and error["error"]["code"] == "invalid_query"
    problems = {d["parameter"]: d["message"] for d in error["error"]["details"]}
    assert set(problems) == {"status", "limit", "colour"}
    assert all(" / " in message for message in problems.values())  # ja / en
    assert "flagged" in problems["status"] and "100" in problems["limit"]
    status, error = _list(client, "limit=5")  # neither a status nor a receipt
    assert status == 400 and error["error"]["details"][0]["parameter"] == "status"
    status, error = _list(client, "status=completed&status=failed")
    assert status == 400 and error["error"]["details"][0]["parameter"] == "status"
    status, error = _list(client, "receipt=not-a-receipt")
    assert status == 400 and error["error"]["details"][0]["parameter"] == "receipt"


def test_each_filter_finds_what_needs_the_section_with_what_staff_need(client, kinds):
    status, review = _list(client, "status=needs_review&limit=100")
    assert status == 200
    assert {kinds["late"], kinds["mismatch"]} <= set(_ids(review)) and kinds["completed"] not in _ids(review)

    status, flagged = _list(client, "status=flagged&limit=100")
    # Money to give back is flagged: paid after expiry, and another amount (it never paid the fee).
    assert kinds["late"] in _ids(flagged) and kinds["mismatch"] in _ids(flagged)
    assert kinds["completed"] not in _ids(flagged)
    item = next(i for i in flagged["items"] if i["paymentId"] == kinds["late"])
    stored = store.get(kinds["late"])
    assert item["receipt"] == stored.receipt and item["fee"]["ja"] == "住民票の写しの交付請求"
    assert (item["amountYen"], item["paidAmountYen"], item["method"]) == (300, 300, "paypay")
    assert item["providerPaymentId"] == stored.provider_payment_id and item["flaggedForRefund"] is True
    assert [r["code"] for r in item["reviewReasons"]] == ["paid_after_end"]
    assert "返金" in item["reviewReasons"][0]["ja"] and "refund" in item["reviewReasons"][0]["en"]
    assert item["statusSince"].endswith("+09:00") and item["paidAt"] and item["expiresAt"]
    assert item["href"] == f"/staff/payments/{kinds['late']}"
    # Nothing a stranger could pay with or use: no pay URL, no code, no token.
    assert not {"payUrl", "deeplink", "codeId"} & set(item)

    status, done = _list(client, "status=completed&limit=100")
    assert kinds["completed"] in _ids(done) and kinds["late"] not in _ids(done)
    assert all(i["status"] == "completed" for i in done["items"])

    # The same filters, for another section's staff: none of these.
    status, theirs = _list(client, "status=needs_review&limit=100", staff_headers("seiso", "staff"))
    assert status == 200 and not {kinds["late"], kinds["mismatch"]} & set(_ids(theirs))

    # A refund takes a flagged payment off the flagged list once the money is back.
    response = ask_refund(client, kinds["late"], "期限切れ後のお支払いのため返金")
    assert response.status_code == 202, response.body
    assert kinds["late"] not in _ids(_list(client, "status=flagged&limit=100")[1])
    assert kinds["late"] not in _ids(_list(client, "status=needs_review&limit=100")[1])
    refunded = _list(client, "status=refunded&limit=100")[1]
    assert kinds["late"] in _ids(refunded)

    # ?receipt= still lists one submission's payments, and takes the status filter too.
    status, one = _list(client, f"receipt={stored.receipt.lower()}&status=refunded")
    assert status == 200 and [p["paymentId"] for p in one["payments"]] == [kinds["late"]]


def test_pages_follow_one_another_without_gaps_or_repeats(client, kinds):
    whole = _list(client, "status=needs_review&limit=100")[1]
    assert whole["nextCursor"] is None or len(whole["items"]) == 100
    seen: list[str] = []
    cursor = None
    for _ in range(200):
        query = "status=needs_review&limit=1" + (f"&cursor={cursor}" if cursor else "")
        status, page = _list(client, query)
        assert status == 200 and len(page["items"]) <= 1
        seen += _ids(page)
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))  # nothing twice
    assert seen[: len(whole["items"])] == _ids(whole)  # nothing skipped, same order
    # Newest change first.
    times = [i["statusSince"] for i in whole["items"]]
    assert times == sorted(times, reverse=True)

    first = _list(client, "status=needs_review&limit=1")[1]
    # A cursor belongs to its filter and section: with another, it is refused, not misread.
    status, error = _list(client, f"status=completed&limit=1&cursor={first['nextCursor']}")
    assert status == 400 and error["error"]["code"] == "invalid_cursor"
    status, error = _list(
        client, f"status=needs_review&limit=1&cursor={first['nextCursor']}", staff_headers("seiso", "staff")
    )
    assert status == 400 and error["error"]["code"] == "invalid_cursor"
    status, error = _list(client, "status=needs_review&cursor=eyJxIjoiMSJ9")
    assert status == 400 and error["error"]["code"] == "invalid_cursor"


def test_the_sections_digest_names_the_payments_needing_review_until_they_are_settled(client, kinds):
    from chalicelib.store import digests
    from chalicelib.workers import digest
    from tests.integration.test_digest_job import outbox, sent_since

    now = datetime(2031, 4, 7, 23, 30, tzinfo=UTC)  # 08:30 on 8 April in Tokyo: a day no other test uses
    digests.set_cutoff(SECTION, now - timedelta(hours=2))
    mark = len(outbox())
    digest.run(now=now)
    [sent] = sent_since(mark, SECTION)
    assert "・要確認の支払い" in sent.subject and " payments to review" in sent.subject
    assert "確認が必要なお支払い" in sent.body and "Payments needing review" in sent.body
    assert kinds["late"] in sent.body and kinds["mismatch"] in sent.body
    assert kinds["completed"] not in sent.body
    assert "返金してください" in sent.body and "/staff/payments?status=needs_review" in sent.body


def test_a_refund_waiting_for_approval_stays_in_the_digest_and_on_its_own_list(client, kinds, monkeypatch):
    """Flagged money whose refund a clerk asked for leaves the needs_review list for the
    refund_approval one; the digest goes on naming it until a supervisor approves it."""
    import dataclasses

    from chalicelib.config import get_settings
    from chalicelib.store import digests
    from chalicelib.workers import digest
    from tests.integration.test_digest_job import outbox, sent_since

    monkeypatch.setattr(
        payments, "get_settings", lambda: dataclasses.replace(get_settings(), refund_approval_yen=100)
    )
    late = kinds["late"]
    response = ask_refund(client, late, "期限後のお支払いのため")
    assert response.status_code == 202 and store.get(late).refund_state == "awaiting_approval"
    assert late not in _ids(_list(client, "status=flagged&limit=100")[1])
    assert late in _ids(_list(client, "status=refund_approval&limit=100")[1])

    now = datetime(2031, 4, 8, 23, 30, tzinfo=UTC)  # 08:30 on 9 April in Tokyo: a day no other test uses
    digests.set_cutoff(SECTION, now - timedelta(hours=2))
    mark = len(outbox())
    digest.run(now=now)
    [sent] = sent_since(mark, SECTION)
    assert late in sent.body and "返金の承認待ち" in sent.body and "waiting for approval" in sent.body
    assert "?status=refund_approval" in sent.body
