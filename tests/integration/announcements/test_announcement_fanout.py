"""The fan-out through the local stack: who is reached, exactly once, whatever crashes.

Sends go through the real workers (the pump delivers SQS messages to app.py's handlers) to
the LINE sandbox, and every assertion counts, per resident, the messages the sandbox took.
Other tests' residents share the send lists, so each test checks its own residents (and that
nobody at all got anything twice); tests that need exact chunking use send lists no other
test writes to.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.line_api import LineClient, line_client
from chalicelib.domain import announcements as rules
from chalicelib.domain import postbacks
from chalicelib.domain.staff import ROLE_SUPERVISOR
from chalicelib.services import announcements as service
from chalicelib.services import fanout
from chalicelib.store import announcements as store
from chalicelib.store import throttle
from chalicelib.store.models import FanoutItem
from tests.integration.announcements.helpers import (
    BOSS,
    MULTICAST,
    Crasher,
    announcement,
    body_of,
    collect_now,
    delivered,
    drain,
    headers,
    make_resident,
    messages_to,
    quiet_now,
    quiet_off,
    stop_all,
    survive_crashes,
    unfollow,
)

BASE = "/staff/announcements"


@pytest.fixture
def send(api):
    """Create and submit an announcement (a supervisor when it is for everyone); its id."""

    def go(document=None, *, as_=None, send_at=None) -> str:
        created = api("POST", BASE, document or announcement(), as_=as_)
        assert created.status_code == 201, created.body
        announcement_id = body_of(created)["id"]
        submitted = api("POST", f"{BASE}/{announcement_id}/submit", {"sendAt": send_at}, as_=as_)
        assert submitted.status_code == 200, submitted.body
        return announcement_id

    return go


@pytest.fixture
def fast_line(monkeypatch):
    """LINE retries without the production backoff, so injected faults cost milliseconds."""
    monkeypatch.setattr(line_client(), "_backoff_seconds", 0.01)


def shown(api, announcement_id: str) -> dict:
    response = api("GET", f"{BASE}/{announcement_id}")
    assert response.status_code == 200, response.body
    return body_of(response)


def no_one_twice(sandbox) -> Counter:
    counts = delivered(sandbox)
    assert [user for user, n in counts.items() if n > 1] == []
    return counts


# --- who is reached: the key queries agree with a brute-force reference ---------------------------

TOPICS = ("waste", "childcare", "tax-insurance")
AREAS = (None, "kosuge", "takasago", "hosoda")
LANGS = ("ja", "en", "vi")
BANDS = (None, "30-39", "70+")

_residents = st.lists(
    st.fixed_dictionaries(
        {
            "topics": st.sets(st.sampled_from(TOPICS), max_size=3),
            "area": st.sampled_from(AREAS),
            "language": st.sampled_from(LANGS),
            "age_band": st.sampled_from(BANDS),
            "consent": st.sampled_from([True, True, True, False]),
            "paused": st.sampled_from([False, False, False, True]),
            "following": st.sampled_from([True, True, True, False]),
        }
    ),
    min_size=4,
    max_size=18,
)
_targets = st.lists(
    st.fixed_dictionaries(
        {
            "category": st.sampled_from([rules.GENERAL, rules.GENERAL, rules.EMERGENCY]),
            "topic": st.sampled_from(TOPICS),
            "areas": st.sets(st.sampled_from([a for a in AREAS if a]), max_size=2),
            "ages": st.sets(st.sampled_from([b for b in BANDS if b]), max_size=1),
            "languages": st.sets(st.sampled_from(LANGS), max_size=2),
        }
    ),
    min_size=3,
    max_size=8,
)


def reference(resident, content: rules.Content) -> bool:
    """Who should get it, straight from the residents' choices: no send lists involved."""
    target = content.target
    if not (resident.following and resident.consent and not resident.paused):
        return False
    if content.category == rules.GENERAL and content.topic not in resident.topics:
        return False
    return (
        (not target.areas or resident.area is None or resident.area in target.areas)
        and (not target.languages or resident.language in target.languages)
        and (not target.age_bands or resident.age_band is None or resident.age_band in target.age_bands)
    )


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(population=_residents, targets=_targets)
def test_segment_resolution_matches_a_brute_force_reference(local_stack, monkeypatch, population, targets):
    from pynamodb.connection.base import Connection

    residents = [make_resident(**person) for person in population]
    ours = {resident.user_id: resident for resident in residents}

    def no_scan(*args, **kwargs):
        raise AssertionError("segment resolution scanned a table")

    monkeypatch.setattr(Connection, "scan", no_scan)
    for spec in targets:
        emergency = spec["category"] == rules.EMERGENCY
        content = rules.content_from_document(
            {
                "category": spec["category"],
                "topic": None if emergency else spec["topic"],
                "texts": {"ja": "x"},
                "target": {
                    "areas": sorted(spec["areas"]),
                    "ageBands": [] if emergency else sorted(spec["ages"]),
                    "languages": [] if emergency else sorted(spec["languages"]),
                },
            }
        )
        found = [entry.line_user_id for _, entry in service.matching(content, consistent=True)]
        assert len(found) == len(set(found))  # nobody read twice
        mine = {user for user in found if user in ours}
        expected = {user for user, resident in ours.items() if reference(resident, content)}
        assert mine == expected, (content, sorted(mine ^ expected))


