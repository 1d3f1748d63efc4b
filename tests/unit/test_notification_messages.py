"""The texts residents receive when a submission is received or changes status (pure, no I/O)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from chalicelib.domain import messages
from chalicelib.domain.notifications import (
    LINE_TEXT_LIMIT,
    FeeDue,
    Notification,
    build,
    language_for,
    line_messages,
    public_note_for,
)
from chalicelib.domain.residents import LANGUAGES
from chalicelib.domain.submissions import STATUSES, status_labels

TITLE = {"ja": "粗大ごみ収集の申込", "en": "Bulky waste collection"}
RECEIPT = "KTS-2611-7Q4M"


def notification(**overrides) -> Notification:
    values = {
        "event": "status_changed",
        "status": "in_review",
        "form_title": TITLE,
        "receipt": RECEIPT,
        "public_note": None,
        "language": "ja",
    }
    values.update(overrides)
    return build(**values)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def html_text(markup: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(markup)
    return "".join(parser.text), parser.tags


def test_created_in_japanese_names_the_form_the_receipt_and_the_status():
    message = notification(event="created", status="received")
    assert message.language == "ja"
    assert RECEIPT in message.subject and "受付しました" in message.subject and "葛飾区" in message.subject
    assert "「粗大ごみ収集の申込」を受け付けました。" in message.text
    assert f"受付番号：{RECEIPT}" in message.text
    assert "状況：受付済み" in message.text
    text, _ = html_text(message.html)
    assert "「粗大ごみ収集の申込」を受け付けました。" in text and RECEIPT in text


def test_created_in_english():
    message = notification(event="created", status="received", language="en")
    assert message.language == "en"
    assert message.subject == f"[Katsushika City] Received (receipt number {RECEIPT})"
    assert "We have received your “Bulky waste collection”." in message.text
    assert "Status: Received" in message.text
    assert "受付" not in message.text  # one language, the resident's


def test_created_waiting_for_its_fee_asks_to_pay_and_says_nothing_is_received_yet():
    """A walkthrough: the subject said "Received" above "received once the fee is paid"."""
    for language, subject, received in (
        ("en", f"[Katsushika City] Please pay the fee (receipt number {RECEIPT})", "We have received"),
        ("ja", f"【葛飾区】手数料のお支払いをお願いします（受付番号 {RECEIPT}）", "受け付けました"),
    ):
        message = notification(event="created", status="awaiting_payment", language=language)
        assert message.subject == subject and received not in message.text
        [pushed] = line_messages(
            event="created",
            status="awaiting_payment",
            form_id="juminhyo-copy",
            receipt=RECEIPT,
            public_note=None,
            language=language,
            pay_url="https://liff.line.me/x/payments",
        )
        assert received not in pushed["text"] and pushed["quickReply"]["items"]


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "received"])
@pytest.mark.parametrize("language", ["ja", "en"])
def test_each_status_change_shows_its_label_in_the_residents_language(status, language):
    message = notification(status=status, language=language)
    label = status_labels(status)[language]
    assert label in message.subject
    assert label in message.text
    assert label in html_text(message.html)[0]


def test_the_public_note_is_included_with_its_line_breaks_and_escaped_in_html():
    note = "写真をもう一枚お送りください。\n<b>場所</b>がわかる写真だと助かります。"
    message = notification(status="needs_info", public_note=note)
    assert "区からのお知らせ：\n写真をもう一枚お送りください。\n<b>場所</b>がわかる写真" in message.text
    text, tags = html_text(message.html)
    assert "<b>場所</b>" in text  # shown as text, not markup
    assert "b" not in tags


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_fee_due_is_said_with_its_amount_link_and_days_and_the_status_page_is_linked(language):
    pay, status = (
        "https://forms.example.jp/web/payments/x?lang=a&b=<c>",
        "https://forms.example.jp/web/status",
    )
    message = notification(
        status="awaiting_payment", language=language, fee_due=FeeDue(1600, pay, 14), status_url=status
    )
    assert "1,600" in message.text and pay in message.text and "14" in message.text
    lines = message.text.splitlines()
    assert lines[lines.index(pay) - 1].endswith(":")  # "pay here:", the link right after it
    assert "14" in lines[lines.index(pay) + 1]  # then the days before it is withdrawn
    assert status in message.text
    text, tags = html_text(message.html)
    assert tags.count("a") == 2 and pay in text and "<c>" not in message.html  # the link escaped
    without = notification(status="awaiting_payment", language=language)
    assert "1,600" not in without.text and "http" not in without.text


def test_without_a_note_there_is_no_note_heading():
    assert "区からのお知らせ" not in notification(status="completed").text
    assert "区からのお知らせ" not in notification(status="completed", public_note="  \n ").text


def test_control_characters_never_reach_the_subject():
    message = notification(form_title={"ja": "申込\r\nBcc: x@example.jp", "en": "x"})
    assert "\r" not in message.subject and "\n" not in message.subject


def test_anything_but_a_receipt_number_is_refused():
    with pytest.raises(ValueError):
        notification(receipt="葛飾 太郎")
    with pytest.raises(ValueError):
        notification(event="deleted")
    with pytest.raises(ValueError):
        notification(status="lost")


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("ja", "ja"),
        ("ja-easy", "ja-easy"),
        (None, "ja"),
        ("", "ja"),
        ("en", "en"),
        ("zh-Hans", "zh-Hans"),
        ("vi", "vi"),
        ("fr", "en"),  # a language the ward does not write: its chain, English first
    ],
)
def test_language_for(stored, expected):
    assert language_for(stored) == expected


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang not in ("ja", "en")])
def test_the_email_is_written_in_the_residents_own_language(language):
    message = notification(status="needs_info", public_note="電柱の番号を教えてください。", language=language)
    label = messages.text("status.needs_info", language)
    assert message.language == language
    assert label in message.subject and RECEIPT in message.subject
    assert messages.text("email.next.needs_info", language) in message.text
    assert messages.text("email.note", language) in message.text
    assert "電柱の番号を教えてください。" in message.text  # the ward's note, as written
    assert messages.text("email.footer", "ja", ward="葛飾区") not in message.text
    html_lang = "ja" if language == "ja-easy" else language
    assert f'<html lang="{html_lang}">' in message.html


def test_a_vietnamese_email_names_the_form_in_the_nearest_language_it_has():
    message = notification(event="created", status="received", language="vi")
    assert "“Bulky waste collection”" in message.text  # no Vietnamese title: the English one


def test_line_message_is_one_text_message_within_the_limit():
    [line] = line_messages(
        event="status_changed",
        status="rejected",
        form_id="bulky-waste-collection",
        receipt=RECEIPT,
        public_note="x" * 6000,
        language="ja",
    )
    assert line["type"] == "text"
    assert len(line["text"]) <= LINE_TEXT_LIMIT
    assert line["text"].startswith("「粗大ごみ収集の申込」の状況が「お受けできませんでした」になりました。")


@pytest.mark.parametrize("language", ["ja-easy", "en", "zh-Hans", "ko", "vi", "ne"])
def test_line_message_is_in_the_residents_language_with_receipt_and_note(language):
    [line] = line_messages(
        event="created",
        status="received",
        form_id="streetlight-outage",
        receipt=RECEIPT,
        public_note="担当: 道路補修課",
        language=language,
    )
    japanese = line_messages(
        event="created",
        status="received",
        form_id="streetlight-outage",
        receipt=RECEIPT,
        public_note="担当: 道路補修課",
        language="ja",
    )[0]["text"]
    assert RECEIPT in line["text"] and "担当: 道路補修課" in line["text"]
    assert line["text"] != japanese


def test_the_note_of_the_change_is_chosen():
    notes = [
        {"at": "2026-11-02T01:00:00+00:00", "status": "needs_info", "note": "first request"},
        {"at": "2026-11-03T01:00:00+00:00", "status": "in_review", "note": "thanks"},
        {"at": "2026-11-04T01:00:00+00:00", "status": "needs_info", "note": "second request"},
    ]
    assert public_note_for(notes, event="status_changed", status="needs_info", version=6) == "second request"
    assert public_note_for(notes, event="status_changed", status="in_review", version=3) == "thanks"
    assert public_note_for(notes, event="status_changed", status="completed", version=7) is None
    assert public_note_for(notes, event="created", status="received", version=1) is None


def test_a_note_that_records_its_version_is_matched_exactly():
    notes = [
        {"status": "needs_info", "note": "first request", "version": 2},
        {"status": "needs_info", "note": "second request", "version": 4},
    ]
    assert public_note_for(notes, event="status_changed", status="needs_info", version=2) == "first request"
    assert public_note_for(notes, event="status_changed", status="needs_info", version=3) is None


LANGUAGES_7 = ("ja", "ja-easy", "en", "zh-Hans", "ko", "vi", "ne")


@pytest.mark.parametrize("language", LANGUAGES_7)
def test_a_submission_withdrawn_unpaid_is_explained_in_the_residents_own_language(language):
    from chalicelib.domain import messages

    expected = messages.text(
        "pay.withdrawn_unpaid",
        language,
        title=messages.text("form.juminhyo-copy", language),
        receipt=RECEIPT,
        days=14,
    )
    [pushed] = line_messages(
        event="withdrawn_unpaid",
        status="withdrawn",
        form_id="juminhyo-copy",
        receipt=RECEIPT,
        public_note=None,
        language=language,
        days=14,
    )
    assert pushed == {"type": "text", "text": expected}  # no pay button: nothing is payable now
    mail = notification(
        event="withdrawn_unpaid", status="withdrawn", language=language, form_id="juminhyo-copy", days=14
    )
    assert mail.language == language and mail.text.startswith(expected)
    assert RECEIPT in mail.subject and "14" in mail.text
    text, tags = html_text(mail.html)
    assert RECEIPT in text and "script" not in tags


def test_a_withdrawn_unpaid_notice_needs_its_days():
    with pytest.raises(ValueError, match="days"):
        notification(event="withdrawn_unpaid", status="withdrawn", form_id="juminhyo-copy")
