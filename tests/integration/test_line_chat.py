"""The resident's chat end to end: signed webhook events in, SQS, the worker, replies read
back from the LINE sandbox, records in DynamoDB and photos in S3."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import requests

from chalicelib.adapters import storage
from chalicelib.config import get_settings
from chalicelib.domain import chat, faq, images, messages, postbacks
from chalicelib.domain import preferences as rules
from chalicelib.domain.forms import get_form
from chalicelib.services.chat.ask import index as ask_index
from chalicelib.store import conversations, submissions
from chalicelib.store import preferences as preference_store
from chalicelib.store.models import SendListEntry, Submission
from devstack.line_sandbox import PHONE_PHOTO
from tests.integration.conftest import line_event, new_user_id, webhook_body


def text_of(key: str, language: str = "ja", **values) -> str:
    return messages.text(key, language, **values)


def who_to_call(language: str = "ja") -> str:
    """The emergency entry's answer (110, 119), as the chat says it."""
    return ask_index().answer(faq.URGENT_ENTRY, language)["answer"]


def sign(action: str, value: str = "") -> str:
    return postbacks.sign(get_settings().line_channel_secret, action, value)


class Resident:
    """One resident on LINE: follows, then taps and types; sees what the sandbox got for them."""

    def __init__(self, post_webhook, pump, sandbox, language: str = "ja") -> None:
        self.user_id = new_user_id()
        self._post, self._pump, self._sandbox = post_webhook, pump, sandbox
        sandbox.set_profile(self.user_id, displayName="Resident", language=language)
        self.send(line_event("follow", self.user_id))

    def send(self, event: dict) -> list[dict]:
        """Deliver the event and return the messages sent in answer to it (reply, or push fallback)."""
        before = len(self._sandbox.requests())
        assert self._post(webhook_body(event)).status_code == 200
        self._pump.drain()
        answers = []
        for request in self._sandbox.requests()[before:]:
            body = request["body"] or {}
            if request["status"] != 200:
                continue
            if (
                request["path"] == "/v2/bot/message/reply"
                and body.get("replyToken") == event.get("replyToken")
                or request["path"] == "/v2/bot/message/push"
                and body.get("to") == self.user_id
            ):
                answers += body["messages"]
        return answers

    def say(self, text: str) -> list[dict]:
        return self.send(
            line_event("message", self.user_id, message={"id": _id(), "type": "text", "text": text})
        )

    def tap(self, action: str, value: str = "", *, data: str | None = None) -> list[dict]:
        data = data if data is not None else sign(action, value)
        return self.send(line_event("postback", self.user_id, postback={"data": data}))

    def tap_button(self, answer: list[dict], label_startswith: str) -> list[dict]:
        """Tap the quick-reply button of `answer` whose label starts with the given text."""
        action = button(answer, label_startswith)
        return self.send(line_event("postback", self.user_id, postback={"data": action["data"]}))

    def start_report(self, category: str, kind: str, danger: str | None = None) -> list[dict]:
        """A report begun from the menu: its category and kind chosen, and the danger question
        answered `danger` ("yes", "no") if given; the last answer."""
        self.tap("menu.report")
        self.tap("report.category", category)
        answer = self.tap("report.kind", kind)
        return self.tap("report.danger", danger) if danger else answer

    def report_at(self, category: str, kind: str, address: str) -> list[dict]:
        """A report with a typed address and no photo or comment, sent: the answer to Send."""
        self.start_report(category, kind, "no" if chat.danger_question(category, "ja") else None)
        self.tap("report.photos_done")
        self.tap("report.address")
        self.say(address)
        confirm = self.tap("report.comment_skip")
        return self.tap_button(confirm, text_of("button.send"))

    def photo(self) -> list[dict]:
        message = {"id": _id(), "type": "image", "contentProvider": {"type": "line"}}
        return self.send(line_event("message", self.user_id, message=message))

    def location(self, latitude: float, longitude: float, address: str | None = None) -> list[dict]:
        message = {"id": _id(), "type": "location", "latitude": latitude, "longitude": longitude}
        if address:
            message["address"] = address
        return self.send(line_event("message", self.user_id, message=message))


_counter = iter(range(10**9))


def _id() -> str:
    return str(4_700_000_000_000 + next(_counter))


def texts(answer: list[dict]) -> str:
    return "\n".join(message.get("text", "") for message in answer)


def buttons(answer: list[dict]) -> list[dict]:
    return [item["action"] for message in answer for item in message.get("quickReply", {}).get("items", [])]


