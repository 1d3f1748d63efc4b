"""The nightly reconciliation finds each kind of difference, writes the CSVs, and a re-run agrees."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import boto3

from chalicelib.config import get_settings
from chalicelib.domain.payments import tokyo_day
from chalicelib.resources import PAYMENT_REPORTS_BUCKET
from chalicelib.services import payment_reconciliation
from chalicelib.store import payments as store
from chalicelib.workers import payments as worker
from tests.integration.payments.conftest import staff_headers


def test_reconciliation_finds_each_kind_of_difference(owing, resident_api, paybox, settle, client):
    def paid(method="paypay", deliver=True):
        receipt, secret = owing(copies=1)
        _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": method})
        if not deliver:
            paybox.webhooks("drop")
        if method == "paypay":
            paybox.pay(intent["paymentId"])
        else:
            paybox.complete_session(store.get(intent["paymentId"]).provider_ref)
        paybox.deliver()
        settle()
        return intent["paymentId"]

    matched_paypay, matched_card = paid(), paid("card")
    missing_here = paid(deliver=False)  # paid at PayPay; we never heard (no webhook, no sweep yet)
    missing_there = paid()
    paybox.post(f"/__sandbox/reports/{missing_there}", {"hidden": True})
    mismatch = paid("card")
    paybox.post(f"/__sandbox/reports/{mismatch}", {"amount": 3000})
    day = tokyo_day(datetime.now(UTC))

    first = worker.run_reconcile(datetime.now(UTC) + timedelta(days=1))  # the job reconciles "yesterday"
    assert first["day"] == day
    view = payment_reconciliation.view(day)
    found = {(d["kind"], d["paymentId"]) for d in view["differences"]}
    mine = {matched_paypay, matched_card, missing_here, missing_there, mismatch}
    assert {item for item in found if item[1] in mine} == {
        ("missing_here", missing_here),
        ("missing_there", missing_there),
        ("amount_mismatch", mismatch),
    }
    diff = next(d for d in view["differences"] if d["paymentId"] == mismatch)
    assert (diff["ours"], diff["theirs"]) == (300, 3000)

    again = payment_reconciliation.run(day)
    assert again == first and payment_reconciliation.view(day) == view

    s3 = boto3.client("s3")
    bucket = get_settings().name(PAYMENT_REPORTS_BUCKET)
    body = s3.get_object(Bucket=bucket, Key=f"reconciliation/{day}/koseki-jumin/juminhyo-copy.csv")[
        "Body"
    ].read()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:2] == ["paid_at_jst", "payment_id"]
    ids = {row[1] for row in rows[1:-1]}
    assert {matched_paypay, matched_card, missing_there, mismatch} <= ids and missing_here not in ids
    assert rows[-1][0] == "total"
    differences = json.loads(
        s3.get_object(Bucket=bucket, Key=f"reconciliation/{day}/differences.json")["Body"].read()
    )
    assert {
        "kind": "missing_here",
        "paymentId": missing_here,
        "method": "paypay",
        "ours": None,
        "theirs": 300,
    } in differences

    response = client.http.get(
        f"/staff/payments/reconciliations/{day}", headers=staff_headers("koseki-jumin", "supervisor")
    )
    assert response.status_code == 200 and json.loads(response.body)["summary"]["differences"] >= 3
    assert json.loads(response.body)["reconciled"] is True
    never = client.http.get(  # a day the job never reconciled is not "no differences"
        "/staff/payments/reconciliations/2030-01-05", headers=staff_headers("koseki-jumin", "supervisor")
    )
    assert json.loads(never.body) == {
        "day": "2030-01-05",
        "reconciled": False,
        "summary": None,
        "differences": [],
    }
    # Another section's supervisor sees none of koseki-jumin's figures or payments; an admin all.
    other = json.loads(
        client.http.get(
            f"/staff/payments/reconciliations/{day}", headers=staff_headers("kocho", "supervisor")
        ).body
    )
    assert other["summary"]["bySection"] == {} and "totals" not in other["summary"]
    assert not {d["paymentId"] for d in other["differences"]} & mine
    ward = json.loads(
        client.http.get(
            f"/staff/payments/reconciliations/{day}", headers=staff_headers("kocho", "admin")
        ).body
    )
    assert {d["paymentId"] for d in ward["differences"]} >= {missing_here, missing_there, mismatch}
    assert "koseki-jumin" in ward["summary"]["bySection"] and "totals" in ward["summary"]
    assert (
        client.http.get(
            f"/staff/payments/reconciliations/{day}", headers=staff_headers("koseki-jumin", "staff")
        ).status_code
        == 403
    )
    for impossible in ("2026-02-30", "0000-01-01", "２０２６-12-01"):
        answer = client.http.get(
            f"/staff/payments/reconciliations/{impossible}",
            headers=staff_headers("koseki-jumin", "supervisor"),
        )
        assert answer.status_code == 422


def test_the_digest_shows_the_sections_fees_received_the_day_before(local_stack):
    from chalicelib.store import digests
    from chalicelib.store.models import ReconciliationItem
    from chalicelib.workers import digest
    from tests.integration.conftest import backdated
    from tests.integration.test_digest_job import outbox, sent_since

    now = datetime(2031, 3, 4, 23, 30, tzinfo=UTC)  # 08:30 on 5 March in Tokyo: a day no other test uses
    summary = {"day": "2031-03-04", "bySection": {"koseki-jumin": {"count": 2, "amountYen": 900}}}
    ReconciliationItem("2031-03-04", "summary", data=summary, updated_at=now).save()
    digests.set_cutoff("koseki-jumin", now - timedelta(hours=2))
    backdated("juminhyo-copy", now - timedelta(hours=1))  # something new, so the digest is sent
    mark = len(outbox())

    digest.run(now=now)

    [sent] = sent_since(mark, "koseki-jumin")
    assert "決済事業者での収納（2031-03-04、返金・確認待ちを含む総額）: 2件 900円" in sent.body


def test_in_aws_paypays_side_is_the_wards_transaction_file_and_a_late_one_is_taken_up(
    owing, resident_api, paybox, settle, monkeypatch
):
    """OPA has no report API: PayPay's side is PayPay for Business's transaction history CSV that
    the ward puts in the reports bucket. Without it nothing is made up; once there, it is used."""
    import dataclasses

    def paid() -> str:
        receipt, secret = owing(copies=1)
        _, intent = resident_api("POST", f"/submissions/{receipt}/payments", secret, {"method": "paypay"})
        paybox.pay(intent["paymentId"])
        paybox.deliver()
        settle()
        return intent["paymentId"]

    monkeypatch.setattr(
        payment_reconciliation,
        "get_settings",
        lambda: dataclasses.replace(get_settings(), paypay_report_source="s3"),
    )
    matched, mismatch = paid(), paid()
    day = tokyo_day(datetime.now(UTC))
    bucket = get_settings().name(PAYMENT_REPORTS_BUCKET)
    s3 = boto3.client("s3")
    s3.delete_object(Bucket=bucket, Key=payment_reconciliation.paypay_report_key(day))

    summary = payment_reconciliation.run(day)
    assert summary["reports"] == {"paypay": "missing", "card": "ok"}
    found = {d["paymentId"] for d in payment_reconciliation.view(day)["differences"]}
    assert not {matched, mismatch} & found  # no "missing there" made up for a file not yet there
    assert summary["totals"]["paypay"]["count"] >= 2  # the day's takings still add up

    header = (
        "決済番号,加盟店ID,屋号,店舗ID,店舗名,端末番号/PosID,取引ステータス,取引日時,取引金額,"
        "レシート番号,支払い方法,支払い詳細,取引確定期限,加盟店決済ID"
    )
    rows = [
        f"{store.get(pid).provider_payment_id},1,葛飾区,,,,取引完了,{day.replace('-', '/')} 10:00:00,"
        f"{amount},-,PayPay残高,,,{pid}"
        for pid, amount in ((matched, 300), (mismatch, 400))
    ]
    s3.put_object(
        Bucket=bucket,
        Key=payment_reconciliation.paypay_report_key(day),
        Body="\r\n".join([header, *rows, ""]).encode("cp932"),  # as Excel in Japan saves it
    )
    next_day = (datetime.fromisoformat(day) + timedelta(days=1)).date().isoformat()
    assert payment_reconciliation.catch_up(next_day) == [day]
    view = payment_reconciliation.view(day)
    assert view["summary"]["reports"]["paypay"] == "ok"
    mine = {(d["kind"], d["paymentId"], d["ours"], d["theirs"]) for d in view["differences"]}
    assert ("amount_mismatch", mismatch, 300, 400) in mine
    assert not any(d[1] == matched for d in mine)
    assert payment_reconciliation.catch_up(next_day) == []  # done: nothing to take up again