_changes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=17),
        st.sampled_from(["language", "age_band", "area", "topics", "stop_all", "unfollow"]),
        st.integers(min_value=0, max_value=5),
    ),
    max_size=10,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(population=_residents, changes=_changes, targets=_targets)
def test_preview_counts_equal_the_members_read_one_by_one(local_stack, population, changes, targets):
    """The counts kept with the send lists give the same figures as reading every entry."""
    from chalicelib.domain import preferences as prefs_rules
    from chalicelib.store import preferences as store_prefs

    residents = [make_resident(**person) for person in population]
    for index, kind, pick in changes:
        resident = residents[index % len(residents)]
        if kind == "unfollow":
            if resident.following:
                unfollow(resident)
            continue
        if kind == "stop_all":
            stop_all(resident)
            continue
        change = {
            "language": lambda p, pick=pick: prefs_rules.with_language(p, LANGS[pick % len(LANGS)]),
            "age_band": lambda p, pick=pick: prefs_rules.with_age_band(p, BANDS[pick % len(BANDS)]),
            "area": lambda p, pick=pick: prefs_rules.with_area(p, AREAS[pick % len(AREAS)]),
            "topics": lambda p, pick=pick: prefs_rules.with_topics(p, TOPICS[: pick % (len(TOPICS) + 1)]),
        }[kind]
        store_prefs.update(resident.user_id, change)
    for spec in targets:
        emergency = spec["category"] == rules.EMERGENCY
        content = rules.content_from_document(
            {
                "category": spec["category"],
                "topic": None if emergency else spec["topic"],
                "texts": {"ja": "x"},
                "target": {
                    "areas": sorted(spec["areas"]),
                    "ageBands": [] if emergency else sorted(spec["ages"]),
                    "languages": [] if emergency else sorted(spec["languages"]),
                },
            }
        )
        by_language: Counter = Counter()
        by_area: Counter = Counter()
        for partition, entry in service.matching(content, consistent=True):
            by_language[entry.language] += 1
            by_area[rules.partition_area(partition) or fanout.NO_AREA] += 1
        counted = fanout.count_recipients(content)
        assert {k: v for k, v in counted.by_language.items() if v} == dict(by_language), content
        assert counted.by_area == dict(sorted(by_area.items())), content


# --- one send, end to end ----------------------------------------------------------------------------