def faq_buttons(answer: list[dict]) -> list[dict]:
    """The buttons of `answer` that show an FAQ answer (the suggestions)."""
    secret = get_settings().line_channel_secret
    return [
        action for action in buttons(answer) if postbacks.read(secret, action["data"]).action == "faq.show"
    ]


def button(answer: list[dict], label_startswith: str) -> dict:
    found = [action for action in buttons(answer) if action["label"].startswith(label_startswith)]
    assert found, f"no button {label_startswith!r} in {[a['label'] for a in buttons(answer)]}"
    return found[0]


def segments(user_id: str) -> set[str]:
    return {entry.segment for entry in SendListEntry.by_user.query(user_id)}


@pytest.fixture
def resident(post_webhook, pump, sandbox):
    return Resident(post_webhook, pump, sandbox)


@pytest.fixture
def english_resident(post_webhook, pump, sandbox):
    return Resident(post_webhook, pump, sandbox, language="en")


# --- FAQ ---------------------------------------------------------------------------------------


def test_a_clear_question_gets_the_answer_and_the_page(resident):
    answer = resident.say("粗大ごみを出したいのですが、どうやって申し込めばいいですか")

    assert "粗大ごみ" in texts(answer)
    assert "https://www.city.katsushika.lg.jp/" in texts(answer)
    assert conversations.get(resident.user_id) is None  # nothing kept for an answered question


def test_a_question_is_answered_in_the_residents_language(english_resident):
    answer = english_resident.say("How do I get a copy of my residence certificate?")

    assert "residence" in texts(answer).lower()
    assert "粗" not in texts(answer)


def test_a_question_in_another_script_is_answered_in_that_language(resident):
    answer = resident.say("垃圾什么时候收？")  # a Japanese-profile resident writing Chinese

    assert "垃圾" in texts(answer)


def test_a_nepali_resident_typing_nepali_in_latin_letters_is_answered_in_nepali(post_webhook, pump, sandbox):
    nepali = Resident(post_webhook, pump, sandbox, language="ne")

    answer = nepali.say("fohor kun din falne ho?")  # "which day do I put out the garbage?"
    assert re.search("[\u0900-\u097f]", texts(answer)), texts(answer)

    answer = nepali.say("When is garbage collected?")  # English from the same resident
    assert not re.search("[\u0900-\u097f]", texts(answer)), texts(answer)


def test_a_broad_question_gets_suggestions_and_a_tap_shows_the_answer(resident):
    answer = resident.say("ごみ")
    assert texts(answer).startswith(text_of("handoff.suggest", person=text_of("button.ask_person")))
    offered = faq_buttons(answer)
    assert 1 <= len(offered) <= 3

    shown = resident.send(line_event("postback", resident.user_id, postback={"data": offered[0]["data"]}))
    assert "https://www.city.katsushika.lg.jp/" in texts(shown)


def test_no_match_offers_a_person_who_gets_an_inquiry_once(resident):
    answer = resident.say("来週の競馬で勝つ馬を教えてください")
    assert texts(answer) == text_of("handoff.none", person=text_of("button.ask_person"))

    sent = resident.tap_button(answer, text_of("button.ask_person"))
    mine = list(Submission.by_line_user.query(resident.user_id))
    assert len(mine) == 1
    inquiry = submissions.get(mine[0].receipt)
    assert inquiry.form_id == "inquiry" and inquiry.channel == "line"
    assert inquiry.section == "kocho"  # near no FAQ entry: the public hearing unit
    assert inquiry.data["question"] == "来週の競馬で勝つ馬を教えてください"
    assert mine[0].receipt in texts(sent)

    again = resident.tap_button(answer, text_of("button.ask_person"))  # the same button, tapped twice
    assert texts(again) == text_of("ask.already_sent", receipt=mine[0].receipt)
    assert len(list(Submission.by_line_user.query(resident.user_id))) == 1


def test_a_question_offered_to_a_person_is_filed_and_confirmed_in_its_own_language(english_resident):
    """A walkthrough: asked in Chinese by an English profile, the offer came in Chinese and the
    confirmation in English."""
    answer = english_resident.say("下周赛马哪匹马会赢？请告诉我")
    assert texts(answer) == text_of("handoff.none", "zh-Hans", person=text_of("button.ask_person", "zh-Hans"))
    sent = english_resident.tap_button(answer, text_of("button.ask_person", "zh-Hans"))
    [mine] = Submission.by_line_user.query(english_resident.user_id)
    filed = submissions.get(mine.receipt)
    section = text_of(f"section.{filed.section}", "zh-Hans")
    assert texts(sent) == text_of("ask.sent", "zh-Hans", receipt=mine.receipt, section=section)
    assert filed.language == "zh-Hans"  # the section's answer is told in it too


