"""The 支払い tile: the resident's unpaid fees with pay buttons, and eL-QR for taxes."""

from __future__ import annotations

import json

import requests

from chalicelib.config import get_settings
from chalicelib.domain import messages
from chalicelib.domain.payments import ELTAX_PAYMENT_URL
from tests.integration.test_line_chat import Resident, buttons, texts


def test_the_pay_tile_lists_unpaid_fees_and_points_taxes_to_el_qr(
    post_webhook, pump, sandbox, client, paybox
):
    resident = Resident(post_webhook, pump, sandbox)
    answer = resident.tap("menu.pay")
    assert messages.text("pay.none", "ja") in texts(answer) and ELTAX_PAYMENT_URL in texts(answer)

    token = requests.post(
        f"{sandbox.base_url}/__sandbox/id-tokens",
        json={"sub": resident.user_id, "aud": get_settings().line_login_channel_id},
        timeout=5,
    ).json()["idToken"]
    from chalicelib.domain.forms import get_form

    document = {**get_form("juminhyo-copy").example, "copies": 3}
    response = client.http.post(
        "/forms/juminhyo-copy/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    receipt = json.loads(response.body)["receipt"]

    pump.drain()  # the "received your request" push (it has a pay button of its own) goes first
    answer = resident.tap("menu.pay")
    [tile] = [message for message in answer if ELTAX_PAYMENT_URL in message.get("text", "")]
    assert receipt in tile["text"] and "900" in tile["text"]
    [pay] = [a for a in buttons([tile]) if a["type"] == "uri"]
    assert pay["uri"] == f"{get_settings().liff_url}/payments/{receipt}?lang=ja" and len(pay["label"]) <= 20