def test_an_announcement_reaches_its_residents_once_in_their_language_with_why_and_a_stop_button(
    api, send, policy, pump, sandbox
):
    policy(quiet_off(chunk_size=2))
    japanese = [make_resident(["events-culture"], "shibamata", "ja") for _ in range(3)]
    english = make_resident(["events-culture"], None, "en", "70+")
    korean = make_resident(["events-culture"], "shibamata", "ko", "30-39")
    elsewhere = make_resident(["events-culture"], "aoto", "ja")
    other_topic = make_resident(["waste"], "shibamata", "ja")
    document = announcement(
        topic="events-culture",
        texts={"ja": "柴又の夏祭りは中止です。", "en": "The Shibamata summer festival is cancelled."},
        link="https://www.city.katsushika.lg.jp/matsuri",
        image={"url": "https://www.city.katsushika.lg.jp/images/poster.jpg"},
        target={"areas": ["shibamata"]},
    )
    announcement_id = send(document)
    drain(pump)

    counts = no_one_twice(sandbox)
    for resident in (*japanese, english, korean):
        assert counts[resident.user_id] == 1
    assert counts[elsewhere.user_id] == counts[other_topic.user_id] == 0

    [[image, text]] = messages_to(sandbox, english.user_id)
    assert (
        image["type"] == "image"
        and image["originalContentUrl"] == "https://www.city.katsushika.lg.jp/images/poster.jpg"
    )
    assert text["text"].startswith("The Shibamata summer festival is cancelled.")
    assert "https://www.city.katsushika.lg.jp/matsuri" in text["text"]
    assert "Why you got this" in text["text"] and "Shibamata" in text["text"]
    stop, settings_button = text["quickReply"]["items"]
    assert stop["action"]["label"] == "Stop this topic"
    secret = __import__("os").environ["LINE_CHANNEL_SECRET"]
    assert postbacks.read(secret, stop["action"]["data"]) == postbacks.Postback(
        "prefs.topic_off", "events-culture"
    )
    assert postbacks.read(secret, settings_button["action"]["data"]).action == "menu.settings"
    [[_, korean_text]] = messages_to(sandbox, korean.user_id)
    # No Korean text: the fallback chain ko -> en -> ja gives the English one, not the Japanese.
    assert korean_text["text"].startswith("The Shibamata summer festival is cancelled.")
    assert "발송 이유" in korean_text["text"]

    report = shown(api, announcement_id)
    assert report["status"] == rules.SENT
    assert report["counts"]["sent"] == report["counts"]["planned"] == sum(counts.values())
    assert report["counts"]["failed"] == report["counts"]["heldBack"] == 0
    assert report["byLanguage"]["ko"]["sent"] >= 1 and report["byLanguage"]["en"]["sent"] >= 1
    # Every request LINE took is named, and no more requests than the minimum were made.
    accepted = [entry for entry in sandbox.requests(MULTICAST) if entry["accepted"]]
    assert sorted(report["lineRequestIds"]) == sorted(entry["requestId"] for entry in accepted)
    by_language = {language: row["sent"] for language, row in report["byLanguage"].items()}
    assert (
        len(sandbox.requests(MULTICAST))
        == rules.minimum_requests(by_language, 2)
        == report["progress"]["chunks"]
    )
    assert all(len(entry["body"]["to"]) <= 2 for entry in accepted)
    assert len({entry["headers"]["x-line-retry-key"] for entry in accepted}) == len(accepted)


def test_the_stop_button_under_an_announcement_stops_that_topic(
    api, send, policy, pump, sandbox, post_webhook
):
    from tests.integration.conftest import line_event, webhook_body

    resident = make_resident(["events-culture", "waste"], "kosuge", "ja")
    send(announcement(topic="events-culture", target={"areas": ["kosuge"]}))
    drain(pump)
    [[text]] = messages_to(sandbox, resident.user_id)
    data = text["quickReply"]["items"][0]["action"]["data"]
    event = line_event("postback", resident.user_id, postback={"data": data})
    assert post_webhook(webhook_body(event)).status_code == 200
    drain(pump)
    from chalicelib.store import preferences as store_prefs

    assert store_prefs.get(resident.user_id).preferences.topics == {"waste"}


# --- emergencies, the cap, quiet hours ------------------------------------------------------------