@pytest.mark.parametrize(
    ("language", "question"),
    [("vi", "Tôi muốn nói chuyện với nhân viên"), ("en", "Can I talk to a staff member?")],
)
def test_asking_for_a_person_is_answered_with_the_button_it_names(
    post_webhook, pump, sandbox, language, question
):
    """The answer named 「職員に質問する」, a Japanese button the resident did not have."""
    asking = Resident(post_webhook, pump, sandbox, language=language)
    answer = asking.say(question)
    label = text_of("button.ask_person", language)
    assert label in texts(answer) and "職員に質問する" not in texts(answer)
    asking.tap_button(answer, label)
    [mine] = Submission.by_line_user.query(asking.user_id)
    assert submissions.get(mine.receipt).data["question"] == question


@pytest.mark.parametrize(
    ("greeting", "language"), [("こんにちは", "ja"), ("Xin chào!", "vi"), ("안녕하세요", "ko")]
)
def test_a_greeting_is_greeted_back_with_what_to_ask(resident, greeting, language):
    answer = resident.say(greeting)  # not "sorry, we cannot answer that"
    assert texts(answer) == text_of("chat.hello", language)


@pytest.mark.parametrize(
    "thanks", ["ありがとうございました！", "わかりました、ありがとう", "Thanks a lot 👍", "ok"]
)
def test_a_thanks_alone_is_answered_youre_welcome(resident, thanks):
    answer = resident.say(thanks)  # not "sorry, we cannot answer that" with a person offered
    assert texts(answer) == text_of("chat.welcome")


def test_a_thanks_after_suggestions_keeps_the_question_offered_to_a_person(resident):
    offered = resident.say("国保")  # suggestions, and the offer of a person for this question
    assert texts(resident.say("ありがとうございます")) == text_of("chat.welcome")
    resident.tap_button(offered, text_of("button.ask_person"))
    [mine] = Submission.by_line_user.query(resident.user_id)
    assert submissions.get(mine.receipt).data["question"] == "国保"  # not the thanks


@pytest.mark.parametrize("agreed", ["ok", "はい", "네", "vâng"])
def test_an_ok_to_the_offer_of_a_person_shows_its_button_again(resident, agreed):
    """From a review: an "ok" after "tap 'Ask a person'" was answered "you're welcome", as if sent."""
    offered = resident.say("国保")  # suggestions, and the offer of a person
    again = resident.say(agreed)
    # The same offer again (a review: it had said "we cannot answer that" under the suggestions).
    assert texts(again) == texts(offered) and faq_buttons(again) == faq_buttons(offered)
    resident.tap_button(again, text_of("button.ask_person"))
    [mine] = Submission.by_line_user.query(resident.user_id)
    assert submissions.get(mine.receipt).data["question"] == "国保"


def test_an_ok_to_an_offer_made_in_english_is_answered_in_english(resident):
    """A re-test: a Japanese-profile resident asked in English; their "ok" got the offer again
    in Japanese, and "okay thanks" a Japanese "you're welcome"."""
    offered = resident.say("national health insurance")
    assert texts(offered).startswith(
        text_of("handoff.suggest", "en", person=text_of("button.ask_person", "en"))
    )
    assert texts(resident.say("ok")) == texts(offered)
    assert texts(resident.say("okay thanks")) == text_of("chat.welcome", "en")


def test_an_ok_after_reading_a_suggested_answer_is_thanks_and_the_person_stays_offered(resident):
    offered = resident.say("国保")
    shown = resident.send(
        line_event("postback", resident.user_id, postback={"data": faq_buttons(offered)[0]["data"]})
    )
    assert text_of("handoff.suggest", person=text_of("button.ask_person")) not in texts(shown)
    assert texts(resident.say("わかりました")) == text_of("chat.welcome")
    resident.tap_button(offered, text_of("button.ask_person"))  # the offer still stands
    [mine] = Submission.by_line_user.query(resident.user_id)
    assert submissions.get(mine.receipt).data["question"] == "国保"


def test_an_excuse_me_alone_is_greeted_with_what_to_ask(resident):
    assert texts(resident.say("すみません")) == text_of("chat.hello")


def test_a_thanks_is_answered_in_its_own_language_and_marks_alone_are_no_thanks(resident):
    assert texts(resident.say("감사합니다")) == text_of("chat.welcome", "ko")
    assert texts(resident.say("thanks!")) == text_of("chat.welcome", "ja")  # English is anyone's
    assert text_of("chat.welcome") not in texts(resident.say("？？"))


def test_a_question_between_greetings_and_thanks_is_answered(resident):
    wrapped = resident.say("こんにちは。住民票はどこで取れますか？よろしくお願いします。")
    assert texts(wrapped) == texts(resident.say("住民票はどこで取れますか？"))  # the FAQ's answer
    assert "住民票" in texts(wrapped)


