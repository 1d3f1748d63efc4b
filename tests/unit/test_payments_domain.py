"""Payment rules without I/O: status from the log, provider answers, ids, fees, reconciliation, signatures."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.paypay import opa_authorization
from chalicelib.domain import payments as rules
from chalicelib.domain.forms import fee_for, get_form
from chalicelib.domain.payment_webhooks import (
    InvalidWebhook,
    check_paypay,
    check_stripe,
    stripe_signature_valid,
)

T0 = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)


def entry(state, minutes=0, amount=None, pid=None):
    return rules.LogEntry(state, T0 + timedelta(minutes=minutes), amount, pid)


AWAIT = entry("awaiting_payment")
PAID = entry("completed", 3, 600, "P1")


@pytest.mark.parametrize(
    ("log", "status"),
    [
        ([], "created"),
        ([entry("created")], "created"),
        ([AWAIT], "awaiting_payment"),
        ([AWAIT, PAID], "completed"),
        ([AWAIT, entry("failed", 2)], "failed"),
        ([AWAIT, entry("expired", 10)], "expired"),
        ([AWAIT, entry("canceled", 10)], "canceled"),
        ([PAID, entry("refund_requested", 5, 600, "P1")], "refund_requested"),
        ([PAID, entry("refund_requested", 5, 600, "P1"), entry("refunded", 6, 600, "P1")], "refunded"),
    ],
)
def test_status_follows_the_lifecycle(log, status):
    assert rules.derive(log, 600).status == status


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        ([AWAIT, entry("expired", 10), entry("completed", 12, 600, "P1")], "paid_after_end"),
        ([AWAIT, entry("canceled", 1), PAID], "paid_after_end"),
        ([AWAIT, entry("failed", 1), PAID], "paid_after_end"),
        ([AWAIT, entry("completed", 3, 500, "P1")], "amount_mismatch"),
        ([AWAIT, entry("refunded", 3, 600, "P1")], "refund_without_payment"),
    ],
)
def test_a_log_that_makes_no_sense_needs_review_never_a_guess(log, reason):
    derived = rules.derive(log, 600)
    assert derived.status == "needs_review" and reason in derived.reasons


def test_refunding_a_flagged_payment_settles_it():
    late = [AWAIT, entry("expired", 10), entry("completed", 12, 600, "P1"), entry("refunded", 20, 600, "P1")]
    derived = rules.derive(late, 600)
    assert derived.status == "refunded" and derived.reasons == ("paid_after_end",)


def test_money_received_is_known_even_when_the_log_needs_review():
    derived = rules.derive([AWAIT, entry("expired", 10), entry("completed", 12, 600, "P1")], 600)
    assert derived.paid and derived.amount_paid == 600 and derived.provider_payment_id == "P1"


LOGS = st.lists(
    st.sampled_from(
        [
            AWAIT,
            PAID,
            entry("expired", 10),
            entry("refund_requested", 5, 600, "P1"),
            entry("refunded", 6, 600, "P1"),
            entry("failed", 2),
        ]
    ),
    max_size=8,
)


@given(LOGS, st.randoms())
def test_order_and_duplicates_do_not_change_the_status(log, rnd):
    shuffled = list(log) * 2
    rnd.shuffle(shuffled)
    assert rules.derive(shuffled, 600) == rules.derive(log, 600)


def test_paypay_answers_map_to_confirmed_states():
    now = T0
    assert [e.state for e in rules.paypay_states(None, now=now)] == ["awaiting_payment"]
    assert [e.state for e in rules.paypay_states({"status": "CREATED"}, now=now)] == ["awaiting_payment"]
    paid = rules.paypay_states(
        {"status": "COMPLETED", "paymentId": "P1", "amount": {"amount": 600}, "acceptedAt": 1796200000},
        now=now,
    )
    assert paid == [rules.LogEntry("completed", datetime.fromtimestamp(1796200000, UTC), 600, "P1")]
    refunded = rules.paypay_states(
        {"status": "REFUNDED", "paymentId": "P1", "amount": {"amount": 600}}, now=now
    )
    assert [e.state for e in refunded] == ["completed", "refunded"]
    with pytest.raises(rules.PaymentRuleError):
        rules.paypay_states({"status": "WHATEVER"}, now=now)


def test_stripe_sessions_map_to_confirmed_states_a_declined_card_is_not_an_end():
    assert [e.state for e in rules.stripe_states({"status": "open", "payment_status": "unpaid"}, now=T0)] == [
        "awaiting_payment"
    ]
    assert [e.state for e in rules.stripe_states({"status": "expired"}, now=T0)] == ["expired"]
    session = {
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": {
            "id": "pi_1",
            "status": "succeeded",
            "amount_received": 600,
            "latest_charge": {
                "created": 1796200000,
                "refunds": {"data": [{"status": "succeeded", "amount": 600}]},
            },
        },
    }
    assert [e.state for e in rules.stripe_states(session, now=T0)] == [
        "completed",
        "refund_requested",
        "refunded",
    ]


def test_payment_ids_are_per_attempt_and_refund_ids_fixed():
    assert rules.payment_id("KTS-2612-AB3D", "paypay", 1) == "KTS-2612-AB3D-PP01"
    assert rules.payment_id("KTS-2612-AB3D", "card", 12) == "KTS-2612-AB3D-CD12"
    assert (
        rules.refund_id("KTS-2612-AB3D-PP01")
        == rules.refund_id("KTS-2612-AB3D-PP01")
        == "KTS-2612-AB3D-PP01-RF1"
    )
    assert rules.receipt_of("KTS-2612-AB3D-PP01") == "KTS-2612-AB3D"
    with pytest.raises(rules.PaymentRuleError):
        rules.payment_id("KTS-2612-AB3D", "cash", 1)


def test_fees_come_from_the_form_with_their_timing():
    juminhyo = get_form("juminhyo-copy")
    by_post = {**juminhyo.example, "copies": 3, "delivery": "mail"}
    assert rules.fee_plan(juminhyo.meta, by_post, fee_for(juminhyo, by_post)) == rules.FeePlan(
        900, "before_received"
    )
    at_counter = {**by_post, "delivery": "counter"}
    assert rules.fee_plan(juminhyo.meta, at_counter, fee_for(juminhyo, at_counter)) is None
    bulky = get_form("bulky-waste-collection")
    plan = rules.fee_plan(bulky.meta, bulky.example, fee_for(bulky, bulky.example))
    assert plan.timing == "after_approval" and plan.amount_yen == fee_for(bulky, bulky.example)
    assert rules.fee_plan(get_form("inquiry").meta, {}, None) is None
    assert not rules.payable(plan, "received") and rules.payable(plan, "in_review")


def test_reconciliation_finds_each_difference_and_is_deterministic():
    ours = [
        rules.Settled("A-PP01", "paypay", 300, section="s", form_id="f"),
        rules.Settled("B-PP01", "paypay", 600, section="s", form_id="f"),
        rules.Settled("C-CD01", "card", 300, section="s", form_id="g"),
    ]
    theirs = [
        rules.Settled("A-PP01", "paypay", 300),
        rules.Settled("C-CD01", "card", 3000),
        rules.Settled("D-PP01", "paypay", 400),
    ]
    result = rules.reconcile("2026-12-02", ours, theirs)
    assert [(d.kind, d.payment_id) for d in result.differences] == [
        ("missing_there", "B-PP01"),
        ("amount_mismatch", "C-CD01"),
        ("missing_here", "D-PP01"),
    ]
    assert result.matched == 1 and result.totals == {
        "paypay": {"count": 2, "amountYen": 900},
        "card": {"count": 1, "amountYen": 300},
    }
    shuffled_ours, shuffled_theirs = list(ours), list(theirs)
    random.Random(1).shuffle(shuffled_ours)
    random.Random(2).shuffle(shuffled_theirs)
    assert rules.reconcile("2026-12-02", shuffled_ours, shuffled_theirs) == result
    csvs = rules.accounting_csvs(ours)
    assert set(csvs) == {("s", "f"), ("s", "g")} and csvs[("s", "f")].splitlines()[-1] == "total,,,,2,900"


def test_tokyo_days():
    assert rules.tokyo_day(datetime(2026, 12, 2, 15, 0, tzinfo=UTC)) == "2026-12-03"
    start, end = rules.day_bounds("2026-12-03")
    assert start == datetime(2026, 12, 2, 15, 0, tzinfo=UTC) and end - start == timedelta(days=1)


def test_opa_authorization_matches_paypays_published_example():
    body = b'{"sampleRequestBodyKey1":"sampleRequestBodyValue1","sampleRequestBodyKey2":"sampleRequestBodyValue2"}'
    header = opa_authorization(
        "APIKeyGenerated",
        "APIKeySecretGenerated",
        "POST",
        "/v2/codes",
        body,
        nonce="acd028",
        epoch=1579843452,
    )
    assert header == (
        "hmac OPA-Auth:APIKeyGenerated:NW1jKIMnzR7tEhMWtcJcaef+nFVBt7jjAGcVuxHhchc=:acd028:1579843452:"
        "1j0FnY4flNp5CtIKa7x9MQ=="
    )
    assert opa_authorization("k", "s", "GET", "/v2/codes/payments/X", None, nonce="n", epoch=1).endswith(
        ":empty"
    )


def _sig(secret, body, t):
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_stripe_signatures_tolerate_300_seconds_and_nothing_else():
    body, now = b'{"id":"evt_1","type":"x","data":{"object":{}}}', 1_796_200_000
    assert stripe_signature_valid("whsec", body, _sig("whsec", body, now - 300), now)
    assert not stripe_signature_valid("whsec", body, _sig("whsec", body, now - 301), now)
    assert not stripe_signature_valid("whsec", body + b" ", _sig("whsec", body, now), now)
    assert not stripe_signature_valid("whsec", body, "v1=abc", now)
    assert not stripe_signature_valid("whsec", body, None, now)
    with pytest.raises(InvalidWebhook) as caught:
        check_stripe("whsec", body, _sig("other", body, now), now)
    assert caught.value.status == 400


def test_webhook_hints_carry_a_dedupe_key_and_the_payment():
    hint = check_paypay(
        b'{"notification_type":"Transaction","merchant_order_id":"KTS-2612-AB3D-PP01","state":"COMPLETED","order_id":"P1"}'
    )
    assert (
        hint.payment_id == "KTS-2612-AB3D-PP01" and hint.event_key == "paypay#KTS-2612-AB3D-PP01#COMPLETED#P1"
    )
    body = b'{"id":"evt_9","type":"charge.refunded","data":{"object":{"metadata":{"payment_id":"KTS-2612-AB3D-CD01"}}}}'
    hint = check_stripe("whsec", body, _sig("whsec", body, 1_796_200_000), 1_796_200_000)
    assert hint.payment_id == "KTS-2612-AB3D-CD01" and hint.event_key == "stripe#evt_9"


def test_flagged_for_refund_is_needs_review_money_that_must_go_back():
    assert rules.flagged_for_refund(rules.NEEDS_REVIEW, [rules.REVIEW_PAID_AFTER_END])
    assert rules.flagged_for_refund(rules.NEEDS_REVIEW, [rules.REVIEW_AMOUNT_MISMATCH, "submission_closed"])
    # A wrong amount never paid the fee, so it goes back too; a refunded one is settled.
    assert rules.flagged_for_refund(rules.NEEDS_REVIEW, [rules.REVIEW_AMOUNT_MISMATCH])
    assert not rules.flagged_for_refund(rules.NEEDS_REVIEW, [rules.REVIEW_REFUND_WITHOUT_PAYMENT])
    assert not rules.flagged_for_refund(rules.REFUNDED, [rules.REVIEW_PAID_AFTER_END])
    # Every reason has words for staff in both languages.
    assert set(rules.REVIEW_LABELS) == set(rules.REVIEW_REASONS)
    assert all(set(label) == {"ja", "en"} for label in rules.REVIEW_LABELS.values())


def test_the_staff_list_schema_offers_exactly_the_list_filters():
    from chalicelib.schemas import load

    assert load("staff_payment_list")["properties"]["status"]["enum"] == list(rules.LIST_FILTERS)
    assert rules.listing_key("koseki-jumin", rules.NEEDS_REVIEW) == "koseki-jumin#needs_review"


def test_unpaid_submissions_are_withdrawn_after_the_forms_days_or_the_default():
    juminhyo = get_form("juminhyo-copy")
    assert rules.pays_first(juminhyo.meta) and not rules.pays_first(get_form("bulky-waste-collection").meta)
    assert rules.withdraw_after_days(juminhyo.meta, 30) == 14  # the form's own
    assert rules.withdraw_after_days({"fee": {"payment": {"timing": "before_received"}}}, 30) == 30
    for bad in (0, 91, "7", 7.5, True):
        with pytest.raises(rules.PaymentRuleError):
            rules.withdraw_after_days({"fee": {"payment": {"withdrawAfterDays": bad}}}, 14)
    first, later = rules.FeePlan(300, rules.BEFORE_RECEIVED), rules.FeePlan(300, rules.AFTER_APPROVAL)
    assert not rules.withdrawal_due(first, "awaiting_payment", T0, 14, T0 + timedelta(days=14, seconds=-1))
    assert rules.withdrawal_due(first, "awaiting_payment", T0, 14, T0 + timedelta(days=14))
    assert not rules.withdrawal_due(first, "received", T0, 14, T0 + timedelta(days=30))
    # An after-approval fee is the section's to chase: nothing is withdrawn for it.
    assert not rules.withdrawal_due(later, "in_review", T0, 14, T0 + timedelta(days=30))


def test_every_form_paid_first_gives_days_to_pay_that_make_sense():
    from chalicelib.domain.forms import catalogue

    for form in catalogue():
        if rules.pays_first(form.meta):
            assert 1 <= rules.withdraw_after_days(form.meta, 14) <= rules.MAX_WITHDRAW_AFTER_DAYS


# PayPay for Business's transaction history file, with the columns PayPay's integration FAQ maps
# to the API's parameters (決済番号 = paymentId, 加盟店決済ID = merchantPaymentId, 取引金額 = amount).
PAYPAY_FILE = (
    "\ufeff決済番号,加盟店ID,屋号,店舗ID,店舗名,端末番号/PosID,取引ステータス,取引日時,取引金額,"
    "レシート番号,支払い方法,支払い詳細,取引確定期限,加盟店決済ID\r\n"
    "04000000000000000001,123,葛飾区,,,,取引完了,2026/12/02 10:15:00,300,-,PayPay残高,,,KTS-2612-AB3D-PP01\r\n"
    '04000000000000000002,123,葛飾区,,,,取引完了,2026/12/02 11:00:00,"1,200",-,PayPay残高,,,KTS-2612-CD4E-PP02\r\n'
    "04000000000000000003,123,葛飾区,,,,取引失敗,2026/12/02 11:30:00,300,-,PayPay残高,,,KTS-2612-EF5G-PP01\r\n"
    "04000000000000000004,123,葛飾区,,,,返金,2026/12/02 12:00:00,-300,-,PayPay残高,,,KTS-2612-AB3D-PP01\r\n"
    "04000000000000000005,123,葛飾区,,,,取引完了,2026/12/02 12:30:00,500,-,PayPay残高,,,-\r\n"
    "\r\n"
)


def test_paypays_transaction_file_maps_to_the_rows_reconciliation_reads():
    assert rules.paypay_report_rows(PAYPAY_FILE) == [
        {
            "merchantPaymentId": "KTS-2612-AB3D-PP01",
            "paymentId": "04000000000000000001",
            "amount": 300,
            "status": "取引完了",
        },
        {
            "merchantPaymentId": "KTS-2612-CD4E-PP02",
            "paymentId": "04000000000000000002",
            "amount": 1200,
            "status": "取引完了",
        },
    ]  # a failed row, a refund (negative) and a payment made elsewhere (no 加盟店決済ID) are left out
    with pytest.raises(rules.PaymentRuleError, match="加盟店決済ID"):
        rules.paypay_report_rows("決済番号,取引金額,取引ステータス\r\n1,300,取引完了\r\n")
    with pytest.raises(rules.PaymentRuleError, match="whole-yen"):
        rules.paypay_report_rows(
            PAYPAY_FILE.replace(",300,-,PayPay残高,,,KTS-2612-AB3D", ",3OO,-,PayPay残高,,,KTS-2612-AB3D")
        )