def test_an_emergency_reaches_every_follower_of_the_area_whatever_their_topics_hour_or_cap(
    api, send, policy, pump, sandbox
):
    policy(quiet_off(daily_cap=1))
    no_topics = make_resident([], "niijuku")
    other_topics = make_resident(["childcare"], "niijuku", "vi")
    no_area = make_resident(["health"], None, "en")
    stopped = make_resident(["disaster"], "niijuku", paused=True)
    no_consent = make_resident(["disaster"], "niijuku", consent=False)
    gone = make_resident(["disaster"], "niijuku", following=False)
    neighbour = make_resident(["disaster"], "kameari")
    # The cap is full for one of them already, and it is quiet hours: neither holds an emergency back.
    send(announcement(topic="childcare", target={"areas": ["niijuku"]}))
    drain(pump)
    assert delivered(sandbox)[other_topics.user_id] == 1
    policy(quiet_now(daily_cap=1))

    document = announcement(
        category="emergency",
        topic=None,
        texts={"ja": "新宿地区に避難指示が出ました。"},
        target={"areas": ["niijuku"]},
    )
    announcement_id = send(document, as_=headers((ROLE_SUPERVISOR,), BOSS))
    drain(pump)
    counts = delivered(sandbox)  # the childcare announcement, then the emergency
    assert [counts[r.user_id] for r in (no_topics, other_topics, no_area)] == [1, 2, 1]
    assert [counts[r.user_id] for r in (stopped, no_consent, gone, neighbour)] == [0, 0, 0, 0]
    report = shown(api, announcement_id)
    assert (
        report["status"] == rules.SENT
        and report["counts"]["heldBack"] == 0
        and report["deferredUntil"] is None
    )
    [[text]] = messages_to(sandbox, no_area.user_id)
    assert text["text"].startswith("[EMERGENCY]") and "Niijuku" in text["text"]
    assert [item["action"]["label"] for item in text["quickReply"]["items"]] == ["Settings"]


def test_the_daily_cap_holds_back_and_counts_and_each_announcement_counts_once(
    api, send, policy, pump, sandbox
):
    policy(quiet_off(daily_cap=2))
    residents = [make_resident(["tax-insurance"], "kamakura", language) for language in ("ja", "en", "ne")]
    ids = [send(announcement(topic="tax-insurance", target={"areas": ["kamakura"]})) for _ in range(3)]
    drain(pump)
    counts = delivered(sandbox)
    assert [counts[r.user_id] for r in residents] == [2, 2, 2]
    third = shown(api, ids[2])
    assert third["counts"]["heldBack"] >= 3
    assert third["byLanguage"]["ne"]["heldBack"] >= 1 and third["byLanguage"]["en"]["heldBack"] >= 1
    day = rules.cap_day(datetime.now(UTC))
    for resident in residents:
        assert store.daily_count(resident.user_id, day) == set(ids[:2])
    # Counting again (a redelivered collector) changes nothing.
    allowed, held = store.take_daily_slots([r.user_id for r in residents], ids[0], day, 2, datetime.now(UTC))
    assert allowed == {r.user_id for r in residents} and held == set()
    assert store.daily_count(residents[0].user_id, day) == set(ids[:2])


def test_what_the_cap_held_back_is_counted_once_when_a_collector_dies_before_its_commit(
    api, send, policy, pump, sandbox, monkeypatch
):
    policy(quiet_off(daily_cap=1, chunk_size=2))
    residents = sorted(
        (make_resident(["childcare"], "ohanajaya", "ja") for _ in range(6)), key=lambda r: r.user_id
    )
    capped, free = residents[0::2], residents[1::2]  # interleaved: some below the stored chunk's end
    day = rules.cap_day(datetime.now(UTC))
    store.take_daily_slots([r.user_id for r in capped], "an earlier announcement", day, 1, datetime.now(UTC))
    announcement_id = send(announcement(topic="childcare", target={"areas": ["ohanajaya"]}))
    fanout.plan(announcement_id)
    ours = "childcare#ohanajaya"
    for partition in store.get(announcement_id).partitions:
        if partition != ours:
            fanout.collect(announcement_id, partition)

    def figures() -> tuple[int, int]:
        progress = fanout.counts(store.progress(announcement_id))
        return sum(progress[rules.HELD_BACK].values()), sum(progress[rules.PLANNED].values())

    before = figures()
    commit = store.commit_collection

    def dies(*args, **kwargs):
        raise RuntimeError("the collector died after storing its full chunk")

    monkeypatch.setattr(store, "commit_collection", dies)
    with pytest.raises(RuntimeError):
        fanout.collect(announcement_id, ours)
    [stored] = store.items(announcement_id, f"chunk#{ours}#")
    assert stored.user_ids == [free[0].user_id, free[1].user_id] and stored.held_back == 2
    monkeypatch.setattr(store, "commit_collection", commit)
    assert fanout.collect(announcement_id, ours) == "collected"
    held, planned = figures()
    assert (held - before[0], planned - before[1]) == (3, 3)

    drain(pump)
    counts = no_one_twice(sandbox)
    assert [counts[r.user_id] for r in free] == [1, 1, 1]
    assert [counts[r.user_id] for r in capped] == [0, 0, 0]