def test_an_inquiry_goes_to_the_section_of_the_nearest_faq_topic(resident):
    answer = resident.say("国保")  # in scope but broad: suggestions, the nearest is about health insurance
    assert texts(answer).startswith(text_of("handoff.suggest", person=text_of("button.ask_person")))

    resident.tap_button(answer, text_of("button.ask_person"))
    [mine] = Submission.by_line_user.query(resident.user_id)
    inquiry = submissions.get(mine.receipt)
    assert inquiry.section == "kokuho-nenkin"
    assert inquiry.data == {"question": "国保", "faqEntry": "insurance-nhi-payment"}


# --- settings ------------------------------------------------------------------------------------


def test_settings_by_taps_put_the_resident_on_exactly_the_chosen_send_lists(resident):
    shown = resident.tap("menu.settings")
    assert text_of("prefs.consent_needed", terms_url=rules.TERMS_URL) in texts(shown)

    resident.tap("prefs.topic", "disaster")
    resident.tap("prefs.topic", "childcare")
    assert segments(resident.user_id) == set()  # no consent yet: on no list

    consented = resident.tap("prefs.consent")
    assert text_of("prefs.consented") in texts(consented)
    assert segments(resident.user_id) == {"disaster#*", "childcare#*", "all#*"}

    resident.tap("prefs.area_set", "kanamachi")
    resident.tap("prefs.topic", "childcare")  # a second tap removes it
    resident.tap("prefs.age_set", "30-39")
    assert segments(resident.user_id) == {"disaster#kanamachi", "all#kanamachi"}
    stored = preference_store.get(resident.user_id).preferences
    assert stored.age_band == "30-39" and stored.consent.terms_version == rules.TERMS_VERSION


def test_stop_all_is_one_tap_and_resume_brings_the_lists_back(resident):
    resident.tap("prefs.consent")
    resident.tap("prefs.topic", "waste")
    assert segments(resident.user_id) == {"waste#*", "all#*"}

    stopped = resident.tap("prefs.stop")
    assert text_of("prefs.stopped") in texts(stopped)
    assert segments(resident.user_id) == set()
    assert button(stopped, text_of("button.resume"))

    resident.tap("prefs.resume")
    assert segments(resident.user_id) == {"waste#*", "all#*"}


def test_the_stop_topic_button_turns_only_that_topic_off_and_is_safe_to_tap_twice(resident):
    resident.tap("prefs.consent")
    resident.tap("prefs.topic", "waste")
    resident.tap("prefs.topic", "disaster")

    resident.tap("prefs.topic_off", "waste")
    resident.tap("prefs.topic_off", "waste")

    assert segments(resident.user_id) == {"disaster#*", "all#*"}


def test_choosing_a_language_changes_the_replies(resident):
    answer = resident.tap("prefs.language_set", "vi")

    assert text_of("prefs.saved", "vi") in texts(answer)
    assert preference_store.get(resident.user_id).preferences.language == "vi"
    assert text_of("ask.prompt", "vi") in texts(resident.tap("menu.ask"))


def test_a_vietnamese_resident_asking_in_english_is_answered_in_vietnamese(resident):
    """An outside tester's case: it used to be "we cannot answer that right away"."""
    from chalicelib.domain.faq import FAQ_PATH

    resident.tap("prefs.language_set", "vi")
    answer = resident.say("How can I get a copy of my residence certificate?")
    [entry] = [e for e in json.loads(FAQ_PATH.read_text())["entries"] if e["id"] == "certificate-juminhyo"]
    assert entry["answer"]["vi"][:40] in texts(answer)


def test_areas_are_offered_a_page_at_a_time(resident):
    first = resident.tap("menu.settings")
    page = resident.tap_button(first, text_of("button.area"))
    assert len(buttons(page)) == 13
    second = resident.tap_button(page, text_of("button.more"))
    assert {a["label"] for a in buttons(second)}.isdisjoint(
        {a["label"] for a in buttons(page)} - {text_of("button.all_areas"), text_of("button.more")}
    )


@pytest.mark.parametrize(
    "data",
    [
        "prefs.stop",  # unsigned
        sign("prefs.resume").replace("prefs.resume", "prefs.stop"),  # another action under a valid signature
        sign("prefs.stop")[:-1] + ("A" if sign("prefs.stop")[-1] != "A" else "B"),  # a changed signature
        "x" * 400,
    ],
)
def test_a_tampered_postback_is_rejected_and_changes_nothing(resident, data):
    resident.tap("prefs.consent")
    resident.tap("prefs.topic", "waste")

    answer = resident.tap("", data=data)

    assert texts(answer) == text_of("general.not_understood")
    assert not preference_store.get(resident.user_id).preferences.paused
    assert segments(resident.user_id) == {"waste#*", "all#*"}


