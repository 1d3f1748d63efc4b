"""The LINE event worker, fed by the pump from moto's SQS, talking to the LINE sandbox over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

import pytest

from chalicelib.adapters.queues import queue_url
from chalicelib.config import get_settings
from chalicelib.domain import postbacks
from chalicelib.domain.residents import ACTIVE, INACTIVE, RETENTION_AFTER_UNFOLLOW
from chalicelib.resources import LINE_EVENTS
from chalicelib.store import residents
from chalicelib.store.models import SendListEntry
from tests.integration.conftest import line_event, new_user_id, webhook_body


@pytest.fixture
def deliver(post_webhook, pump):
    """Send events through the real webhook, then let the pump run the worker until the queue is empty."""

    def deliver(*events: dict) -> None:
        assert post_webhook(webhook_body(*events)).status_code == 200
        pump.drain()

    return deliver


def replies_to(sandbox, reply_token: str) -> list[dict]:
    return [r for r in sandbox.requests("/v2/bot/message/reply") if r["body"]["replyToken"] == reply_token]


def test_follow_creates_the_resident_and_greets_in_japanese(sandbox, deliver):
    event = line_event("follow")
    deliver(event)

    resident = residents.get(event["source"]["userId"])
    assert resident.status == ACTIVE
    assert resident.language == "ja"
    assert resident.followed_at.timestamp() == pytest.approx(event["timestamp"] / 1000)
    [reply] = replies_to(sandbox, event["replyToken"])
    assert reply["status"] == 200
    [message] = reply["body"]["messages"]
    assert "友だち追加ありがとうございます" in message["text"]
    assert "葛飾区" in message["text"]
    [button] = message["quickReply"]["items"]
    opened = postbacks.read(get_settings().line_channel_secret, button["action"]["data"])
    assert opened.action == "menu.settings"


def test_the_greeting_follows_the_language_of_the_profile(sandbox, deliver):
    user_id = new_user_id()
    sandbox.set_profile(user_id, displayName="Anna", language="en")
    event = line_event("follow", user_id)
    deliver(event)

    assert residents.get(user_id).language == "en"
    [reply] = replies_to(sandbox, event["replyToken"])
    assert reply["body"]["messages"][0]["text"].startswith("Thank you for adding Katsushika City")
    assert reply["body"]["messages"][0]["quickReply"]["items"][0]["action"]["label"] == "Set preferences"


def test_a_profile_in_a_language_we_do_not_write_gets_english(sandbox, deliver):
    user_id = new_user_id()
    sandbox.set_profile(user_id, language="th")
    deliver(line_event("follow", user_id))
    assert residents.get(user_id).language == "en"


def test_standby_follow_is_recorded_without_a_reply(sandbox, deliver):
    user_id = new_user_id()
    deliver(line_event("follow", user_id, mode="standby"))
    assert residents.get(user_id).status == ACTIVE
    assert sandbox.requests("/v2/bot/message/reply") == []
    assert sandbox.requests("/v2/bot/message/push") == []


def test_unfollow_marks_inactive_sets_the_retention_ttl_and_empties_every_send_list(sandbox, deliver):
    user_id, neighbour = new_user_id(), new_user_id()
    deliver(line_event("follow", user_id))
    for segment in ("bousai#tateishi", "kosodate#tateishi", "gomi#kanamachi"):
        SendListEntry(segment, user_id, language="ja").save()
    SendListEntry("bousai#tateishi", neighbour, language="ja").save()

    unfollow = line_event("unfollow", user_id)
    deliver(unfollow)

    resident = residents.get(user_id)
    assert resident.status == INACTIVE
    assert resident.unfollowed_at.timestamp() == pytest.approx(unfollow["timestamp"] / 1000)
    # TTL is stored in whole seconds.
    assert abs(resident.expires_at - resident.unfollowed_at - RETENTION_AFTER_UNFOLLOW) < timedelta(seconds=1)
    assert list(SendListEntry.by_user.query(user_id)) == []
    assert [entry.line_user_id for entry in SendListEntry.query("bousai#tateishi")] == [neighbour]


def test_refollow_reactivates_and_clears_the_expiry(sandbox, deliver):
    user_id = new_user_id()
    deliver(line_event("follow", user_id))
    deliver(line_event("unfollow", user_id))
    again = line_event("follow", user_id)
    deliver(again)
    resident = residents.get(user_id)
    assert resident.status == ACTIVE
    assert resident.expires_at is None and resident.unfollowed_at is None
    assert len(replies_to(sandbox, again["replyToken"])) == 1


def test_a_late_follow_does_not_undo_a_newer_unfollow(sandbox, deliver):
    user_id = new_user_id()
    follow = line_event("follow", user_id)
    unfollow = line_event("unfollow", user_id, timestamp=follow["timestamp"] + 5_000)
    deliver(unfollow)
    deliver(follow)
    assert residents.get(user_id).status == INACTIVE
    assert replies_to(sandbox, follow["replyToken"]) == []


def test_a_first_message_that_overtakes_the_follow_does_not_cost_the_greeting(sandbox, deliver):
    user_id = new_user_id()
    follow = line_event("follow", user_id)
    message = line_event(
        "message",
        user_id,
        timestamp=follow["timestamp"] + 1_500,
        message={"id": "4700000000000001", "type": "text", "text": "こんにちは"},
    )
    deliver(message)  # LINE sends them apart; the queue keeps no order
    assert residents.get(user_id).status == ACTIVE
    deliver(follow)
    [greeting] = replies_to(sandbox, follow["replyToken"])
    assert "友だち追加ありがとうございます" in greeting["body"]["messages"][0]["text"]
    # The follow now has its place in the order: an older unfollow arriving late changes nothing.
    deliver(line_event("unfollow", user_id, timestamp=follow["timestamp"] - 1_000))
    assert residents.get(user_id).status == ACTIVE


def test_nothing_is_answered_in_a_group_or_room(sandbox, deliver):
    user_id = new_user_id()
    deliver(line_event("follow", user_id))
    before = len(sandbox.requests())
    for source in (
        {"type": "group", "groupId": "C" + "2" * 32, "userId": user_id},
        {"type": "room", "roomId": "R1"},
    ):
        text = {"id": "4700000000000002", "type": "text", "text": "ごみの日は？"}
        deliver(
            line_event("message", source=source, message=text),
            line_event(
                "postback",
                source=source,
                postback={"data": postbacks.sign(get_settings().line_channel_secret, "menu.mine")},
            ),
        )
    # Their requests and settings would be read by everyone there: no reply, no push.
    assert sandbox.requests()[before:] == []


def test_an_event_delivered_twice_by_sqs_is_processed_once(sandbox, sqs, pump, post_webhook):
    event = line_event("follow")
    post_webhook(webhook_body(event))
    # What an at-least-once queue may do: the same message handed out again.
    sqs.send_message(QueueUrl=queue_url(LINE_EVENTS.name), MessageBody=json.dumps(event))
    pump.drain()
    assert len(replies_to(sandbox, event["replyToken"])) == 1
    assert sandbox.requests("/v2/bot/message/push") == []


def test_an_event_the_inbox_no_longer_holds_is_still_processed_once(sandbox, sqs, pump):
    event = line_event("follow")
    for _ in range(2):  # a DLQ replay after the inbox row expired, delivered twice
        sqs.send_message(QueueUrl=queue_url(LINE_EVENTS.name), MessageBody=json.dumps(event))
    pump.drain()
    assert len(replies_to(sandbox, event["replyToken"])) == 1
    assert sandbox.requests("/v2/bot/message/push") == []


def test_a_delivery_while_another_holds_the_lease_is_retried_not_run(local_stack):
    from datetime import datetime, timedelta

    from chalicelib.store import inbox

    event_id = line_event("follow")["webhookEventId"]
    now = datetime.now(UTC)
    assert inbox.claim(event_id, now, timedelta(seconds=60)) is inbox.Claim.CLAIMED
    assert inbox.claim(event_id, now, timedelta(seconds=60)) is inbox.Claim.BUSY
    # A crashed worker's lease runs out and the next delivery takes over.
    assert inbox.claim(event_id, now + timedelta(seconds=61), timedelta(seconds=60)) is inbox.Claim.CLAIMED
    inbox.mark_processed(event_id, now)
    assert inbox.claim(event_id, now + timedelta(seconds=200), timedelta(seconds=60)) is inbox.Claim.DONE


def test_once_over_the_ledger_table_runs_work_once_and_gives_a_failed_key_back(local_stack):
    from datetime import datetime, timedelta

    from chalicelib.store import inbox

    key = f"test-once#{new_user_id()}"
    now, lease = datetime.now(UTC), timedelta(seconds=60)
    with pytest.raises(RuntimeError), inbox.once(key, now, lease) as claim:
        assert claim is inbox.Claim.CLAIMED
        raise RuntimeError("the work failed")
    # Released: the next delivery runs now, not after the lease.
    with inbox.once(key, now, lease) as claim:
        assert claim is inbox.Claim.CLAIMED
        with pytest.raises(inbox.Busy), inbox.once(key, now, lease):
            pytest.fail("a second delivery must not run while the first holds the key")
    with inbox.once(key, now, lease) as claim:
        assert claim is inbox.Claim.DONE


def test_unknown_event_types_are_processed_without_calling_line(sandbox, deliver):
    deliver(line_event("membership", membership={"type": "joined", "membershipId": 1}))
    assert sandbox.requests() == []


def test_a_refused_reply_token_falls_back_to_push_and_a_429_is_retried_with_the_same_key(sandbox, deliver):
    import requests

    user_id = new_user_id()
    event = line_event("follow", user_id, replyToken="expired-token-0001")
    sandbox.fault("/v2/bot/message/push", status=429, count=1)
    deliver(event)

    pushes = sandbox.requests("/v2/bot/message/push")
    assert [push["status"] for push in pushes] == [429, 200]
    keys = {push["headers"]["x-line-retry-key"] for push in pushes}
    assert len(keys) == 1
    assert pushes[1]["body"]["to"] == user_id
    assert "友だち追加" in pushes[1]["body"]["messages"][0]["text"]
    # Counted once against the quota: the retry delivered it, nothing else did.
    usage = requests.get(
        f"{sandbox.base_url}/v2/bot/message/quota/consumption",
        headers={"Authorization": "Bearer local-access-token"},
        timeout=5,
    ).json()
    assert usage["totalUsage"] == 1


def test_a_push_retried_after_lines_accepted_it_is_not_delivered_twice(sandbox, deliver, pump, sqs):
    user_id = new_user_id()
    event = line_event("follow", user_id, replyToken="expired-token-0002")
    deliver(event)
    # The worker crashed after LINE accepted the push: SQS hands the same event out again.
    from chalicelib.store.models import InboxEvent

    InboxEvent(event["webhookEventId"]).update(
        actions=[InboxEvent.processed_at.remove(), InboxEvent.claimed_until.remove()]
    )
    sqs.send_message(QueueUrl=queue_url(LINE_EVENTS.name), MessageBody=json.dumps(event))
    pump.drain()

    statuses = [push["status"] for push in sandbox.requests("/v2/bot/message/push")]
    assert statuses == [200, 409]


def test_a_bad_record_fails_alone_and_ends_in_the_dead_letter_queue(sandbox, sqs, pump):
    good = line_event("follow")
    url = queue_url(LINE_EVENTS.name)
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "MessageBody": json.dumps(good)},
            {"Id": "bad", "MessageBody": "this is not an event"},
        ],
    )
    pump.drain()
    # The good record was processed once even though it shared a batch with a failing one.
    assert len(replies_to(sandbox, good["replyToken"])) == 1
    depths = pump.fire("dlq-watch")
    assert depths[LINE_EVENTS.dlq_name] == 1
    sqs.purge_queue(QueueUrl=queue_url(LINE_EVENTS.dlq_name))


def test_line_5xx_beyond_the_retries_fails_the_record_and_the_redelivery_succeeds(sandbox, deliver):
    event = line_event("follow")
    sandbox.fault("/v2/bot/message/reply", status=500, count=4)  # every attempt of the first delivery
    deliver(event)
    statuses = [reply["status"] for reply in replies_to(sandbox, event["replyToken"])]
    assert statuses == [500, 500, 500, 500, 200]


def test_a_profile_line_will_not_give_means_japanese(sandbox, deliver):
    user_id = new_user_id()
    sandbox.fault("/v2/bot/profile/*", status=404, count=1)
    deliver(line_event("follow", user_id))
    assert residents.get(user_id).language == "ja"


def test_a_resident_who_comes_back_gets_their_lists_and_language_back(sandbox, deliver):
    from datetime import UTC, datetime

    from chalicelib.domain import preferences as prefs
    from chalicelib.store import preferences

    user_id = new_user_id()
    deliver(line_event("follow", user_id))  # the profile says ja
    now = datetime.now(UTC)
    preferences.update(
        user_id,
        lambda p: prefs.with_language(
            prefs.with_area(
                prefs.with_topics(prefs.accept_terms(p, prefs.TERMS_VERSION, now), ["disaster"]), "tateishi"
            ),
            "en",
        ),
    )
    assert {entry.segment for entry in SendListEntry.by_user.query(user_id)} == {
        "disaster#tateishi",
        "all#tateishi",
    }

    deliver(line_event("unfollow", user_id))
    assert list(SendListEntry.by_user.query(user_id)) == []

    again = line_event("follow", user_id)
    deliver(again)
    assert {entry.segment for entry in SendListEntry.by_user.query(user_id)} == {
        "disaster#tateishi",
        "all#tateishi",
    }
    assert residents.get(user_id).language == "en"
    [reply] = replies_to(sandbox, again["replyToken"])
    assert reply["body"]["messages"][0]["text"].startswith("Thank you for adding")