def test_a_send_that_runs_into_quiet_hours_waits_and_drops_who_left_meanwhile(
    api, send, policy, pump, sandbox, monkeypatch
):
    policy(quiet_off(chunk_size=2))
    residents = [make_resident(["elderly-care"], "mizumoto-koen", "ja") for _ in range(5)]
    announcement_id = send(announcement(topic="elderly-care", target={"areas": ["mizumoto-koen"]}))
    collect_now(announcement_id)  # the send starts and its lists are read outside the quiet hours...
    # ...then the quiet hours begin before any chunk goes out, and one resident stops everything.
    quiet = policy(quiet_now(chunk_size=2))
    drain(pump)
    assert delivered(sandbox) == Counter()
    waiting = shown(api, announcement_id)
    assert waiting["status"] == rules.SENDING
    assert waiting["counts"]["deferred"] == waiting["counts"]["planned"] >= 5
    stop_all(residents[0])

    end = rules.quiet_hours_end(datetime.now(UTC), quiet)
    monkeypatch.setattr(fanout, "_now", lambda: end + timedelta(seconds=1))
    assert fanout.run_due(end + timedelta(seconds=1))["watched"] >= 1
    drain(pump)
    counts = no_one_twice(sandbox)
    assert counts[residents[0].user_id] == 0
    assert all(counts[r.user_id] == 1 for r in residents[1:])
    done = shown(api, announcement_id)
    assert done["status"] == rules.SENT
    assert done["counts"]["deferred"] == 0 and done["counts"]["withdrawn"] == 1
    assert done["counts"]["sent"] == done["counts"]["planned"] - 1


# --- opt-outs and cancels ---------------------------------------------------------------------------


def test_who_opts_out_between_preview_and_send_receives_nothing(api, policy, pump, sandbox):
    stays = make_resident(["roads-traffic"], "shiratori")
    stops = make_resident(["roads-traffic"], "shiratori")
    leaves = make_resident(["roads-traffic"], "shiratori")
    drops_topic = make_resident(["roads-traffic", "waste"], "shiratori")
    withdraws = make_resident(["roads-traffic"], "shiratori")
    created = body_of(api("POST", BASE, announcement(topic="roads-traffic", target={"areas": ["shiratori"]})))
    before = body_of(api("POST", f"{BASE}/{created['id']}/preview"))
    assert before["recipients"] >= 5

    from chalicelib.domain import preferences as prefs_rules
    from chalicelib.store import preferences as store_prefs

    stop_all(stops)
    unfollow(leaves)
    store_prefs.update(
        drops_topic.user_id, lambda p: prefs_rules.with_topics(p, p.topics - {"roads-traffic"})
    )
    store_prefs.update(withdraws.user_id, prefs_rules.withdraw_consent)
    after = body_of(api("POST", f"{BASE}/{created['id']}/preview"))
    assert after["recipients"] == before["recipients"] - 4

    api("POST", f"{BASE}/{created['id']}/submit", {})
    drain(pump)
    counts = delivered(sandbox)
    assert counts[stays.user_id] == 1
    assert [counts[r.user_id] for r in (stops, leaves, drops_topic, withdraws)] == [0, 0, 0, 0]


