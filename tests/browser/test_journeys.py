"""Resident journeys in headless Chromium against the local stack, with axe-core on every state.

Each form is filled in as a resident would (empty first: the error summary and its links;
then its own example), checked, sent, and its status looked up with the receipt and access
code the done page shows. A photo goes through the presigned upload; a needs-info request
shows the thread and the answer form; news settings are changed with a sandbox-minted ID
token handed to the page as the LIFF glue would.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from chalicelib.domain.forms import catalogue, get_form
from chalicelib.web import fields as form_fields
from tests.browser.conftest import assert_accessible, mint_id_token, screenshot

pytestmark = pytest.mark.slow
PHOTO = Path(__file__).resolve().parents[1] / "fixtures" / "images" / "gps.jpg"


def fill(driver, flat: dict[str, list[str]]) -> None:
    """Type each answer into its field the way a person would (dates set as the picker would)."""
    for name, values in flat.items():
        elements = driver.find_elements(By.NAME, name)
        if not elements:
            continue
        first = elements[0]
        kind = first.get_attribute("type")
        if kind in ("radio", "checkbox"):
            for element in elements:
                if element.get_attribute("value") in values:
                    driver.execute_script("arguments[0].scrollIntoView({block:'center'})", element)
                    element.click()
        elif first.tag_name == "select":
            Select(first).select_by_value(values[0])
        elif kind in ("date", "datetime-local", "hidden"):
            driver.execute_script("arguments[0].value = arguments[1]", first, values[0])
        else:
            first.clear()
            first.send_keys(values[0])


def submit(driver, text: str | None = None) -> None:
    buttons = driver.find_elements(By.CSS_SELECTOR, "main button[type=submit]")
    button = next(b for b in buttons if text is None or text in b.text)
    driver.execute_script("arguments[0].scrollIntoView({block:'center'})", button)
    mark_page(driver)
    button.click()
    wait_for_next_page(driver)


def mark_page(driver) -> None:
    driver.execute_script("document.documentElement.setAttribute('data-left', '1')")


def wait_for_next_page(driver) -> None:
    """Until a new document has loaded (no element references: they break mid-navigation)."""

    def loaded(d) -> bool:
        try:
            return d.execute_script(
                "return !document.documentElement.hasAttribute('data-left') && document.readyState === 'complete'"
            )
        except WebDriverException:
            return False

    WebDriverWait(driver, 30).until(loaded)


def summary_links(driver) -> list[str]:
    return [
        a.get_attribute("href").split("#", 1)[1]
        for a in driver.find_elements(By.CSS_SELECTOR, "#error-summary a")
    ]


@pytest.mark.parametrize("form_id", [form.id for form in catalogue()])
def test_each_form_empty_then_with_errors_then_sent_and_its_status_checked(page, web, form_id):
    form = get_form(form_id)
    languages = (
        ("ja", "en")
        if form_id in ("bulky-waste-collection", "streetlight-outage", "juminhyo-copy")
        else ("ja",)
    )
    for language in languages:
        page.get(f"{web}/web/forms/{form_id}?lang={language}")
        assert_accessible(page, f"{form_id} {language} empty")
        if language == "ja" and form_id in ("bulky-waste-collection", "streetlight-outage"):
            screenshot(page, f"form-{form_id}-ja")

        submit(page)  # nothing filled in
        links = summary_links(page)
        assert links, "no error summary"
        assert page.switch_to.active_element.get_attribute("id") == "error-summary"  # focus goes to it
        for anchor in links:
            assert page.find_elements(By.ID, anchor), anchor
        assert_accessible(page, f"{form_id} {language} with errors")
        if language == "ja" and form_id == "bulky-waste-collection":
            screenshot(page, "form-errors-ja")
        page.find_element(By.CSS_SELECTOR, "#error-summary a").click()
        assert page.switch_to.active_element.get_attribute("id") == links[0]

        example = copy.deepcopy(form.example)
        example.pop("photos", None)
        for _ in range(3):  # one screen at a time on a long form
            fill(page, form_fields.flat_values(example))
            submit(page)
            if page.find_elements(By.CSS_SELECTOR, "dl.answers"):
                break
            assert not page.find_elements(By.ID, "error-summary"), page.find_element(
                By.ID, "error-summary"
            ).text
            assert_accessible(page, f"{form_id} {language} next screen")
        assert page.find_elements(By.CSS_SELECTOR, "dl.answers"), page.page_source[:2000]
        assert_accessible(page, f"{form_id} {language} check answers")
        if form.fee_yen:
            assert page.find_element(By.CSS_SELECTOR, ".fee .big").text
        submit(page, "送信" if language == "ja" else "Send")
        receipt = page.find_element(By.ID, "receipt").text
        code = page.find_element(By.ID, "access-code").text
        assert_accessible(page, f"{form_id} {language} done")
        if language == "ja" and form_id == "bulky-waste-collection":
            screenshot(page, "done-ja")

        page.get(f"{web}/web/status?lang={language}")
        page.find_element(By.ID, "f-receipt").send_keys(receipt)
        page.find_element(By.ID, "f-code").send_keys(code)
        submit(page)
        # A fee paid before the request is received (issue 13) waits for it, with a pay button.
        paid_first = form_id == "juminhyo-copy"
        expected = ("お支払い待ち", "Awaiting payment") if paid_first else ("受付済み", "Received")
        assert page.find_element(By.ID, "status").text in expected
        assert code not in page.current_url and receipt not in page.current_url
        if paid_first:
            assert page.find_elements(By.CSS_SELECTOR, f"form[action='/web/payments/{receipt}']")
        assert_accessible(page, f"{form_id} {language} status")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_catalogue_and_status_entry_pages_are_accessible(page, web, language):
    page.get(f"{web}/web?lang={language}")
    assert_accessible(page, f"catalogue {language}")
    screenshot(page, f"catalogue-{language}")
    page.get(f"{web}/web/status?lang={language}")
    assert_accessible(page, f"status entry {language}")
    submit(page)  # nothing entered
    assert summary_links(page) == ["f-receipt"]
    assert_accessible(page, f"status entry with errors {language}")
    page.find_element(By.ID, "f-receipt").send_keys("KTS-2611-ZZZZ")
    code = page.find_element(By.ID, "f-code")
    code.send_keys("wrong-code")
    # Masked until the resident asks to see what they typed (a walkthrough: no way to check it).
    assert code.get_attribute("type") == "password"
    page.find_element(By.CSS_SELECTOR, "label[for=f-code-show]").click()
    assert code.get_attribute("type") == "text" and code.get_attribute("value") == "wrong-code"
    assert_accessible(page, f"status entry code shown {language}")
    submit(page)
    assert summary_links(page) == ["f-receipt"]
    assert_accessible(page, f"status wrong code {language}")
    page.get(f"{web}/web/settings?lang={language}")
    # Outside LINE: "open it in LINE", and no "signing in…" left beside it (a walkthrough).
    WebDriverWait(page, 5).until(
        lambda _: page.find_element(By.CSS_SELECTOR, ".js-liff-missing").is_displayed()
    )
    assert not page.find_element(By.CSS_SELECTOR, ".js-liff-checking").is_displayed()
    assert_accessible(page, f"settings outside LINE {language}")


def test_a_photo_goes_through_the_presigned_upload_and_reaches_the_submission(page, web):
    from chalicelib.store import submissions as store

    page.get(f"{web}/web/forms/streetlight-outage?lang=en")
    page.find_element(By.ID, "f-problem").click()
    # "Use my current location": the phone's position (here the city office's) fills the location.
    page.execute_cdp_cmd("Browser.grantPermissions", {"origin": web, "permissions": ["geolocation"]})
    page.execute_cdp_cmd(
        "Emulation.setGeolocationOverride", {"latitude": 35.743, "longitude": 139.8472, "accuracy": 10}
    )
    page.find_element(By.CSS_SELECTOR, "button.js-locate").click()
    WebDriverWait(page, 30).until(
        lambda d: d.find_element(By.ID, "f-location-latitude").get_attribute("value")
    )
    assert page.find_element(By.ID, "f-location-longitude").get_attribute("value") == "139.847200"
    assert page.find_element(By.ID, "f-location-status").text == "Location filled in."
    # One input with the script: each photo chosen goes to storage at once, the others are hidden.
    assert [i.is_displayed() for i in page.find_elements(By.CSS_SELECTOR, "input[type=file]")] == [
        True,
        False,
        False,
    ]
    page.find_element(By.ID, "f-photos").send_keys(str(PHOTO))
    WebDriverWait(page, 30).until(lambda d: d.find_element(By.ID, "f-photos-status").text)
    assert page.find_element(By.ID, "f-photos-status").text == "Photo added (1)"
    assert page.find_element(By.ID, "f-photos-ids").get_attribute("value").startswith("up_")
    assert page.find_element(By.ID, "f-photos").get_attribute("value") == ""  # not sent again with the page
    assert_accessible(page, "photo added")
    submit(page)  # the second screen (the form asks whether it is dangerous: two screens)
    submit(page)
    submit(page, "Send")
    receipt = page.find_element(By.ID, "receipt").text
    stored = store.get(receipt)
    assert len(stored.attachments) == 1
    assert (stored.latitude, stored.longitude) == (pytest.approx(35.743), pytest.approx(139.8472))


def test_without_javascript_photos_go_with_the_page_and_reach_the_submission(page, web, tmp_path):
    """A basic phone's browser: no script, so each photo is a file input of the form itself."""
    from chalicelib.domain import images
    from chalicelib.store import submissions as store
    from chalicelib.web.render import MAX_POST_BYTES

    page.execute_cdp_cmd("Network.enable", {})
    page.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/web/static/web.js"]})
    try:
        page.get(f"{web}/web/forms/streetlight-outage?lang=en")
        assert "js" not in (page.find_element(By.TAG_NAME, "html").get_attribute("class") or "")
        inputs = page.find_elements(By.CSS_SELECTOR, "input[type=file][name=photos]")
        assert len(inputs) == 3 and all(i.is_displayed() for i in inputs)
        assert "LINE" not in page.find_element(By.CSS_SELECTOR, "#answers").text
        assert_accessible(page, "photos without JavaScript")
        large = tmp_path / "large.jpg"
        large.write_bytes(b"\xff\xd8\xff" + bytes(MAX_POST_BYTES))
        page.find_element(By.ID, "f-photos").send_keys(str(large))
        submit(page)
        assert page.find_element(By.TAG_NAME, "h1").text == "The photos were too large to send"
        assert_accessible(page, "photos too large, without JavaScript")

        page.get(f"{web}/web/forms/streetlight-outage?lang=en")
        example = copy.deepcopy(get_form("streetlight-outage").example)
        example.pop("photos", None)
        fill(page, form_fields.flat_values(example))

        note = tmp_path / "note.jpg"
        note.write_bytes(b"not a photo")
        page.find_element(By.ID, "f-photos").send_keys(str(note))
        submit(page)
        assert summary_links(page) == ["f-photos"]
        assert_accessible(page, "a file that is no photo, without JavaScript")

        page.find_element(By.ID, "f-photos").send_keys(str(PHOTO))
        submit(page)
        assert "About you" in page.find_element(By.TAG_NAME, "h1").text
        assert_accessible(page, "second screen after a photo, without JavaScript")
        submit(page)
        assert "1 attached" in page.find_element(By.CSS_SELECTOR, "dl.answers").text
        submit(page, "Send")
        [key] = store.get(page.find_element(By.ID, "receipt").text).attachments
        from chalicelib.adapters import storage

        data, _type = storage.read(key, 10 * 1024 * 1024)
        assert images.sniff(data) == "image/jpeg" and not images.has_location_metadata(data)
    finally:
        page.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})


