"""A photo attached with JavaScript off: the page's own post carries it (multipart/form-data),
over chalice.test.Client as a browser without a script sends it, and as API Gateway hands it to
Lambda (base64, app.py's binary types). The same checks as the presigned upload's, the same
hourly count per client, and nothing kept between the screens but the upload id in the page."""

from __future__ import annotations

import base64
import html as html_lib
import re
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
from urllib3 import encode_multipart_formdata

from chalicelib.adapters import storage
from chalicelib.domain import images
from chalicelib.domain.forms import get_form
from chalicelib.domain.messages import text
from chalicelib.store import submissions as store
from chalicelib.web import fields as form_fields
from chalicelib.web import render
from tests.integration.test_web_pages import _csrf

PHOTO = Path(__file__).resolve().parents[1] / "fixtures" / "images" / "gps.jpg"
FORM_ID = "streetlight-outage"


def multipart(fields: dict[str, list[str]], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """The body and content type a browser sends for a form with enctype="multipart/form-data"."""
    parts: list[tuple[str, object]] = [(name, value) for name, values in fields.items() for value in values]
    parts += [(name, (filename, data, "application/octet-stream")) for name, filename, data in files]
    return encode_multipart_formdata(parts)


def first_screen(language: str = "en") -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The form's example, split into the first screen's answers and the rest (no photos: they
    are what the test sends)."""
    form = get_form(FORM_ID)
    flat = form_fields.flat_values({k: v for k, v in form.example.items() if k != "photos"})
    on_first = {q.name for q in form_fields.screens(form, form_fields.fields(form, language))[0]}
    first = {k: v for k, v in flat.items() if k.split(".", 1)[0] in on_first}
    return first, flat


def post_first_screen(client, files: list[tuple[str, str, bytes]]):
    cookie, token = _csrf(client.http.get(f"/web/forms/{FORM_ID}?lang=en"))
    first, flat = first_screen()
    fields = {"csrf": [token], "lang": ["en"], "step": ["review"], "screen": ["0"], **first}
    body, content_type = multipart(fields, files)
    response = client.http.post(
        f"/web/forms/{FORM_ID}", body=body, headers={"Content-Type": content_type, "Cookie": cookie}
    )
    return response, cookie, token, flat


def kept_ids(html: str) -> list[str]:
    found = re.findall(r'<input type="hidden" name="photos"[^>]* value="([^"]*)"', html)
    return [v for value in found for v in value.split()]


def test_the_first_screen_of_a_report_asks_for_the_photos_without_javascript_or_line(client):
    page = client.http.get(f"/web/forms/{FORM_ID}?lang=en").body.decode()
    form = re.search(r'<form method="post" action="/web/forms/[^"]+"[^>]*>', page).group(0)
    assert 'enctype="multipart/form-data"' in form
    # As many file inputs as the form takes photos, each named as the field the ids travel in.
    inputs = re.findall(r'<input type="file"[^>]*name="photos"[^>]*>', page)
    assert len(inputs) == get_form(FORM_ID).schema["properties"]["photos"]["maxItems"]
    assert "Choose up to 3 photos" in page and "LINE" not in re.sub(
        r"<header.*?</header>", "", page, flags=re.S
    )
    # The report is asked about first, then who the resident is (a walkthrough: "About you"
    # opened with the photos and the description).
    assert "What you are reporting" in page and 'name="description"' in page and 'name="name"' not in page


def test_a_photo_sent_with_the_page_reaches_the_submission_without_its_location(client):
    original = PHOTO.read_bytes()
    assert images.has_location_metadata(original)
    second, cookie, token, flat = post_first_screen(client, [("photos", "IMG_0001.JPG", original)])
    html = second.body.decode()
    assert second.status_code == 200 and "Step 2 of 2" in html and "About you" in html, html
    [upload_id] = kept_ids(
        html
    )  # carried in the page, as the script's upload is: nothing stored for the screen
    assert upload_id.startswith("up_")

    common = {"csrf": token, "lang": "en", "step": "review", "screen": "1"}
    review = client.http.post(
        f"/web/forms/{FORM_ID}",
        body=urlencode({**common, **flat, "photos": upload_id}, doseq=True),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    assert "1 attached" in review.body.decode()
    document = html_lib.unescape(re.search(r'name="document" value="([^"]*)"', review.body.decode()).group(1))
    once = re.search(r'name="once" value="([^"]*)"', review.body.decode()).group(1)
    done = client.http.post(
        f"/web/forms/{FORM_ID}",
        body=urlencode({"csrf": token, "lang": "en", "step": "send", "document": document, "once": once}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    receipt = re.search(r'id="receipt">([^<]+)<', done.body.decode()).group(1)
    [key] = store.get(receipt).attachments
    data, content_type = storage.read(key, 10 * 1024 * 1024)
    assert content_type == "image/jpeg" and images.sniff(data) == "image/jpeg"
    assert not images.has_location_metadata(data)
    with pytest.raises(storage.ObjectMissing):  # the original, GPS and all, is gone
        storage.read(f"incoming/{upload_id}", 10 * 1024 * 1024)


def test_a_file_that_is_no_photo_is_refused_at_its_field_with_the_answers_kept(client):
    refused, _cookie, _token, flat = post_first_screen(
        client, [("photos", "photo.jpg", b"<html>not a photo")]
    )
    html = refused.body.decode()
    assert refused.status_code == 422 and "Step 1 of 2" in html
    said = text("error.upload.not_image", "en")
    assert f'<a href="#f-photos">{said}</a>' in html  # the summary lands on the photo field
    assert re.search(r'id="f-photos-error">.*' + re.escape(said), html)
    assert f'value="{flat["poleNumber"][0]}"' in html and kept_ids(html) == []


def test_a_post_larger_than_the_limit_gets_a_page_in_its_language_and_nothing_is_kept(client):
    too_large = b"\xff\xd8\xff" + bytes(render.MAX_POST_BYTES)
    refused, *_ = post_first_screen(client, [("photos", "big.jpg", too_large)])
    html = html_lib.unescape(refused.body.decode())
    assert refused.status_code == 413 and '<html lang="en">' in html  # the page's own `lang`
    assert text("web.post_too_large", "en") in html and "up to 4 MB together" in html
    # One photo within the limit is taken: the limit is the post's, not a second one per photo.
    taken, *_ = post_first_screen(client, [("photos", "a.jpg", PHOTO.read_bytes())])
    assert taken.status_code == 200


def test_photos_sent_with_the_page_count_in_the_clients_hour_as_presigned_uploads_do(
    client, from_client, monkeypatch
):
    import dataclasses

    from chalicelib.config import get_settings
    from chalicelib.services import anonymous_limits

    settings = dataclasses.replace(get_settings(), anonymous_uploads_per_hour=2)
    monkeypatch.setattr(anonymous_limits, "get_settings", lambda: settings)
    photo = ("photos", "a.jpg", PHOTO.read_bytes())
    refused, *_ = post_first_screen(client, [photo, photo, photo])
    html = refused.body.decode()
    assert refused.status_code == 422 and text("error.too_many_uploads", "en") in html
    assert len(kept_ids(html)) == 2  # the two the hour allowed stay with the page
    from_client()
    taken, *_ = post_first_screen(client, [photo])
    assert taken.status_code == 200 and len(kept_ids(taken.body.decode())) == 1


def test_api_gateways_base64_body_is_read_as_the_same_post(client):
    """Deployed, API Gateway hands a binary media type to Lambda base64-encoded (isBase64Encoded);
    chalice local and the test client hand over the bytes as they came."""
    from app import app
    from devstack.pump import LambdaContext

    assert "multipart/form-data" in app.api.binary_types
    cookie, token = _csrf(client.http.get(f"/web/forms/{FORM_ID}?lang=en"))
    first, _flat = first_screen()
    fields = {"csrf": [token], "lang": ["en"], "step": ["review"], "screen": ["0"], **first}
    body, content_type = multipart(fields, [("photos", "IMG_0001.JPG", PHOTO.read_bytes())])
    event = {
        "resource": "/web/forms/{formId}",
        "path": f"/web/forms/{FORM_ID}",
        "httpMethod": "POST",
        "headers": {"content-type": content_type, "cookie": cookie, "host": "madoguchi.example"},
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"formId": FORM_ID},
        "stageVariables": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "resourcePath": "/web/forms/{formId}",
            "httpMethod": "POST",
            "path": f"/api/web/forms/{FORM_ID}",
            "stage": "api",
            "identity": {"sourceIp": "192.0.2.10"},
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
    response = app(event, LambdaContext("madoguchi-api"))
    assert response["statusCode"] == 200, response["body"]
    assert "Step 2 of 2" in response["body"] and len(kept_ids(response["body"])) == 1


def test_an_answer_with_a_photo_tapped_twice_is_sent_once_and_says_so_both_times(client):
    """A review: each tap named the photo anew, so the second tap's answer differed from the
    first's, and the resident was told the page had expired although the answer went."""
    from tests.integration.test_web_pages import _inquiry_and_status_sign_in, _ward_asks, post

    receipt, code, cookie, fields = _inquiry_and_status_sign_in(client, "Can I bring a photo?")
    _ward_asks(receipt, "Which photo?")
    status = post(client, "/web/status", cookie, {**fields, "code": code}).body.decode()
    once = re.search(r'name="once" value="([^"]+)"', status).group(1)
    answer = {k: [v] for k, v in {**fields, "code": code, "once": once, "text": "This one"}.items()}
    sent = []
    for _ in range(2):  # a double tap, or a reload that posts the page again
        body, content_type = multipart(answer, [("photos", "IMG_0001.JPG", PHOTO.read_bytes())])
        headers = {"Content-Type": content_type, "Cookie": cookie}
        sent.append(client.http.post("/web/status/answer", body=body, headers=headers))
    for page in sent:
        assert page.status_code == 200 and "Your answer has been sent" in page.body.decode()
    [answered] = store.get(receipt).responses
    assert len(answered["attachments"]) == 1


def test_a_post_of_more_files_than_the_field_takes_keeps_and_counts_only_those(client, monkeypatch):
    """A review: 400 file parts were 400 counts in the client's hour and 400 writes."""
    from chalicelib.services import anonymous_limits

    counted = []
    take = anonymous_limits.take_upload
    monkeypatch.setattr(anonymous_limits, "take_upload", lambda who: counted.append(who) or take(who))
    most = get_form(FORM_ID).schema["properties"]["photos"]["maxItems"]
    post_first_screen(client, [("photos", f"{n}.jpg", PHOTO.read_bytes()) for n in range(most + 20)])
    assert len(counted) == most