def test_a_cancel_mid_send_starts_no_further_chunk_and_finishes_the_one_in_flight(
    api, send, policy, pump, sandbox, monkeypatch
):
    policy(quiet_off(chunk_size=2))
    residents = [make_resident(["crime-prevention"], "okudo", "ja") for _ in range(12)]
    announcement_id = send(announcement(topic="crime-prevention", target={"areas": ["okudo"]}))
    collect_now(announcement_id)
    keys = sorted(chunk.item_key for chunk in store.items(announcement_id, "chunk#"))
    assert len(keys) >= 6
    for key in keys[:2]:
        assert fanout.send(announcement_id, key) == store.SENT
    in_flight = store.item(announcement_id, keys[2])
    # A worker took it, then died before LINE answered.
    assert store.start_chunk(store.ChunkRef.of(in_flight), datetime.now(UTC))

    cancelled = body_of(api("POST", f"{BASE}/{announcement_id}/cancel", {}))
    assert cancelled["status"] == rules.CANCELLED
    drain(pump)

    chunks = {chunk.item_key: chunk for chunk in store.items(announcement_id, "chunk#")}
    cancelled_at = store.get(announcement_id).cancelled_at
    assert {key: chunks[key].status for key in keys[:3]} == dict.fromkeys(keys[:3], store.SENT)
    assert all(chunks[key].status == store.CANCELLED for key in keys[3:])
    assert all(c.started_at is None or c.started_at <= cancelled_at for c in chunks.values())
    counts = no_one_twice(sandbox)
    reached = {user for key in keys[:3] for user in chunks[key].user_ids}
    assert all(counts[r.user_id] == (1 if r.user_id in reached else 0) for r in residents)
    report = shown(api, announcement_id)
    assert report["status"] == rules.CANCELLED
    assert report["counts"]["sent"] == len(reached)
    assert report["counts"]["sent"] + report["counts"]["cancelled"] == report["counts"]["planned"]


def all_settled(announcement_id: str) -> bool:
    """No chunk waits to start and no rest waits to be merged."""
    chunks = list(store.items(announcement_id, "chunk#"))
    rests = list(store.items(announcement_id, "rest#"))
    return all(c.status in store.CHUNK_FINAL for c in chunks) and all(
        r.status == store.CANCELLED for r in rests
    )


def test_a_cancel_during_the_quiet_hours_records_the_waiting_chunks_cancelled(
    api, send, policy, pump, sandbox, monkeypatch
):
    policy(quiet_off(chunk_size=2))
    residents = [make_resident(["waste"], "takaramachi", "en") for _ in range(5)]
    announcement_id = send(announcement(topic="waste", target={"areas": ["takaramachi"]}))
    collect_now(announcement_id)
    quiet = policy(quiet_now(chunk_size=2))
    drain(pump)
    assert shown(api, announcement_id)["counts"]["deferred"] >= 5

    cancelled = body_of(api("POST", f"{BASE}/{announcement_id}/cancel", {}))
    assert cancelled["counts"]["deferred"] == 0
    assert cancelled["counts"]["cancelled"] == cancelled["counts"]["planned"] >= 5
    assert {c.status for c in store.items(announcement_id, "chunk#")} == {store.CANCELLED}

    end = rules.quiet_hours_end(datetime.now(UTC), quiet) + timedelta(seconds=1)
    monkeypatch.setattr(fanout, "_now", lambda: end)
    fanout.run_due(end)
    drain(pump)
    assert [delivered(sandbox)[r.user_id] for r in residents] == [0] * 5
    assert shown(api, announcement_id)["counts"] == cancelled["counts"]


def test_a_cancel_while_the_lists_are_read_releases_everything_that_did_not_go(
    api, send, policy, pump, sandbox, monkeypatch
):
    policy(quiet_off(chunk_size=2))
    in_area = [make_resident(["health"], "tateishi", "ja") for _ in range(3)]
    no_area = [make_resident(["health"], None, "ja") for _ in range(3)]
    announcement_id = send(announcement(topic="health", target={"areas": ["tateishi"]}))
    fanout.plan(announcement_id)
    first, second = store.get(announcement_id).partitions  # the area's list, then the all-areas list
    assert fanout.collect(announcement_id, first) == "collected"

    # The second list's collector has stored its full chunks when staff cancel; it commits after.
    commit = store.commit_collection

    def cancel_then_commit(*args, **kwargs):
        assert api("POST", f"{BASE}/{announcement_id}/cancel", {}).status_code == 200
        return commit(*args, **kwargs)

    monkeypatch.setattr(store, "commit_collection", cancel_then_commit)
    assert fanout.collect(announcement_id, second) == "collected"
    monkeypatch.setattr(store, "commit_collection", commit)
    drain(pump)  # the second list's chunks were queued: they find the send cancelled
    assert not all_settled(announcement_id)  # its rests came after the release

    later = datetime.now(UTC) + fanout.WATCHDOG + timedelta(seconds=1)
    assert fanout.run_due(later)["released"] >= 1
    report = shown(api, announcement_id)
    assert report["status"] == rules.CANCELLED and report["counts"]["sent"] == 0
    assert report["counts"]["cancelled"] == report["counts"]["planned"] >= 6
    assert all_settled(announcement_id)
    assert [delivered(sandbox)[r.user_id] for r in in_area + no_area] == [0] * 6