# --- reports -------------------------------------------------------------------------------------


def test_photos_are_kept_in_s3_as_they_arrive_and_the_third_moves_on(resident):
    started = resident.tap("menu.report")
    assert texts(started) == text_of("report.choose_category")
    kinds = resident.tap_button(started, text_of("form.streetlight-outage")[:10])
    danger = resident.tap_button(kinds, text_of("label.report.kind.streetlight-outage.off"))
    assert texts(danger).startswith(text_of("report.ask_danger", question="柱や器具が倒れそう")[:10])
    asked = resident.tap_button(danger, text_of("button.danger_no"))
    assert texts(asked) == text_of("report.ask_photos")
    assert {a["type"] for a in buttons(asked)} >= {"camera", "cameraRoll"}

    first = resident.photo()
    assert texts(first) == text_of("report.photo_received", count=1)
    photos = conversations.get(resident.user_id).data["photos"]
    data, content_type = storage.read(f"incoming/{photos[0]}", 10_000_000)  # in S3 at once
    assert content_type == "image/jpeg" and data[:3] == b"\xff\xd8\xff"
    resident.photo()
    third = resident.photo()

    assert texts(third) == text_of("report.ask_location")
    assert len(conversations.get(resident.user_id).data["photos"]) == 3
    # A fourth sent with them: the resident is told it is not in the report, and asked on.
    fourth = resident.photo()
    assert texts(fourth).startswith(text_of("report.photo_extra"))
    assert texts(fourth).endswith(text_of("report.ask_location"))
    assert len(conversations.get(resident.user_id).data["photos"]) == 3


def test_a_photo_sent_before_the_danger_question_is_answered_is_kept(resident):
    """A review: photos sent at once after choosing what is wrong were dropped at the new question."""
    danger = resident.start_report("road-park-damage", "pothole")
    early = resident.photo()
    assert texts(early) == texts(danger)  # the question again
    assert len(conversations.get(resident.user_id).data["photos"]) == 1
    asked = resident.tap_button(danger, text_of("button.danger_yes"))
    assert texts(asked) == text_of("report.photo_received", count=1)
    assert conversations.get(resident.user_id).data["dangerous"] is True


def test_a_light_poles_number_is_asked_after_the_place_and_read_in_full_width(resident):
    """The pole's number plate is how staff find the light; the web form asks for it, so does LINE."""
    resident.start_report("streetlight-outage", "off", "no")
    resident.tap("report.photos_done")
    asked = resident.location(35.7574, 139.8133)
    label = chat.plate_label("streetlight-outage", "ja")
    assert texts(asked) == text_of("report.ask_plate", label=label)
    wrong = resident.say("電球が切れています")  # a comment typed too early is no number
    assert texts(wrong) == text_of("report.plate_invalid") + "\n" + text_of("report.ask_plate", label=label)
    resident.say("ＫＳ－１２３")
    confirm = resident.tap("report.comment_skip")
    assert text_of("report.plate_given", label=label, plate="KS-123") in texts(confirm)
    sent = resident.tap_button(confirm, text_of("button.send"))
    [mine] = Submission.by_line_user.query(resident.user_id)
    assert mine.receipt in texts(sent)
    assert submissions.get(mine.receipt).data["poleNumber"] == "KS-123"


@pytest.mark.parametrize(
    ("language", "typed", "dangerous"),
    [
        ("ja", "はい", True),
        ("ja", "いいえ。", False),
        ("en", "Yes", True),
        ("ko", "아니요", False),
        ("vi", "Có", True),
    ],
)
def test_a_yes_or_no_typed_to_the_danger_question_answers_it(
    post_webhook, pump, sandbox, language, typed, dangerous
):
    """A re-test: a typed "yes" was read as a question ("that is not a step"), the question asked again."""
    resident = Resident(post_webhook, pump, sandbox, language=language)
    resident.start_report("streetlight-outage", "flickering")
    answered = resident.say(typed)
    assert texts(answered) == text_of("report.ask_photos", language)
    assert conversations.get(resident.user_id).data["dangerous"] is dangerous


