"""Paying a fee and booking a consultation in headless Chromium, with axe-core on every state
(ja and en) and phone screenshots for the README."""

from __future__ import annotations

import copy
import json

import pytest
import requests
from selenium.webdriver.common.by import By

from chalicelib.domain.forms import get_form
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_journeys import submit, summary_links

pytestmark = pytest.mark.slow


def owing(web: str) -> tuple[str, str]:
    """A certificate copy by post: paid before it is received."""
    document = copy.deepcopy(get_form("juminhyo-copy").example)
    document.pop("photos", None)
    response = requests.post(f"{web}/forms/juminhyo-copy/submissions", json=document, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["receipt"], response.json()["accessSecret"]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_pay_a_fee_with_paypay_and_see_the_receipt(page, web, local_stack, language):
    receipt, code = owing(web)
    page.get(f"{web}/web/payments/{receipt}?lang={language}")
    assert_accessible(page, f"pay {language} sign in")
    page.find_element(By.ID, "f-code").send_keys(code)
    submit(page)
    assert code not in page.current_url
    assert_accessible(page, f"pay {language} choose")
    submit(page)  # no method chosen
    assert summary_links(page) == ["f-method-paypay"]
    assert page.switch_to.active_element.get_attribute("id") == "error-summary"
    assert_accessible(page, f"pay {language} with errors")
    page.find_element(By.CSS_SELECTOR, "label[for=f-method-paypay]").click()
    submit(page)
    link = page.find_element(By.CSS_SELECTOR, "a.button.secondary").get_attribute("href")
    assert "/__pay/paypay/" in link
    assert_accessible(page, f"pay {language} paypay code")
    if language == "ja":
        screenshot(page, "pay-paypay-ja")

    payment_id = page.find_element(By.CSS_SELECTOR, "#pay-check input[name=paymentId]").get_attribute("value")
    done = requests.post(
        f"http://127.0.0.1:{local_stack.ports.pay}/__sandbox/paypay/payments/{payment_id}/complete",
        json={},
        timeout=10,
    )
    assert done.status_code == 200, done.text
    submit(page, "もう一度確かめる" if language == "ja" else "Check again")
    assert page.find_element(By.ID, "pay-state").text in ("支払い済み", "Paid")
    assert_accessible(page, f"pay {language} paid")
    if language == "ja":
        screenshot(page, "pay-paid-ja")
    submit(page)  # the receipt
    assert payment_id in page.find_element(By.TAG_NAME, "main").text
    assert_accessible(page, f"pay {language} receipt")


def test_pay_by_card_through_the_hosted_checkout_and_back(page, web, local_stack):
    receipt, code = owing(web)
    page.get(f"{web}/web/payments/{receipt}?lang=en")
    page.find_element(By.ID, "f-code").send_keys(code)
    submit(page)
    page.find_element(By.CSS_SELECTOR, "label[for=f-method-card]").click()
    submit(page)
    assert_accessible(page, "pay en card")
    checkout = page.find_element(By.LINK_TEXT, "Go to card payment").get_attribute("href")
    session_id = checkout.rstrip("/").rsplit("/", 1)[-1]
    done = requests.post(
        f"http://127.0.0.1:{local_stack.ports.pay}/__sandbox/stripe/sessions/{session_id}/complete",
        json={},
        timeout=10,
    )
    assert done.status_code == 200, done.text
    page.get(f"{web}/web/payments/{receipt}/done?lang=en")  # the checkout's success URL
    assert_accessible(page, "pay en back from checkout")
    page.find_element(By.ID, "f-code").send_keys(code)
    submit(page)
    assert page.find_element(By.ID, "pay-state").text == "Paid"


def pick(page, slot: str) -> None:
    """Tap the label of a slot's radio button, as a resident would."""
    radio = page.find_element(By.CSS_SELECTOR, f"input[value='{slot}']")
    label = page.find_element(By.CSS_SELECTOR, f"label[for='{radio.get_attribute('id')}']")
    page.execute_script("arguments[0].scrollIntoView({block:'center'})", label)
    label.click()


def new_slot(web: str, service: str = "legal") -> str:
    from devstack.dev_issuer import mint_token
    from tests.integration.consultations.helpers import fresh_slot

    slot = fresh_slot(service, 2)
    token = mint_token(staff_id="staff-1", section="kocho", roles=["staff"])
    response = requests.post(
        f"{web}/staff/consultations/{service}/availability",
        data=json.dumps({"extraSessions": [{"slot": slot, "capacity": 2}]}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return slot


@pytest.mark.parametrize("language", ["ja", "en"])
def test_book_a_consultation_then_move_and_cancel_it(page, web, language):
    slot = new_slot(web)
    page.get(f"{web}/web/consultations?lang={language}")
    assert_accessible(page, f"consultations {language} list")
    page.find_element(By.CSS_SELECTOR, "a[href^='/web/consultations/legal']").click()
    assert_accessible(page, f"consultations {language} slots")
    if language == "ja":
        screenshot(page, "booking-slots-ja")
    submit(page)  # no time chosen
    assert summary_links(page) == ["f-slot-first"]
    assert_accessible(page, f"consultations {language} slots with errors")
    pick(page, slot)
    submit(page)
    assert_accessible(page, f"consultations {language} form")
    submit(page)  # nothing filled in
    links = summary_links(page)
    assert {"f-mode-in_person", "f-name", "f-email", "f-eligibility-resident"} <= set(links)
    assert_accessible(page, f"consultations {language} form with errors")
    page.find_element(By.CSS_SELECTOR, "label[for=f-mode-online]").click()
    page.find_element(By.CSS_SELECTOR, "label[for=f-eligibility-worker]").click()
    page.find_element(By.ID, "f-name").send_keys("Katsushika Hanako")
    page.find_element(By.ID, "f-email").send_keys(
        f"browser-{language}-{slot[11:13]}{slot[14:16]}@example.com"
    )
    page.find_element(By.ID, "f-note").send_keys("相続のこと")
    submit(page)
    number = page.find_element(By.ID, "booking-number").text
    code = page.find_element(By.ID, "access-code").text
    assert_accessible(page, f"consultations {language} booked")
    if language == "ja":
        screenshot(page, "booking-done-ja")

    page.get(f"{web}/web/bookings?lang={language}")
    assert_accessible(page, f"bookings {language} sign in")
    page.find_element(By.ID, "f-booking").send_keys(number)
    page.find_element(By.ID, "f-code").send_keys(code)
    submit(page)
    assert code not in page.current_url
    assert_accessible(page, f"bookings {language} status")
    if language == "ja":
        screenshot(page, "booking-status-ja")
    later = new_slot(web)
    submit(page, "日時を変える" if language == "ja" else "Move")
    assert_accessible(page, f"bookings {language} move")
    pick(page, later)
    submit(page)
    assert page.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert_accessible(page, f"bookings {language} moved")
    submit(page, "予約を取り消す" if language == "ja" else "Cancel this booking")
    assert_accessible(page, f"bookings {language} cancel asked once more")
    submit(page, "はい、取り消します" if language == "ja" else "Yes, cancel it")
    assert page.find_element(By.ID, "status").text in ("取消済み", "Cancelled")
    assert_accessible(page, f"bookings {language} cancelled")


def _paid_behind_the_page(page, web, local_stack, **paid: object) -> None:
    """A PayPay code page open in English, and the code paid in the sandbox (`paid`: another
    amount, say) and confirmed as a webhook's worker would, in this process: the page not told."""
    from chalicelib.services import payments

    receipt, code = owing(web)
    page.get(f"{web}/web/payments/{receipt}?lang=en")
    page.find_element(By.ID, "f-code").send_keys(code)
    submit(page)
    page.find_element(By.CSS_SELECTOR, "label[for=f-method-paypay]").click()
    submit(page)
    payment_id = page.find_element(By.CSS_SELECTOR, "#pay-check input[name=paymentId]").get_attribute("value")
    requests.post(
        f"http://127.0.0.1:{local_stack.ports.pay}/__sandbox/paypay/payments/{payment_id}/complete",
        json=paid,
        timeout=10,
    ).raise_for_status()
    payments.confirm(payment_id, "webhook")


def _until(page, shown) -> None:
    """Wait for `shown(driver)` on the page the poll's "check again" puts in place of this one."""
    from selenium.webdriver.support.ui import WebDriverWait

    def settled(driver) -> bool:
        try:
            return shown(driver)
        except Exception:  # noqa: BLE001 (the page is being replaced)
            return False

    WebDriverWait(page, 30).until(settled)


def test_the_paypay_page_notices_the_payment_by_itself(page, web, local_stack):
    """web.js polls the state; once the payment is confirmed, the page presses "check again"
    itself and shows the paid state."""
    _paid_behind_the_page(page, web, local_stack)
    _until(page, lambda driver: driver.find_element(By.ID, "pay-state").text == "Paid")
    assert_accessible(page, "pay en paid by the poll")


def test_the_paypay_page_notices_money_that_did_not_pay_the_fee(page, web, local_stack):
    """Paid another amount: the fee is still owed, but the poll notices the money taken and the
    page shows it (held, to be refunded) instead of "waiting for your payment"."""
    _paid_behind_the_page(page, web, local_stack, amount=3000)
    _until(page, lambda driver: "does not pay this fee" in driver.find_element(By.TAG_NAME, "main").text)
    assert page.find_element(By.ID, "pay-state").text != "Paid"
    assert_accessible(page, "pay en money held")