def test_a_needs_info_request_shows_the_thread_and_the_answer_form(page, web):
    from chalicelib.domain import submissions as rules
    from chalicelib.services import submissions as service
    from chalicelib.store import submissions as store

    page.get(f"{web}/web/forms/inquiry?lang=en")
    page.find_element(By.ID, "f-question").send_keys("Can I get my residence record on a Saturday?")
    submit(page)
    submit(page, "Send")
    receipt = page.find_element(By.ID, "receipt").text
    code = page.find_element(By.ID, "access-code").text
    staff = rules.Actor(kind=rules.STAFF, id="staff-1", section=get_form("inquiry").section)
    service.move(store.get(receipt), rules.IN_REVIEW, actor=staff)
    service.move(
        store.get(receipt),
        rules.NEEDS_INFO,
        actor=staff,
        note="Which branch office is nearest to you?",
        visibility="public",
    )
    for language in ("en", "ja"):
        page.get(f"{web}/web/status?lang={language}")
        page.find_element(By.ID, "f-receipt").send_keys(receipt)
        page.find_element(By.ID, "f-code").send_keys(code)
        submit(page)
        assert (
            "Which branch office is nearest to you?" in page.find_element(By.CSS_SELECTOR, "ol.thread").text
        )
        assert page.find_element(By.ID, "answer")
        assert_accessible(page, f"needs info {language}")
        if language == "en":  # the switch posts the signed-in page again: still signed in, in ko
            page.find_element(By.CSS_SELECTOR, "details.langs summary").click()
            mark_page(page)
            page.find_element(By.CSS_SELECTOR, 'button[name="switch"][value="ko"]').click()
            wait_for_next_page(page)
            assert page.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"
            assert page.find_element(By.CSS_SELECTOR, "dd.code").text == receipt
        if language == "ja":
            screenshot(page, "status-needs-info-ja")
    submit(page)  # an empty answer
    assert summary_links(page) == ["f-text"]
    assert_accessible(page, "answer with errors")
    page.find_element(By.ID, "f-photos").send_keys(str(PHOTO))
    WebDriverWait(page, 30).until(lambda d: d.find_element(By.ID, "f-photos-status").text)
    page.find_element(By.ID, "f-text").send_keys("金町です。")
    submit(page)
    assert page.find_element(By.CSS_SELECTOR, ".panel[role=status]").text
    assert page.find_element(By.ID, "status").text == "確認中"
    assert "金町です。" in page.find_element(By.CSS_SELECTOR, "ol.thread li.from-you").text
    assert not page.find_elements(By.ID, "f-text")  # answered: no second form
    assert_accessible(page, "answered")
    screenshot(page, "status-answered-ja")
    stored = store.get(receipt)
    assert stored.status == rules.IN_REVIEW and len(stored.responses[0]["attachments"]) == 1