@pytest.mark.parametrize(
    "typed", ["はい、人が倒れていて血が止まらない", "電柱が倒れて人が下敷きになっています"]
)
def test_an_emergency_typed_at_the_danger_question_is_told_who_to_call_and_marks_it_dangerous(
    resident, typed
):
    """A review: a yes with an emergency in it was taken as a plain yes, with no 110/119."""
    resident.start_report("streetlight-outage", "flickering")
    answered = resident.say(typed)
    emergency = who_to_call()
    assert answered[0]["text"].startswith(emergency)
    assert texts(answered[1:]) == text_of("report.ask_photos")
    assert conversations.get(resident.user_id).data["dangerous"] is True


def test_an_emergency_typed_as_the_comment_is_told_who_to_call_and_kept(resident):
    """A comment naming an emergency now went into the report for office hours, with no 110/119."""
    resident.start_report("road-park-damage", "pothole", "yes")
    resident.tap("report.photos_done")
    resident.tap("report.address")
    resident.say("東京都葛飾区立石5丁目")
    confirm = resident.say("穴につまずいて人が倒れている")
    emergency = who_to_call()
    assert confirm[0]["text"].startswith(emergency)  # who to call, first
    assert "人が倒れている" in texts(confirm[1:])  # and the report goes on, comment kept
    assert conversations.get(resident.user_id).data["comment"] == "穴につまずいて人が倒れている"


def test_a_guided_report_with_a_photo_and_a_pin_becomes_a_submission(resident):
    resident.start_report("streetlight-outage", "flickering", "yes")
    resident.photo()
    located = resident.tap("report.photos_done")
    assert texts(located) == text_of("report.ask_location")
    assert {a["type"] for a in buttons(located)} >= {"location"}
    plate = resident.location(35.76812, 139.87055, "東京都葛飾区金町6丁目")
    assert texts(plate) == text_of("report.ask_plate", label=chat.plate_label("streetlight-outage", "ja"))
    comment = resident.tap_button(plate, text_of("button.skip"))
    assert texts(comment) == text_of("report.ask_comment")
    confirm = resident.say("夜になると点いたり消えたりします")
    assert "東京都葛飾区金町6丁目" in texts(confirm) and "夜になると" in texts(confirm)
    assert text_of("report.marked_dangerous") in texts(confirm)

    done = resident.tap_button(confirm, text_of("button.send"))

    [mine] = Submission.by_line_user.query(resident.user_id)
    report = submissions.get(mine.receipt)
    assert mine.receipt in texts(done)
    assert report.form_id == "streetlight-outage" and report.channel == "line"
    assert report.data["problem"] == "flickering"
    # Marked dangerous on LINE as on the web (a walkthrough: the chat never asked): urgent.
    assert report.data["dangerous"] is True
    assert get_form("streetlight-outage").is_urgent(report.data)  # the section is alerted at once
    assert report.data["location"] == {
        "latitude": 35.76812,
        "longitude": 139.87055,
        "address": "東京都葛飾区金町6丁目",
    }
    assert report.data["description"] == "夜になると点いたり消えたりします"
    [attachment] = report.attachments
    clean, _ = storage.read(attachment, 10_000_000)
    # LINE served the photo as a phone took it, with its camera and position; staff get neither.
    assert b"Katsushika Camera" in PHONE_PHOTO
    assert b"Exif" not in clean and b"Katsushika Camera" not in clean
    assert clean.startswith(b"\xff\xd8\xff") and images.sniff(clean) == "image/jpeg"
    assert conversations.get(resident.user_id) is None

    twice = resident.tap_button(confirm, text_of("button.send"))  # "send" tapped again
    assert texts(twice) == text_of("report.already_sent", receipt=mine.receipt)  # not "dead button"
    assert len(list(Submission.by_line_user.query(resident.user_id))) == 1


def test_a_report_with_a_typed_address_and_no_photo(resident):
    resident.start_report("illegal-dumping", "appliance")
    resident.tap("report.photos_done")
    assert texts(resident.tap("report.address")) == text_of("report.ask_address")
    resident.say("柴又公園の北側入口付近")
    confirm = resident.tap("report.comment_skip")
    resident.tap_button(confirm, text_of("button.send"))

    [mine] = Submission.by_line_user.query(resident.user_id)
    report = submissions.get(mine.receipt)
    assert report.data == {"wasteType": "appliance", "location": {"address": "柴又公園の北側入口付近"}}


def test_a_chat_report_is_filed_while_a_refollow_is_still_on_its_way(resident):
    """A review: after a block and an unblock, the unfollow was applied and the follow not yet
    (SQS keeps no order); the report and its photos were thrown away as "not following". A
    resident talking to the account follows it."""
    resident.send(line_event("unfollow", resident.user_id))
    sent = resident.report_at("illegal-dumping", "appliance", "柴又公園の北側入口付近")
    assert text_of("report.rejected") not in texts(sent)
    [filed] = Submission.by_line_user.query(resident.user_id)
    assert submissions.get(filed.receipt).form_id == "illegal-dumping"