# --- crashes, redeliveries and LINE's faults -------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "areas"),
    [
        (1, ("higashi-yotsugi", "yotsugi")),
        (2, ("higashi-horikiri", "higashi-tateishi")),
        (3, ("minami-mizumoto", "higashi-kanamachi")),
    ],
)
def test_killed_workers_and_line_faults_never_send_twice_and_never_skip(
    api, send, policy, pump, sandbox, monkeypatch, fast_line, seed, areas
):
    import app

    policy(quiet_off(chunk_size=2))  # per list and language: one full chunk and a rest to merge
    residents = [
        make_resident(["foreign-residents"], area, language)
        for area in (*areas, None)
        for language in ("ja", "en", "vi", "zh-Hans")
        for _ in range(3)
    ]
    bystanders = [
        make_resident(["foreign-residents"], "okudo", "en"),
        make_resident(["waste"], "yotsugi", "en"),
    ]

    # Kill the worker before or after each step that changes something, at random, each SQS
    # message at most twice (it has five deliveries before the dead-letter queue).
    crasher = Crasher(seed=seed, probability=0.2)
    points = [
        ("start_send", True),
        ("take_daily_slots", True),
        ("put_chunk", True),
        ("commit_collection", False),
        ("commit_collection", True),
        ("put_merged_chunk", True),
        ("mark_assembled", False),
        ("start_chunk", True),
        ("finish_chunk", False),
        ("finish_chunk", True),
        ("finish_send", False),
    ]
    for name, after in points:
        monkeypatch.setattr(store, name, crasher.wrap(name, getattr(store, name), after=after))
    # After LINE took the request: the answer never reaches us, the chunk is still "sending".
    monkeypatch.setattr(LineClient, "multicast", crasher.wrap("multicast", LineClient.multicast, after=True))
    survive_crashes(monkeypatch, app)
    # LINE: a refused call, a call taken whose answer is lost, a rate limit, at random chunks.
    import random

    rng = random.Random(seed)
    sandbox.fault(MULTICAST, status=500, skip=rng.randrange(8))
    sandbox.fault(MULTICAST, status=500, phase="after", skip=rng.randrange(8))
    sandbox.fault(MULTICAST, status=429, skip=rng.randrange(8), headers={"Retry-After": "0"})

    announcement_id = send(announcement(topic="foreign-residents", target={"areas": list(areas)}))
    drain(pump, timeout=180)

    assert crasher.log, "no crash was injected: raise the probability"
    counts = no_one_twice(sandbox)
    missing = [r.user_id for r in residents if counts[r.user_id] != 1]
    assert missing == [], crasher.log
    assert all(counts[r.user_id] == 0 for r in bystanders)
    report = shown(api, announcement_id)
    assert report["status"] == rules.SENT, (report, crasher.log)
    assert report["counts"]["sent"] == report["counts"]["planned"] == sum(counts.values())
    assert report["counts"]["failed"] == 0
    assert report["progress"]["chunksDone"] == report["progress"]["chunks"]
    chunks = list(store.items(announcement_id, "chunk#"))
    assert sorted(user for chunk in chunks for user in chunk.user_ids) == sorted(counts)  # each in one chunk
    assert all(chunk.status == store.SENT for chunk in chunks)
    assert any(chunk.item_key.startswith("chunk#~#") for chunk in chunks)  # rests were merged too
    # What failed along the way was retried with the same key: LINE answered 409, never delivered twice.
    statuses = Counter(entry["status"] for entry in sandbox.requests(MULTICAST))
    assert statuses[500] == 2 and statuses[429] >= 1
    for queue in ("announce-plan", "announce-collect", "announce-send"):
        from chalicelib.adapters import queues

        assert queues.depth(f"{queue}-dlq") == 0