@pytest.mark.parametrize("language", ["ja", "en"])
def test_news_settings_with_a_line_id_token(page, web, local_stack, language):
    from chalicelib.store import preferences as store
    from chalicelib.store import residents
    from tests.integration.conftest import new_user_id

    user_id = new_user_id()
    assert residents.record_follow(user_id, language, int(time.time() * 1000))
    token = mint_id_token(local_stack, user_id)

    page.get(f"{web}/web/settings?lang={language}")
    # What the LIFF glue does with liff.getIDToken(): post it with the sign-in form.
    mark_page(page)
    page.execute_script(
        "document.querySelector('#liff-signin input[name=id_token]').value = arguments[0];"
        "document.getElementById('liff-signin').submit();",
        token,
    )
    wait_for_next_page(page)
    WebDriverWait(page, 30).until(lambda d: d.find_elements(By.ID, "f-area"))
    assert_accessible(page, f"settings {language}")

    page.find_element(By.ID, "f-birthYear").send_keys("19x0")
    submit(page, "保存" if language == "ja" else "Save")
    assert summary_links(page) == ["f-birthYear"]
    assert_accessible(page, f"settings with errors {language}")

    boxes = page.find_elements(By.CSS_SELECTOR, "input[name=topics]")
    boxes[0].click()
    Select(page.find_element(By.ID, "f-area")).select_by_value("tateishi")
    year = page.find_element(By.ID, "f-birthYear")
    year.clear()
    year.send_keys("1958")
    consent = page.find_element(By.ID, "f-consent")
    if not consent.is_selected():
        consent.click()
    submit(page, "保存" if language == "ja" else "Save")
    assert page.find_element(By.ID, "notice").text in ("保存しました。", "Saved.")
    assert_accessible(page, f"settings saved {language}")
    if language == "ja":
        screenshot(page, "settings-ja")
    stored = store.get(user_id)
    assert stored.preferences.area == "tateishi"
    assert stored.preferences.age_band in ("60-69", "70+")
    assert "1958" not in str(stored.preferences)  # the year itself is never kept

    submit(page, "止める" if language == "ja" else "Stop all")
    assert store.get(user_id).preferences.paused
    assert_accessible(page, f"settings stopped {language}")