def test_a_typed_address_in_another_ward_is_refused_as_a_pin_outside_is(resident):
    """An outside tester filed a streetlight in Nishi-Shinjuku by typing its address."""
    resident.start_report("streetlight-outage", "off", "no")
    resident.tap("report.photos_done")
    resident.tap("report.address")
    for address in ("2-8-1 Nishi-Shinjuku, Shinjuku-ku, Tokyo", "東京都足立区千住1-2-3"):
        answer = resident.say(address)
        assert texts(answer).startswith(text_of("report.outside_ward"))
        assert conversations.get(resident.user_id).step == "address"
    resident.say("葛飾区新宿6丁目3番")  # Katsushika's own 新宿 (Niijuku)
    assert conversations.get(resident.user_id).step == "plate"  # then the pole's number


def test_a_pin_outside_the_ward_is_refused(resident):
    resident.start_report("road-park-damage", "pothole", "no")
    resident.tap("report.photos_done")

    answer = resident.location(35.6812, 139.7671)  # Tokyo Station

    assert texts(answer).startswith(text_of("report.outside_ward"))
    assert conversations.get(resident.user_id).step == "location"
    # A pin inside the ward's rectangle whose LINE address names another ward (Koiwa, Edogawa):
    # refused here, not at "Send", where the report would be lost.
    answer = resident.location(35.7332, 139.8826, "日本、〒133-0056 東京都江戸川区南小岩7丁目24")
    assert texts(answer).startswith(text_of("report.outside_ward"))
    assert conversations.get(resident.user_id).step == "location"
    # Coordinates off the globe (no phone sends them): the same, not "send a location".
    answer = resident.location(91, 181)
    assert texts(answer).startswith(text_of("report.outside_ward"))
    assert text_of("general.unsupported_message") not in texts(answer)
    assert conversations.get(resident.user_id).step == "location"


@pytest.mark.parametrize("word", ["やめる", "キャンセル", "cancel", "취소"])
def test_cancel_works_at_any_step(resident, word):
    resident.tap("menu.report")
    resident.tap("report.category", "road-park-damage")

    answer = resident.say(word)

    assert texts(answer) == text_of("general.cancelled")
    assert conversations.get(resident.user_id) is None
    assert texts(resident.tap("report.kind", "pothole")).startswith(text_of("general.not_understood"))


def test_a_resident_who_went_quiet_starts_afresh(resident):
    resident.tap("menu.report")
    resident.tap("report.category", "road-park-damage")
    conversation = conversations.get(resident.user_id)
    conversations.save(conversation, conversation.updated_at - timedelta(minutes=31))

    answer = resident.tap("report.kind", "pothole")

    assert texts(answer).startswith(text_of("general.expired"))
    assert conversations.get(resident.user_id) is None


# --- applications and my requests ----------------------------------------------------------------


def test_apply_offers_each_online_form_in_the_liff_app(resident):
    answer = resident.tap("menu.apply")

    links = [a["uri"] for a in buttons(answer) if a["type"] == "uri"]
    assert f"{get_settings().liff_url}/forms/juminhyo-copy?lang=ja" in links
    assert not any("streetlight" in link for link in links)  # reports go through the chat


def test_the_liff_pages_open_in_the_language_chosen_on_line(english_resident):
    """The page cannot know the resident before LIFF signs them in: the link says the language."""
    english_resident.tap("prefs.language_set", "ko")
    links = [a["uri"] for a in buttons(english_resident.tap("menu.apply")) if a["type"] == "uri"]
    assert f"{get_settings().liff_url}/forms/juminhyo-copy?lang=ko" in links
    settings = [a["uri"] for a in buttons(english_resident.tap("menu.settings")) if a["type"] == "uri"]
    assert settings == [f"{get_settings().liff_url}/settings?lang=ko"]


def test_my_requests_lists_receipts_with_their_status(resident):
    assert texts(resident.tap("menu.mine")) == text_of("mine.none")
    resident.start_report("streetlight-outage", "off", "no")
    resident.tap("report.photos_done")
    resident.location(35.76812, 139.87055)
    resident.tap("report.plate_skip")
    confirm = resident.tap("report.comment_skip")
    resident.tap_button(confirm, text_of("button.send"))

    answer = resident.tap("menu.mine")

    [mine] = Submission.by_line_user.query(resident.user_id)
    assert mine.receipt in texts(answer) and text_of("status.received") in texts(answer)


