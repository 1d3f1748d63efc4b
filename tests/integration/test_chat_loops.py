"""Issue 10 in the chat: answering "needs info" on LINE, one confirmation per filing, questions mid-flow."""

from __future__ import annotations

import json

import pytest

from chalicelib.store import conversations, submissions
from chalicelib.store.models import Submission
from devstack.dev_issuer import mint_token
from tests.integration.test_line_chat import Resident, buttons, faq_buttons, text_of, texts, who_to_call


@pytest.fixture
def resident(post_webhook, pump, sandbox):
    return Resident(post_webhook, pump, sandbox)


def pushes_to(sandbox, user_id: str) -> list[dict]:
    return [
        message
        for request in sandbox.requests("/v2/bot/message/push")
        if request["body"].get("to") == user_id and request["status"] == 200
        for message in request["body"]["messages"]
    ]


def file_report(resident) -> str:
    resident.report_at("road-park-damage", "pothole", "柴又公園の北側入口付近")
    [mine] = Submission.by_line_user.query(resident.user_id)
    return mine.receipt


def staff_move(client, receipt: str, to: str, **extra) -> None:
    section = submissions.get(receipt).section
    token = mint_token(staff_id="staff-1", section=section, roles=["staff"])
    response = client.http.post(
        f"/staff/submissions/{receipt}/transitions",
        body=json.dumps({"to": to, **extra}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.body


def test_a_line_report_gets_exactly_one_confirmation(resident, sandbox, pump):
    receipt = file_report(resident)
    pump.drain()

    told = [m for m in pushes_to(sandbox, resident.user_id) if receipt in m.get("text", "")]
    assert told == []  # the chat's reply said it (the report test checks that); no second push


def test_a_hand_off_gets_exactly_one_confirmation_and_its_text_names_its_buttons(resident, sandbox, pump):
    answer = resident.say("来週の競馬で勝つ馬を教えてください")
    labels = [action["label"] for action in buttons(answer)]
    for label in labels[:1]:  # the text tells the resident which button sends it to a person
        assert f"「{label}」" in texts(answer)

    sent = resident.tap_button(answer, text_of("button.ask_person"))
    [mine] = Submission.by_line_user.query(resident.user_id)
    pump.drain()

    assert mine.receipt in texts(sent)
    assert not [m for m in pushes_to(sandbox, resident.user_id) if mine.receipt in m.get("text", "")]


def test_a_resident_answers_needs_info_in_the_chat(resident, sandbox, pump, client):
    receipt = file_report(resident)
    staff_move(client, receipt, "in_review")
    staff_move(client, receipt, "needs_info", note="穴の大きさを教えてください。", visibility="public")
    pump.drain()

    [asked] = [m for m in pushes_to(sandbox, resident.user_id) if "quickReply" in m]
    assert "穴の大きさを教えてください。" in asked["text"]
    [answer_button] = [item["action"] for item in asked["quickReply"]["items"]]
    assert answer_button["label"] == text_of("button.answer")

    # Not answered past the form's target: one reminder, with the same button.
    from datetime import UTC, datetime, timedelta

    from chalicelib.workers import responses as reminders

    reminders.run(datetime.now(UTC) + timedelta(days=40))
    reminders.run(datetime.now(UTC) + timedelta(days=41))
    reminded = [m for m in pushes_to(sandbox, resident.user_id) if "quickReply" in m]
    assert [m["text"] for m in reminded][-1].startswith("【お願い】")
    assert len([m for m in reminded if m["text"].startswith("【お願い】")]) == 1

    started = resident.send({**_postback(resident, answer_button["data"])})
    assert texts(started) == text_of("answer.ask", receipt=receipt)
    resident.say("直径30センチくらいです。")
    got = resident.photo()
    assert texts(got) == text_of("answer.got", texts=1, photos=1)

    done = resident.tap_button(got, text_of("button.send_answer"))

    assert texts(done) == text_of("answer.done", receipt=receipt)
    stored = submissions.get(receipt)
    assert stored.status == "in_review"
    [response] = stored.responses
    assert response["text"] == "直径30センチくらいです。" and response["channel"] == "line"
    assert len(response["attachments"]) == 1
    assert conversations.get(resident.user_id) is None

    again = resident.send(_postback(resident, answer_button["data"]))  # the old push's button
    assert texts(again).startswith(
        text_of("answer.not_waiting", receipt=receipt, status=text_of("status.in_review"))
    )


def test_answer_cannot_be_started_for_someone_elses_receipt(resident, post_webhook, pump, sandbox):
    other = Resident(post_webhook, pump, sandbox)
    receipt = file_report(other)

    answer = resident.tap("answer.start", receipt)

    assert texts(answer) == text_of("answer.not_found")
    assert conversations.get(resident.user_id) is None


def test_a_question_in_the_middle_of_a_report_gets_its_answer_and_the_report_goes_on(resident):
    resident.tap("menu.report")
    resident.tap("report.category", "road-park-damage")

    answer = resident.say("粗大ごみを出したいのですが、どうやって申し込めばいいですか")

    assert "https://www.city.katsushika.lg.jp/" in texts(answer)
    assert text_of("report.choose_kind") in texts(answer)  # and the step it was at, again
    assert conversations.get(resident.user_id).step == "kind"


def test_text_a_step_cannot_take_says_how_to_ask_instead_of_repeating_the_buttons(resident):
    resident.tap("menu.report")
    resident.tap("report.category", "road-park-damage")

    first = resident.say("zzqqxx")
    second = resident.say("qqzzxx")

    for answer in (first, second):
        assert text_of("report.use_buttons") not in texts(answer)
        assert text_of("flow.not_a_step", cancel=text_of("button.cancel")) in texts(answer)
    assert conversations.get(resident.user_id).step == "kind"


def _postback(resident, data: str) -> dict:
    from tests.integration.conftest import line_event

    return line_event("postback", resident.user_id, postback={"data": data})


def test_line_reports_know_their_area_from_the_address_or_the_pin(resident):
    typed = file_report(resident)  # typed address: 柴又公園の北側入口付近
    assert submissions.get(typed).area == "shibamata"

    resident.tap("menu.report")
    resident.tap("report.category", "streetlight-outage")
    resident.tap("report.kind", "off")
    resident.tap("report.danger", "no")
    resident.tap("report.photos_done")
    resident.location(35.7574, 139.8133)  # a pin with no address: 小菅
    resident.tap("report.plate_skip")  # no number on the pole's plate
    confirm = resident.tap("report.comment_skip")
    resident.tap_button(confirm, text_of("button.send"))
    pinned = [s for s in Submission.by_line_user.query(resident.user_id) if s.receipt != typed]
    assert submissions.get(pinned[0].receipt).area == "kosuge"


def test_web_reports_know_their_area_too(client):
    import copy

    from chalicelib.domain.forms import get_form

    document = copy.deepcopy(get_form("road-park-damage").example)
    document.pop("photos", None)
    document.pop("area", None)
    document["location"] = {"latitude": 35.7694, "longitude": 139.8704}  # 金町駅
    response = client.http.post(
        "/forms/road-park-damage/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.body
    assert submissions.get(json.loads(response.body)["receipt"]).area == "kanamachi"


def test_my_requests_offers_to_answer_what_the_ward_is_waiting_on(resident, client):
    receipt = file_report(resident)
    staff_move(client, receipt, "in_review")
    staff_move(client, receipt, "needs_info", note="場所の目印を教えてください。", visibility="public")

    mine = resident.tap("menu.mine")
    started = resident.tap_button(mine, text_of("button.answer_for", receipt=receipt))

    assert texts(started) == text_of("answer.ask", receipt=receipt)
    assert conversations.get(resident.user_id).flow == "answer"


def _answering(resident, client, pump) -> str:
    """A report the ward is waiting on, and the resident starting to answer it in the chat."""
    receipt = file_report(resident)
    staff_move(client, receipt, "in_review")
    staff_move(client, receipt, "needs_info", note="穴の大きさを教えてください。", visibility="public")
    pump.drain()  # the ward's pushes, before the conversation
    started = resident.tap("answer.start", receipt)
    assert texts(started) == text_of("answer.ask", receipt=receipt)
    return receipt


def test_a_question_while_answering_is_answered_and_can_still_go_into_the_answer(resident, client, pump):
    receipt = _answering(resident, client, pump)
    question = "粗大ごみを出したいのですが、どうやって申し込めばいいですか"

    asked = resident.say(question)
    assert "https://www.city.katsushika.lg.jp/" in texts(asked)  # the FAQ answered it
    assert submissions.get(receipt).responses == []  # and nothing went to the ward yet

    kept = resident.tap_button(asked, text_of("button.add_to_answer"))
    assert texts(kept) == text_of("answer.got", texts=1, photos=0)
    resident.tap_button(kept, text_of("button.send_answer"))
    [response] = submissions.get(receipt).responses
    assert response["text"] == question


def test_a_question_while_answering_can_be_left_out_and_the_answer_goes_on(resident, client, pump):
    receipt = _answering(resident, client, pump)
    resident.say("直径30センチくらいです。")

    asked = resident.say("粗大ごみを出したいのですが、どうやって申し込めばいいですか")
    resumed = resident.tap_button(asked, text_of("button.continue_flow"))
    assert texts(resumed) == text_of("answer.got", texts=1, photos=0)  # the question left out
    resident.tap_button(resumed, text_of("button.send_answer"))

    [response] = submissions.get(receipt).responses
    assert response["text"] == "直径30センチくらいです。"


def test_an_emergency_written_into_an_answer_is_told_who_to_call_and_kept(resident, client, pump):
    """An answer to the ward naming an emergency now waited for the clerk, with no 110/119."""
    _answering(resident, client, pump)
    got = resident.say("穴につまずいて人が倒れている")
    emergency = who_to_call()
    assert got[0]["text"].startswith(emergency)
    assert texts(got[1:]) == text_of("answer.got", texts=1, photos=0)


def test_a_place_sent_while_answering_asks_for_the_answer_again(resident, client, pump):
    """A review: a location sent while answering the ward was told to tap Report, which starts
    another flow; the answer takes text and photos, so it is asked for again."""
    receipt = _answering(resident, client, pump)
    again = resident.location(35.7434, 139.8472)
    assert texts(again) == text_of("answer.text_or_photo") + "\n" + text_of("answer.ask", receipt=receipt)
    assert conversations.get(resident.user_id).flow == "answer"


def test_an_empty_answer_is_not_sent_and_the_resident_is_told(resident, client, pump):
    receipt = _answering(resident, client, pump)
    started = resident.tap("answer.start", receipt)

    empty = resident.tap_button(started, text_of("button.send_answer"))

    assert text_of("answer.empty") in texts(empty)
    assert submissions.get(receipt).responses == []
    assert conversations.get(resident.user_id).flow == "answer"  # still answering


def test_an_answer_too_long_keeps_what_was_already_written(resident, client, pump):
    from chalicelib.domain.responses import MAX_TEXT_CHARS

    receipt = _answering(resident, client, pump)
    resident.say("直径30センチくらいです。")

    too_long = resident.say("あ" * (MAX_TEXT_CHARS - 5))  # fits alone, not with what came before
    assert text_of("answer.too_long", limit=MAX_TEXT_CHARS) in texts(too_long)
    assert texts(too_long).endswith(text_of("answer.got", texts=1, photos=0))
    resident.tap_button(too_long, text_of("button.send_answer"))

    [response] = submissions.get(receipt).responses
    assert response["text"] == "直径30センチくらいです。"


def test_an_answer_sent_after_the_ward_moved_on_is_refused_and_nothing_is_stored(resident, client, pump):
    receipt = _answering(resident, client, pump)
    got = resident.say("直径30センチくらいです。")
    staff_move(client, receipt, "in_review")  # staff went ahead without waiting for it

    late = resident.tap_button(got, text_of("button.send_answer"))

    assert texts(late).startswith(
        text_of("answer.not_waiting", receipt=receipt, status=text_of("status.in_review"))
    )
    assert submissions.get(receipt).responses == []
    assert conversations.get(resident.user_id) is None


def test_the_send_button_tapped_twice_sends_one_answer(resident, client, pump):
    receipt = _answering(resident, client, pump)
    got = resident.say("直径30センチくらいです。")

    first = resident.tap_button(got, text_of("button.send_answer"))
    second = resident.tap_button(got, text_of("button.send_answer"))  # the same button again

    assert texts(first) == text_of("answer.done", receipt=receipt)
    assert text_of("answer.done", receipt=receipt) not in texts(second)
    assert len(submissions.get(receipt).responses) == 1


def test_a_broad_question_in_the_middle_of_a_report_offers_answers_and_the_way_back(resident):
    resident.tap("menu.report")
    resident.tap("report.category", "road-park-damage")

    offered = resident.say("ごみ")  # too broad for one answer

    intro = text_of("flow.suggest", resume=text_of("button.continue_flow"))
    assert texts(offered).startswith(intro)
    shown = faq_buttons(offered)
    assert 1 <= len(shown) <= 3
    answer = resident.tap_button(offered, shown[0]["label"])
    assert "https://www.city.katsushika.lg.jp/" in texts(answer)
    assert conversations.get(resident.user_id).step == "kind"  # the report waits meanwhile

    back = resident.tap_button(offered, text_of("button.continue_flow"))
    assert text_of("report.choose_kind") in texts(back)
    assert conversations.get(resident.user_id).step == "kind"
