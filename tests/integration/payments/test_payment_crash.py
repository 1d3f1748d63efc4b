"""Kill the payment workers at every step: no double receipt, no lost payment, no double move."""

from __future__ import annotations

import json

import pytest
import requests

from chalicelib.adapters import queues
from chalicelib.services import payment_receipts
from chalicelib.services import submissions as submission_service
from chalicelib.store import inbox
from chalicelib.store import payments as store
from chalicelib.store import submissions as submission_store
from tests.integration.conftest import new_user_id


class InjectedCrash(Exception):
    pass


STEPS = [
    (store, "append", "before"),
    (store, "append", "after"),
    (store, "update", "before"),
    (store, "update", "after"),
    (submission_service, "move", "before"),
    (submission_service, "move", "after"),
    (queues, "send_all", "before"),
    (queues, "send_all", "after"),
    (payment_receipts, "_deliver", "before"),
    (payment_receipts, "_deliver", "after"),  # LINE took the receipt; the answer was lost
    (inbox, "mark_processed", "before"),
]


def crash_once(monkeypatch, module, name, when):
    original = getattr(module, name)
    state = {"armed": True}

    def wrapper(*args, **kwargs):
        if state["armed"] and when == "before":
            state["armed"] = False
            raise InjectedCrash(name)
        result = original(*args, **kwargs)
        if state["armed"]:
            state["armed"] = False
            raise InjectedCrash(name)
        return result

    monkeypatch.setattr(module, name, wrapper)
    return state


@pytest.mark.parametrize(
    ("module", "name", "when"), STEPS, ids=[f"{m.__name__.split('.')[-1]}.{n}-{w}" for m, n, w in STEPS]
)
def test_a_crash_at_any_step_still_ends_paid_once(
    module, name, when, client, sandbox, paybox, pump, monkeypatch
):
    user = new_user_id()
    token = requests.post(
        f"{sandbox.base_url}/__sandbox/id-tokens", json={"sub": user, "aud": "1000000001"}, timeout=5
    ).json()["idToken"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    from chalicelib.domain.forms import get_form

    document = {k: v for k, v in get_form("juminhyo-copy").example.items() if k != "email"}
    receipt = json.loads(
        client.http.post("/forms/juminhyo-copy/submissions", body=json.dumps(document), headers=auth).body
    )["receipt"]
    intent = json.loads(
        client.http.post(
            f"/submissions/{receipt}/payments", body=json.dumps({"method": "paypay"}), headers=auth
        ).body
    )
    pump.drain()  # the "created" notification, before the crash is armed
    paybox.webhooks("duplicate")
    paybox.pay(intent["paymentId"])
    paybox.deliver()

    state = crash_once(monkeypatch, module, name, when)
    pump.drain()
    assert not state["armed"], "the step under test never ran"
    monkeypatch.undo()
    pump.drain()

    stored = store.get(intent["paymentId"])
    assert stored.status == "completed" and stored.submission_moved and stored.receipt_queued
    submission = submission_store.get(receipt)
    assert submission.status == "received" and submission.version == 2  # moved exactly once
    receipts = [
        r
        for r in sandbox.requests("/v2/bot/message/push")
        if intent["paymentId"] in json.dumps(r, ensure_ascii=False) and r.get("accepted")
    ]
    assert len(receipts) == 1
    assert [e.state for e in store.log(intent["paymentId"])].count("completed") == 1