def test_a_liff_submission_belongs_to_the_resident_and_its_news_arrive_on_line(
    resident, client, sandbox, pump
):
    token = requests.post(
        f"{sandbox.base_url}/__sandbox/id-tokens",
        json={"sub": resident.user_id, "aud": get_settings().line_login_channel_id},
        timeout=5,
    ).json()["idToken"]

    response = client.http.post(
        "/forms/juminhyo-copy/submissions",
        body=json.dumps(get_form("juminhyo-copy").example),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.body
    receipt = json.loads(response.body)["receipt"]
    assert submissions.get(receipt).line_user_id == resident.user_id
    pump.drain()

    pushes = [r for r in sandbox.requests("/v2/bot/message/push") if r["body"]["to"] == resident.user_id]
    assert any(receipt in m["text"] for r in pushes for m in r["body"]["messages"])


def test_a_liff_submission_with_a_bad_token_is_refused(client):
    from chalicelib.domain.forms import get_form

    response = client.http.post(
        "/forms/juminhyo-copy/submissions",
        body=json.dumps(get_form("juminhyo-copy").example),
        headers={"Content-Type": "application/json", "Authorization": "Bearer not-a-token"},
    )
    assert response.status_code == 401


# --- delivery ------------------------------------------------------------------------------------


def test_a_refused_reply_token_falls_back_to_a_push(resident, sandbox):
    event = line_event("message", resident.user_id, message={"id": _id(), "type": "text", "text": "ごみ"})
    requests.post(
        f"{sandbox.base_url}/__sandbox/reply-tokens/invalid",
        json={"tokens": [event["replyToken"]]},
        timeout=5,
    ).raise_for_status()

    answer = resident.send(event)

    assert texts(answer).startswith(text_of("handoff.suggest", person=text_of("button.ask_person")))
    [push] = [r for r in sandbox.requests("/v2/bot/message/push") if r["body"]["to"] == resident.user_id]
    assert push["headers"].get("X-Line-Retry-Key") or push["headers"].get("x-line-retry-key")


def test_standby_events_are_not_answered(resident, sandbox):
    before = len(sandbox.requests())
    event = line_event(
        "message", resident.user_id, mode="standby", message={"id": _id(), "type": "text", "text": "ごみ"}
    )

    assert resident.send(event) == []
    assert [r["path"] for r in sandbox.requests()[before:]] == []


def test_a_sticker_gets_a_polite_answer(resident):
    answer = resident.send(
        line_event(
            "message",
            resident.user_id,
            message={"id": _id(), "type": "sticker", "packageId": "1", "stickerId": "1"},
        )
    )

    assert texts(answer) == text_of("general.unsupported_message")


@pytest.mark.parametrize(
    "message",
    [
        {"type": "image", "contentProvider": {"type": "line"}},
        {"type": "location", "latitude": 35.76, "longitude": 139.87, "address": "東京都葛飾区立石5-13-1"},
    ],
)
def test_a_photo_or_place_sent_before_a_report_is_told_how_to_report_it(resident, message):
    """An outside run: they were told to send text, a photo or a location, which they had."""
    answer = resident.send(line_event("message", resident.user_id, message={"id": _id(), **message}))
    assert texts(answer) == text_of("general.media_outside_report")
    resident.tap_button(answer, text_of("button.report"))  # the report starts from here
    assert conversations.get(resident.user_id).flow == "report"


def test_an_event_applied_before_its_reply_failed_is_answered_again_not_applied_twice(resident, sandbox):
    resident.start_report("illegal-dumping", "tires")
    resident.tap("report.photos_done")
    resident.tap("report.address")
    resident.say("奥戸の河川敷")
    sandbox.fault("/v2/bot/message/reply", status=500, count=4)  # every attempt of the first delivery

    answer = resident.say("タイヤが4本")  # applied, then the reply fails; SQS delivers it again

    statuses = [r["status"] for r in sandbox.requests("/v2/bot/message/reply")][-5:]
    assert statuses == [500, 500, 500, 500, 200]
    assert texts(answer).startswith(
        text_of("report.confirm").split("\n")[0]
    )  # the summary, not "use the buttons"
    assert conversations.get(resident.user_id).data["comment"] == "タイヤが4本"


@pytest.mark.parametrize(
    "message",
    [
        {"type": "location", "latitude": "35.76", "longitude": 139.87},
        {"type": "text"},
        {"type": "text", "text": "x" * 5001},
    ],
)
def test_a_malformed_message_is_answered_politely_and_changes_nothing(resident, message):
    resident.tap("menu.report")
    resident.tap("report.category", "road-park-damage")

    answer = resident.send(line_event("message", resident.user_id, message={"id": _id(), **message}))

    assert texts(answer) == text_of("general.unsupported_message")
    assert conversations.get(resident.user_id).step == "kind"