def test_a_chunk_line_refuses_is_recorded_failed_and_the_rest_still_goes(api, send, policy, pump, sandbox):
    policy(quiet_off(chunk_size=2))
    residents = [make_resident(["health"], "nishi-kameari", "en") for _ in range(6)]
    sandbox.fault(MULTICAST, status=400, skip=1, body={"message": "The request body has 1 error(s)"})
    announcement_id = send(announcement(topic="health", target={"areas": ["nishi-kameari"]}))
    drain(pump)
    report = shown(api, announcement_id)
    assert report["status"] == rules.SENT
    assert report["counts"]["failed"] == 2
    assert report["counts"]["sent"] + report["counts"]["failed"] == report["counts"]["planned"]
    counts = delivered(sandbox)
    assert sorted(counts[r.user_id] for r in residents) == [0, 0, 1, 1, 1, 1]
    failed = [c for c in store.items(announcement_id, "chunk#") if c.status == store.FAILED]
    assert [c.error for c in failed] == ["rejected 400"]


def test_line_down_on_the_last_delivery_records_the_chunk_failed_so_the_send_can_finish(
    api, send, policy, pump, sandbox, fast_line
):
    policy(quiet_off(chunk_size=5))
    make_resident(["health"], "nishi-mizumoto", "ja")
    announcement_id = send(announcement(topic="health", target={"areas": ["nishi-mizumoto"]}))
    collect_now(announcement_id)
    keys = [c.item_key for c in store.items(announcement_id, "chunk#")]
    sandbox.fault(MULTICAST, status=503, count=1000)
    from chalicelib.adapters.line_api import LineUnavailable

    with pytest.raises(LineUnavailable):
        fanout.send(announcement_id, keys[0])  # not the last delivery: SQS will try again
    for key in keys:
        assert fanout.send(announcement_id, key, last_attempt=True) == store.FAILED
    report = shown(api, announcement_id)
    assert report["status"] == rules.FAILED
    assert report["counts"]["failed"] == report["counts"]["planned"] >= 1
    drain(pump)  # the queued messages find everything final
    assert delivered(sandbox) == Counter()


# --- the shared rate limit ---------------------------------------------------------------------------


def test_the_token_bucket_keeps_concurrent_workers_under_the_rate(local_stack):
    bucket = throttle.Bucket(f"test-{time.time_ns()}", rate=20.0, burst=5.0)
    taken: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            throttle.acquire(bucket)
            with lock:
                taken.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 40
    # 5 at once (the burst), then 20 a second: 35 more take at least 1.75 s.
    assert time.monotonic() - started >= (40 - 5) / 20 - 0.05
    taken.sort()
    for i, moment in enumerate(taken):
        in_window = sum(1 for other in taken[i:] if other - moment < 1.0)
        assert in_window <= 20 + 5


def test_a_send_keeps_under_the_configured_request_rate(api, send, policy, pump, sandbox):
    policy(quiet_off(chunk_size=1, multicast_rps=10.0))
    for _ in range(18):
        make_resident(["events-culture"], "kamichiba", "ja")
    send(announcement(topic="events-culture", target={"areas": ["kamichiba"]}))
    drain(pump)
    moments = sorted(entry["at"] for entry in sandbox.requests(MULTICAST))
    assert len(moments) >= 18
    assert moments[-1] - moments[0] >= (len(moments) - 10) / 10 - 0.1
    for i, moment in enumerate(moments):
        assert sum(1 for other in moments[i:] if other - moment < 1.0) <= 10 + 10


def test_a_chunk_never_holds_more_than_lines_limit(local_stack):
    assert rules.Policy().chunk_size == 500 == rules.MAX_MULTICAST
    with pytest.raises(ValueError):
        rules.Policy(chunk_size=501)
    with pytest.raises(ValueError):
        line_client().multicast(["U" + "0" * 32] * 501, [{"type": "text", "text": "x"}], "k")


def test_an_unknown_chunk_or_announcement_is_logged_and_dropped(local_stack):
    assert fanout.send("01M8BNFZPAK84KR21T8GHFEPM9", "chunk#x#ja#00000") == "missing"
    assert fanout.plan("01M8BNFZPAK84KR21T8GHFEPM9") == "missing"
    assert fanout.collect("01M8BNFZPAK84KR21T8GHFEPM9", "waste#aoto") == "missing"
    assert FanoutItem.count("01M8BNFZPAK84KR21T8GHFEPM9") == 0