def test_inside_line_a_form_is_sent_as_the_resident_and_their_requests_are_listed(page, web, local_stack):
    from chalicelib.store import submissions as store
    from tests.integration.conftest import new_user_id

    user_id = new_user_id()
    token = mint_id_token(local_stack, user_id)
    page.get(f"{web}/web/forms/inquiry?lang=en")
    page.execute_script(
        "document.querySelector('input.js-id-token').value = arguments[0]", token
    )  # the LIFF glue
    page.find_element(By.ID, "f-question").send_keys("Where do I recycle batteries?")
    submit(page)
    page.execute_script("document.querySelector('input.js-id-token').value = arguments[0]", token)
    submit(page, "Send")
    receipt = page.find_element(By.ID, "receipt").text
    assert store.get(receipt).line_user_id == user_id and store.get(receipt).channel == "line"

    page.get(f"{web}/web/status?lang=en")
    mark_page(page)
    page.execute_script(
        "document.querySelector('#liff-signin input[name=id_token]').value = arguments[0];"
        "document.getElementById('liff-signin').submit();",
        token,
    )
    wait_for_next_page(page)
    assert receipt in page.find_element(By.CSS_SELECTOR, "ul.cards").text
    assert_accessible(page, "my requests from LINE")
    submit(page)
    assert page.find_elements(By.ID, "status"), page.find_element(By.TAG_NAME, "main").text
    assert page.find_element(By.ID, "status").text == "Received"
    assert_accessible(page, "status from LINE")
