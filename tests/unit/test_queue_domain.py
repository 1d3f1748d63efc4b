"""Window queues: the ticket state machine, live state, estimates, links, open data, webhook checks."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from chalicelib.domain import queue as rules
from chalicelib.domain import queue_estimate as estimator
from chalicelib.domain import queue_opendata as opendata
from chalicelib.domain import queue_webhooks as hooks
from chalicelib.domain.errors import Invalid
from chalicelib.domain.queue import Live, QueueEvent
from chalicelib.domain.ward import DATA_DIR

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo, a Tuesday


def ev(
    kind: str, minutes: float, number: str = "12", line: str = "jumin", counter: str | None = None, eid=None
):
    return QueueEvent(
        "honcho",
        eid or f"{number}-{kind}-{minutes}",
        "honcho",
        line,
        number,
        kind,
        T0 + timedelta(minutes=minutes),
        counter or ("3" if kind in ("called", "recalled") else None),
    )


def fold_all(events: list[QueueEvent], number: str = "12") -> rules.Ticket | None:
    stored: list = []
    for event in events:
        stored = rules.add(stored, event) or stored
    return rules.fold(number, stored)


LIFE = [ev("issued", 0), ev("called", 10), ev("recalled", 12), ev("recalled", 13), ev("served", 20)]


def test_a_ticket_life_in_order():
    ticket = fold_all(LIFE)
    assert ticket.status == "served"
    assert ticket.counter == "3"
    assert ticket.calls == 2  # the recalls, not the first call
    assert rules.wait_minutes(ticket) == 10


@pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::7])
def test_any_order_and_duplicates_give_the_same_ticket(order):
    events = [LIFE[i] for i in order] + [LIFE[order[0]], LIFE[order[-1]]]
    assert fold_all(events) == fold_all(LIFE)


def test_a_duplicate_is_refused_by_add():
    stored = rules.add([], LIFE[0])
    assert rules.add(stored, LIFE[0]) is None


def test_a_recall_changes_only_the_call_count():
    called = fold_all(LIFE[:2])
    recalled = fold_all(LIFE[:3])
    assert (called.status, called.counter, called.called_at) == (
        recalled.status,
        recalled.counter,
        recalled.called_at,
    )
    assert recalled.calls == called.calls + 1


def test_a_finished_ticket_never_moves_backwards():
    # A call stamped after the ticket was served (a vendor's late duplicate) changes nothing.
    ticket = fold_all([*LIFE, ev("called", 30, counter="9")])
    assert ticket.status == "served" and ticket.counter == "3"


def test_a_ticket_whose_issue_was_lost_still_exists_from_its_call():
    ticket = fold_all([ev("called", 10)])
    assert ticket.status == "called" and ticket.issued_at is None
    assert rules.wait_minutes(ticket) is None


def test_transfer_moves_the_ticket_to_the_other_line_waiting_again():
    ticket = fold_all([ev("issued", 0), ev("called", 5), ev("transferred", 8, line="kokuho")])
    assert (ticket.line, ticket.status, ticket.counter) == ("kokuho", "waiting", None)


def test_a_transfer_and_the_new_lines_call_in_the_same_second_leave_the_ticket_called_there():
    # A free counter on the new line calls a transferred ticket at once: same timestamp.
    events = [
        ev("issued", 0),
        ev("called", 5),
        ev("transferred", 8, line="kokuho"),
        ev("called", 8, line="kokuho"),
    ]
    ticket = fold_all(events)
    assert (ticket.line, ticket.status, ticket.called_at) == ("kokuho", "called", T0 + timedelta(minutes=8))
    assert replay(events, "kokuho").waiting == 0 and set(replay(events, "kokuho").calling) == {"12"}


def replay(events: list[QueueEvent], line: str = "jumin") -> Live:
    """Apply events one by one to tickets and a line, as the worker does."""
    tickets: dict[str, list] = {}
    lives = {"jumin": Live(), "kokuho": Live(), "koseki": Live()}
    for event in events:
        stored = tickets.get(event.number, [])
        added = rules.add(stored, event)
        if added is None:
            continue
        before = rules.fold(event.number, stored) if stored else None
        after = rules.fold(event.number, added)
        for name in {after.line} | ({before.line} if before else set()):
            lives[name] = rules.apply(lives[name], name, before, after, event.occurred_at, 30)
        tickets[event.number] = added
    return lives[line]


def day_events() -> list[QueueEvent]:
    events = []
    for n in range(1, 11):
        number = f"{n:03d}"
        events.append(ev("issued", n, number))
        if n <= 7:
            events.append(ev("called", 20 + n, number, counter=str(n % 3 + 1)))
        if n <= 5:
            events.append(ev("served", 30 + n * 2, number))
    events.append(ev("recalled", 40, "006", counter="1"))
    return events


def test_live_state_is_the_same_whatever_the_order_and_repeats():
    events = day_events()
    expected = replay(events)
    assert expected.waiting == 3
    assert set(expected.calling) == {"006", "007"}
    assert len(expected.services) == 5
    # Every first call, with when its ticket joined the queue: the line's pace comes from these.
    assert [entry[1] for entry in expected.calls] == [f"{n:03d}" for n in range(1, 8)]
    assert all(
        entry[2] == round((T0 + timedelta(minutes=n)).timestamp())
        for n, entry in enumerate(expected.calls, 1)
    )
    for seed in range(5):
        shuffled = events + random.Random(seed).sample(events, 6)
        random.Random(seed).shuffle(shuffled)
        assert replay(shuffled) == expected


def test_now_calling_keeps_one_ticket_per_counter_when_served_events_are_lost():
    # A vendor that never sends "served": each counter's latest call stands, whatever the order.
    events = [e for e in day_events() if e.type != "served"]
    expected = replay(events)
    assert {n: c["counter"] for n, c in rules.now_calling(expected).items()} == {
        "005": "3",
        "006": "1",
        "007": "2",
    }
    for seed in range(5):
        shuffled = events + random.Random(seed).sample(events, 4)
        random.Random(seed).shuffle(shuffled)
        assert replay(shuffled) == expected


def test_a_transfer_there_and_back_in_any_order_leaves_the_other_lines_call_standing():
    # Counter 1 of jumin calls A001; koseki's K004 goes to jumin and back, then koseki's counter 1
    # calls it. Delivered in any order, K004 must never take A001's place on jumin.
    events = [
        ev("issued", 0, "A001"),
        ev("called", 1, "A001", counter="1"),
        ev("issued", 2, "K004", line="koseki"),
        ev("transferred", 47, "K004", line="jumin"),
        ev("transferred", 48, "K004", line="koseki"),
        ev("called", 49, "K004", line="koseki", counter="1"),
        ev("recalled", 50, "K004", line="koseki", counter="1"),
    ]
    for seed in range(20):
        shuffled = random.Random(seed).sample(events, len(events))
        # After every delivery, not only the last: a call at koseki's counter 1 is koseki's.
        for delivered in range(1, len(events) + 1):
            live = replay(shuffled[:delivered])
            assert "K004" not in rules.now_calling(live), (seed, delivered)
        assert (set(rules.now_calling(live)), live.waiting) == ({"A001"}, 0), seed
        # Nor does koseki's call mark jumin's counter 1 as calling at 49 (an open counter there).
        assert live.counters == {"1": rules.iso(T0 + timedelta(minutes=1))}, seed


def test_a_call_at_another_lines_counter_moves_the_ticket_there_as_a_lost_transfer_would():
    # A001 waits on jumin; its transfer to kokuho was lost, then kokuho's counter 1 calls it while
    # jumin's counter 1 serves A002. Counters are named per line: A001 must not take A002's place.
    events = [
        ev("issued", 0, "A001"),
        ev("issued", 1, "A002"),
        ev("called", 2, "A002", counter="1"),
        ev("called", 5, "A001", line="kokuho", counter="1"),
    ]
    ticket = fold_all(events, "A001")
    assert (ticket.line, ticket.status, ticket.counter) == ("kokuho", "called", "1")
    assert ticket.issued_at == T0 and ticket.queued_at is None  # when it joined kokuho: unknown
    jumin, kokuho = replay(events), replay(events, "kokuho")
    assert (set(rules.now_calling(jumin)), jumin.waiting) == ({"A002"}, 0)
    assert set(rules.now_calling(kokuho)) == {"A001"}
    # Its call there has no known queueing time, so it tells nothing of kokuho's pace.
    assert kokuho.calls == [[round((T0 + timedelta(minutes=5)).timestamp()), "A001", None]]


def test_a_transfer_moves_the_count_between_lines():
    live = replay([ev("issued", 0), ev("transferred", 3, line="kokuho")])
    assert live.waiting == 0


def test_a_transferred_ticket_queues_again_from_its_transfer_and_its_first_call_stays():
    events = [
        ev("issued", 0),
        ev("called", 5),
        ev("transferred", 8, line="kokuho"),
        ev("called", 20, line="kokuho", counter="7"),
    ]
    ticket = fold_all(events)
    assert ticket.queued_at == T0 + timedelta(minutes=8) and ticket.issued_at == T0
    assert [entry[0] for entry in replay(events).calls] == [round((T0 + timedelta(minutes=5)).timestamp())]
    assert replay(events, "kokuho").calls == [
        [
            round((T0 + timedelta(minutes=20)).timestamp()),
            "12",
            round((T0 + timedelta(minutes=8)).timestamp()),
        ]
    ]


def test_a_late_issue_completes_the_call_it_preceded():
    live = replay([ev("called", 10), ev("issued", 2)])
    assert live.calls == [
        [
            round((T0 + timedelta(minutes=10)).timestamp()),
            "12",
            round((T0 + timedelta(minutes=2)).timestamp()),
        ]
    ]


def test_the_calls_kept_are_bounded():
    events = []
    for n in range(rules.RECENT_CALLS + 20):
        events += [ev("issued", n, f"{n:03d}"), ev("called", n + 1, f"{n:03d}")]
    live = replay(events)
    assert len(live.calls) == rules.RECENT_CALLS
    assert live.calls[-1][1] == f"{rules.RECENT_CALLS + 19:03d}"  # the latest are kept


def test_open_counters_are_those_that_called_recently():
    live = Live(counters={"1": rules.iso(T0), "2": rules.iso(T0 - timedelta(minutes=50))})
    assert rules.open_counters(live, T0 + timedelta(minutes=5), 30) == 1


@pytest.mark.parametrize(
    ("low", "high", "bucket"),
    [
        (0, 0.5, (0, 1)),
        (0, 3, (0, 3)),
        (11, 18, (10, 20)),
        (13, 24, (12, 25)),
        (2.5, 7, (2, 8)),
        (50, 70, (50, 75)),
        (95, 130, (90, 150)),
        (170, 200, (150, None)),
        (40, None, (40, None)),
    ],
)
def test_buckets_widen_the_range_to_their_edges(low, high, bucket):
    assert estimator.bucket(low, high) == bucket


def test_staleness_quiet_in_opening_hours_closed_outside():
    office = rules.config().office("honcho")
    live = Live(last_event_at=rules.iso(T0))
    assert rules.line_state(office, live, T0 + timedelta(minutes=5), 20, True) == "open"
    assert rules.line_state(office, live, T0 + timedelta(minutes=25), 20, True) == "quiet"
    assert rules.line_state(office, Live(), T0, 20, True) == "quiet"
    evening = datetime.combine(date(2026, 12, 1), time(18, 0), rules.TOKYO)
    assert rules.line_state(office, live, evening, 20, True) == "closed"
    assert rules.line_state(office, live, T0, 20, False) == "closed"


def test_ticket_links_are_signed_and_tamper_evident():
    ref = rules.sign_ticket("s3cret", "honcho", date(2026, 12, 1), "A012")
    assert rules.read_ticket("s3cret", ref) == rules.TicketRef("honcho", date(2026, 12, 1), "A012")
    office, day, number, mac = ref.split(".")
    for forged in (f"{office}.{day}.A013.{mac}", f"{office}.20261202.{number}.{mac}", ref[:-2], "x"):
        with pytest.raises(Invalid):
            rules.read_ticket("s3cret", forged)
    with pytest.raises(Invalid):
        rules.read_ticket("other", ref)


def test_people_ahead_and_the_notices_due():
    tickets = [fold_all([ev("issued", n, f"{n:03d}")], f"{n:03d}") for n in range(1, 8)]
    mine = tickets[5]
    assert rules.people_ahead(mine, tickets, T0 + timedelta(minutes=10)) == 5
    # Asked while 5 ahead with threshold 3: nothing yet; at 3: `near`; once sent, never again.
    assert rules.due_notices(mine, 5, 3, False, None, 5) == []
    assert rules.due_notices(mine, 3, 3, False, None, 5) == ["near"]
    assert rules.due_notices(mine, 2, 3, True, None, 5) == []
    # Joined already within the threshold: no near notice, only the call.
    assert rules.due_notices(mine, 2, 3, False, None, 2) == []
    called = fold_all([ev("issued", 6, "006"), ev("called", 30, "006")], "006")
    assert rules.due_notices(called, 0, 3, True, None, 5) == ["called"]
    assert rules.due_notices(called, 0, 3, True, rules.call_episode(called), 5) == []
    # A recall is the same call; a transfer to another line, then its call, is another one to tell.
    recalled = fold_all([ev("issued", 6, "006"), ev("called", 30, "006"), ev("recalled", 33, "006")], "006")
    assert rules.call_episode(recalled) == rules.call_episode(called)
    # Called again at another counter (a re-test: 5, then 8): told again, with the new counter.
    elsewhere = fold_all(
        [ev("issued", 6, "006"), ev("called", 30, "006"), ev("recalled", 33, "006", counter="8")], "006"
    )
    assert rules.due_notices(elsewhere, 0, 3, True, rules.call_episode(called), 5) == ["called"]
    moved = fold_all(
        [
            ev("issued", 6, "006"),
            ev("called", 30, "006"),
            ev("transferred", 34, "006", line="zeimu"),
            ev("called", 50, "006", counter="7"),
        ],
        "006",
    )
    assert rules.due_notices(moved, 0, 3, True, rules.call_episode(called), 5) == ["called"]


def test_a_ticket_whose_call_was_lost_is_presumed_gone_once_those_after_it_are_called():
    # 001-005 issued; the call of 002 was lost; 003 and 004 called at 10:20 and 10:22.
    events = [ev("issued", n, f"{n:03d}") for n in range(1, 6)]
    events += [ev("called", 15, "001", counter="1"), ev("called", 20, "003", counter="2")]
    events += [ev("called", 22, "004", counter="1")]
    live = replay(events)
    assert live.waiting == 2  # 002 (lost call) and 005, as the events tell it
    # Out-of-order events get a while to arrive: still 2 at 10:25, then 002 is presumed gone.
    assert rules.waiting_now(live, T0 + timedelta(minutes=25)) == 2
    assert rules.waiting_now(live, T0 + timedelta(minutes=31)) == 1
    tickets = [fold_all([e for e in events if e.number == f"{n:03d}"], f"{n:03d}") for n in range(1, 6)]
    five = tickets[4]
    assert rules.people_ahead(five, tickets, T0 + timedelta(minutes=25)) == 1
    assert rules.people_ahead(five, tickets, T0 + timedelta(minutes=31)) == 0
    # Nobody called after anyone waiting: nobody is presumed gone, however long they wait.
    quiet = replay([ev("issued", n, f"{n:03d}") for n in range(1, 4)] + [ev("called", 5, "001", counter="1")])
    assert rules.waiting_now(quiet, T0 + timedelta(hours=3)) == 2


def test_hourly_figures_and_profile():
    tickets = [
        fold_all([ev("issued", n, f"{n:03d}"), ev("called", n + 10, f"{n:03d}")], f"{n:03d}")
        for n in range(5)
    ]
    figures = rules.hourly_figures(tickets)
    assert figures["jumin"]["10"]["issued"] == 5 and figures["jumin"]["10"]["waits"] == 5
    assert figures["jumin"]["10"]["medianWait"] == 10.0
    profile = rules.profile([figures["jumin"], figures["jumin"]], k=5)
    assert profile["10"]["days"] == 2 and profile["10"]["medianWait"] == 10.0


def test_the_public_profile_holds_only_what_the_open_data_published():
    # Monday 1: ten tickets at 10 and three at 11 (so 10 goes too, or 13 - 10 gives 11 away);
    # Monday 2: ten at 10, ten at 11. A mean over both Mondays would give Monday 1's hours by
    # difference; built from the published cells only, it holds nothing the CSV hides.
    first = {"10": {**cells(10)["09"], "waits": 10}, "11": {**cells(3)["09"], "waits": 3, "counters": 2}}
    second = {hour: {**cells(10)["09"], "waits": 10, "medianWait": 7.0} for hour in ("10", "11")}
    profile = rules.profile([first, second], k=10)
    assert {hour: (cell["days"], cell["issued"], cell["medianWait"]) for hour, cell in profile.items()} == {
        "10": (1, 10, 7.0),
        "11": (1, 10, 7.0),
    }
    assert profile["11"]["counters"] == 2  # the pace, which stays inside, counts every day
    only_first = rules.profile([first], k=10)
    assert only_first["10"]["issued"] is None and only_first["10"]["medianWait"] is None
    # Ten tickets, one of them waited: no median of one resident's wait.
    one_wait = rules.profile([{"10": {**cells(10)["09"], "waits": 1, "medianWait": 17.0}}], k=10)
    assert one_wait["10"]["issued"] == 10 and one_wait["10"]["medianWait"] is None


def test_hourly_figures_keep_the_counters_and_the_busy_gaps_of_each_hour():
    # Four tickets issued at once, called 5 minutes apart by two counters: the three gaps after
    # the first call had someone waiting. A fifth comes after a quiet stretch: its gap does not count.
    tickets = [
        fold_all(
            [ev("issued", 0, f"{n:03d}"), ev("called", 5 * n, f"{n:03d}", counter=str(n % 2))], f"{n:03d}"
        )
        for n in range(4)
    ] + [fold_all([ev("issued", 40, "009"), ev("called", 40, "009", counter="1")], "009")]
    hour = rules.hourly_figures(tickets)["jumin"]["10"]
    assert (hour["counters"], hour["busyCalls"], hour["busyMinutes"]) == (2, 3, 15.0)
    profile = rules.profile([{"10": hour}, {"10": {**hour, "counters": 4}}], k=10)
    assert (profile["10"]["counters"], profile["10"]["busyCalls"], profile["10"]["busyMinutes"]) == (
        3,
        6,
        30.0,
    )


# --- open data ---------------------------------------------------------------------------------


def cells(*counts: int) -> dict:
    return {
        f"{9 + i:02d}": {"issued": n, "served": n, "waits": n, "medianWait": 5.0, "p90Wait": 9.0}
        for i, n in enumerate(counts)
    }


def test_primary_and_secondary_suppression():
    # One small hour alone could be rebuilt from the total: the next smallest goes too.
    assert opendata.suppressed_hours(cells(30, 4, 25, 12), 10) == {"10", "12"}
    # Two small hours that together count under k: another is hidden until the hidden sum reaches k.
    assert opendata.suppressed_hours(cells(30, 2, 3, 25), 10) == {"10", "11", "12"}
    assert opendata.suppressed_hours(cells(30, 25), 10) == set()
    # A day under k: everything, the total included.
    rows = opendata.rows("2026-12-01", "honcho", "jumin", cells(3, 4), 10)
    assert all(row[5:] == ["X"] * 4 for row in rows)


def test_wait_statistics_resting_on_fewer_than_k_waits_are_suppressed():
    hours = cells(30, 12)
    hours["10"].update(waits=1, medianWait=17.0, p90Wait=17.0)  # one called, the rest cancelled
    hours["09"].update(waits=0, medianWait=None, p90Wait=None)  # nobody called at all
    table = {row[4]: row[5:] for row in opendata.rows("2026-12-01", "honcho", "zeimu", hours, 10)}
    assert table["10"] == ["12", "12", "X", "X"]
    assert table["09"] == ["30", "30", "", ""]
    assert table["all"] == ["42", "42", "", ""]
    # Cells kept before waits were counted: their statistics are not shown.
    del hours["09"]["waits"]
    hours["09"].update(medianWait=5.0, p90Wait=9.0)
    assert opendata.published(hours, 10)["09"]["medianWait"] == "X"


def test_csv_shape():
    table = opendata.rows("2026-12-01", "honcho", "jumin", cells(30, 4, 25, 12), 10)
    text = opendata.to_csv(table).decode("utf-8")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == list(opendata.COLUMNS)
    assert {row[0] for row in parsed[1:]} == {"131229"}
    assert parsed[-1][4:6] == ["all", "71"]
    hidden = [row for row in parsed[1:] if row[5] == "X"]
    assert {row[4] for row in hidden} == {"10", "12"}
    assert "PDL1.0" in opendata.dictionary_csv(10).decode("utf-8")


# --- webhook checks ----------------------------------------------------------------------------

SECRETS = {"QUEUE_WEBHOOK_SECRET": "w", "QUEUE_QMINDER_SECRET": "q", "QUEUE_KIOSK_SECRET": "k"}
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def own_body(**changes) -> bytes:
    doc = {"id": "e1", "type": "called", "office": "honcho", "line": "jumin", "ticket": "12", "counter": "3",
           "at": "2026-12-01T10:00:00+09:00"}  # fmt: skip
    return json.dumps({**doc, **changes}).encode()


def check(source, body, headers, source_ip="127.0.0.1"):
    return hooks.check_request(source, body, headers, NOW, SECRETS.__getitem__, source_ip)


def test_own_format_signed_within_tolerance():
    body = own_body()
    stamp = int(NOW.timestamp())
    event = check("honcho", body, {"x-madoguchi-signature": hooks.sign_madoguchi("w", body, stamp)})
    assert (event.type, event.number, event.counter, event.occurred_at) == ("called", "12", "3", NOW)
    for headers in (
        {},
        {"x-madoguchi-signature": hooks.sign_madoguchi("wrong", body, stamp)},
        {"x-madoguchi-signature": hooks.sign_madoguchi("w", body, stamp - 301)},
        {"x-madoguchi-signature": hooks.sign_madoguchi("w", body + b" ", stamp)},
        {"x-madoguchi-signature": "t=" + "9" * 309 + ",v1=ab"},  # not a time: not a 500
        {"x-madoguchi-signature": "t=\u00b2,v1=ab"},  # "²".isdigit(), but no int
    ):
        with pytest.raises(hooks.InvalidWebhook) as caught:
            check("honcho", body, headers)
        assert caught.value.status == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{", 400),
        (own_body(type="exploded"), 422),
        (own_body(line="passport"), 422),
        (own_body(office="kameari"), 422),
        (own_body(at="2026-12-01T10:00:00"), 422),
        (own_body(counter=None), 422),
        (own_body(counter=" "), 422),
        (own_body(counter="X" * 17), 422),
        (own_body(ticket="-"), 422),
        (own_body(at="0001-01-01T00:00:00+09:00"), 422),  # no UTC time: not a 500
        (own_body(counter=None).replace(b"null", b"NaN"), 400),  # Python reads it; JSON has none
        (b" " * (hooks.MAX_BODY_BYTES + 1), 413),
    ],
)
def test_own_format_refuses_bad_bodies(body, status):
    stamp = int(NOW.timestamp())
    with pytest.raises(hooks.InvalidWebhook) as caught:
        check("honcho", body, {"x-madoguchi-signature": hooks.sign_madoguchi("w", body, stamp)})
    assert caught.value.status == status


def test_a_counter_named_in_full_width_is_the_same_counter():
    stamp = int(NOW.timestamp())
    body = own_body(counter="　１２番 ")
    event = check("honcho", body, {"x-madoguchi-signature": hooks.sign_madoguchi("w", body, stamp)})
    assert event.counter == "12番"


def own_id(**changes) -> str:
    body = own_body(**changes)
    headers = {"x-madoguchi-signature": hooks.sign_madoguchi("w", body, int(NOW.timestamp()))}
    return check("honcho", body, headers).event_id


def test_a_vendor_id_is_one_event_per_ticket_day_and_kind():
    first = own_id()
    assert first.startswith("e1~")
    # A redelivery is one event, even restamped or with the counter written another way.
    assert own_id(at="2026-12-01T10:00:07+09:00") == own_id(counter="３") == first
    # The id used again for another ticket, another day or the next step: another event, not
    # dropped as a duplicate (a vendor counting ids per day, a simulator run again tomorrow).
    assert (
        len({first, own_id(ticket="13"), own_id(at="2026-11-30T10:00:00+09:00"), own_id(type="served")}) == 4
    )


def test_qminder_style_signs_url_and_body_and_has_no_event_id():
    body = json.dumps(
        {
            "type": "ticket_called",
            "data": {"id": 991, "number": 7, "line": 80101, "desk": 2, "time": "2026-12-01T01:00:00Z"},
        }
    ).encode()
    source = rules.config().source("kanamachi-qminder")
    signature = hooks.sign_qminder("q", source.registered_url, body)
    event = check("kanamachi-qminder", body, {"x-qminder-signature": signature})
    assert (event.office, event.line, event.number, event.counter) == ("kanamachi", "jumin", "7", "2")
    assert event.event_id.startswith("h-")
    assert check("kanamachi-qminder", body, {"x-qminder-signature": signature}).event_id == event.event_id
    # Known by what it says: the same event serialised again is the same; a second call is not.
    for doc, same in (
        (json.dumps(json.loads(body), indent=2, sort_keys=True), True),
        (body.decode().replace("01:00:00Z", "01:04:00Z"), False),
    ):
        again = doc.encode()
        headers = {"x-qminder-signature": hooks.sign_qminder("q", source.registered_url, again)}
        assert (check("kanamachi-qminder", again, headers).event_id == event.event_id) is same
    with pytest.raises(hooks.InvalidWebhook):
        check(
            "kanamachi-qminder", body, {"x-qminder-signature": hooks.sign_qminder("q", "https://other", body)}
        )
    # A desk named at length would be shown to everyone and outgrow the line's item: refused.
    for desk in ("D" * 17, 10**17):
        long = json.dumps(
            {"type": "ticket_called", "data": {**json.loads(body)["data"], "desk": desk}}
        ).encode()
        with pytest.raises(hooks.InvalidWebhook) as caught:
            check(
                "kanamachi-qminder",
                long,
                {"x-qminder-signature": hooks.sign_qminder("q", source.registered_url, long)},
            )
        assert caught.value.status == 422


def test_an_event_dated_ahead_of_our_clock_is_refused_whatever_the_adapter():
    # A ticket machine whose clock is wrong must not move a line to a later day (freezing today's
    # figures there) nor keep it looking current: up to the clock tolerance (300 s) is a skew.
    stamp = int(NOW.timestamp())
    skewed = own_body(at="2026-12-01T10:05:00+09:00")
    assert check("honcho", skewed, {"x-madoguchi-signature": hooks.sign_madoguchi("w", skewed, stamp)})
    tomorrow = json.dumps(
        {"event": "ISSUE", "ticket": "A1", "service": "S1", "time": "2026-12-02T09:00:00+09:00"}
    ).encode()
    qminder = json.dumps(
        {
            "type": "ticket_created",
            "data": {"id": 1, "number": 7, "line": 80101, "time": "2026-12-01T01:05:01Z"},
        }
    ).encode()
    url = rules.config().source("kanamachi-qminder").registered_url
    for source, body, headers in (
        ("kameari-kiosk", tomorrow, {"x-queue-token": "k"}),
        ("kanamachi-qminder", qminder, {"x-qminder-signature": hooks.sign_qminder("q", url, qminder)}),
    ):
        with pytest.raises(hooks.InvalidWebhook) as caught:
            check(source, body, headers)
        assert (caught.value.status, caught.value.code) == (422, "time_in_future")


def test_an_event_from_a_clock_reset_to_its_epoch_is_refused_a_late_one_is_not():
    stamp = int(NOW.timestamp())
    for at in ("1970-01-01T00:00:05Z", "2000-01-01T09:00:00+09:00", "2019-12-31T23:59:59Z"):
        body = own_body(at=at)
        with pytest.raises(hooks.InvalidWebhook) as caught:
            check("honcho", body, {"x-madoguchi-signature": hooks.sign_madoguchi("w", body, stamp)})
        assert (caught.value.status, caught.value.code) == (422, "time_too_old"), at
    late = own_body(at="2026-11-24T10:00:00+09:00")  # a week late: its ticket still takes it
    assert check("honcho", late, {"x-madoguchi-signature": hooks.sign_madoguchi("w", late, stamp)})


def test_from_a_system_that_signs_no_time_an_event_older_than_the_inbox_remembers_is_refused():
    # Qminder signs the URL and body only: a captured request posted again after the inbox forgot
    # its id would count again. madoguchi's own format signs the time, so a backlog is taken.
    url = rules.config().source("kanamachi-qminder").registered_url
    for age, refused in ((hooks.MAX_EVENT_AGE + timedelta(minutes=1), True), (timedelta(days=1), False)):
        body = json.dumps(
            {
                "type": "ticket_created",
                "data": {"id": 2, "number": 8, "line": 80101, "time": (NOW - age).isoformat()},
            }
        ).encode()
        headers = {"x-qminder-signature": hooks.sign_qminder("q", url, body)}
        if refused:
            with pytest.raises(hooks.InvalidWebhook) as caught:
                check("kanamachi-qminder", body, headers)
            assert (caught.value.status, caught.value.code) == (422, "time_too_old")
        else:
            assert check("kanamachi-qminder", body, headers)


def test_unsigned_vendor_may_send_only_from_its_listed_addresses():
    body = json.dumps(
        {"event": "ISSUE", "ticket": "A1", "service": "S1", "time": "2026-12-01T10:00:00+09:00"}
    ).encode()
    assert check("kameari-kiosk", body, {"x-queue-token": "k"}, source_ip="::1").type == "issued"
    for address in ("203.0.113.9", "", None, "not-an-address"):
        with pytest.raises(hooks.InvalidWebhook) as caught:  # even with the right token
            check("kameari-kiosk", body, {"x-queue-token": "k"}, source_ip=address)
        assert (caught.value.status, caught.value.code) == (403, "address_not_allowed"), address
    # A source that signs and lists no addresses takes any.
    own = own_body()
    signature = hooks.sign_madoguchi("w", own, int(NOW.timestamp()))
    assert check("honcho", own, {"x-madoguchi-signature": signature}, source_ip="203.0.113.9")


def test_a_source_that_cannot_sign_must_list_its_addresses():
    raw = json.loads((DATA_DIR / "queue.json").read_text(encoding="utf-8"))
    for source in raw["sources"]:
        source.pop("allowedNetworks", None)
    with pytest.raises(ValueError, match="kameari-kiosk"):
        rules.parse_config(raw)


def test_unsigned_vendor_needs_its_token():
    body = json.dumps(
        {"event": "ISSUE", "ticket": "A1", "service": "S1", "time": "2026-12-01T10:00:00+09:00"}
    ).encode()
    assert check("kameari-kiosk", body, {"x-queue-token": "k"}).type == "issued"
    with pytest.raises(hooks.InvalidWebhook):
        check("kameari-kiosk", body, {"x-queue-token": "nope"})
    with pytest.raises(hooks.InvalidWebhook) as caught:
        check("nowhere", body, {})
    assert caught.value.status == 404


def test_a_call_at_a_counter_nobody_can_see_names_no_counter():
    """An outside run: a counter of "\\u200b" was shown as the counter being called."""
    stamp = int(NOW.timestamp())
    for counter in (
        "\u200b",
        " \u3000",
        "\u2060",
        "\u3164",
        "\u2800",
        "\u115f\u1160",
    ):  # fillers too (a review)
        body = own_body(counter=counter)
        with pytest.raises(hooks.InvalidWebhook) as caught:
            check("honcho", body, {"x-madoguchi-signature": hooks.sign_madoguchi("w", body, stamp)})
        assert caught.value.code == "counter_required", counter


@pytest.mark.parametrize(
    ("tokyo", "closed"),
    [
        ("2026-12-08T23:30", "2026-12-08"),  # the schedule: the day just ended
        ("2026-12-08T21:00", "2026-12-08"),  # closed at 17:00, the last tickets served since
        ("2026-12-08T17:05", "2026-12-07"),  # a review: residents still being served at 17:05
        ("2026-12-09T00:40", "2026-12-08"),  # a late retry
        ("2026-12-09T06:40", "2026-12-08"),  # an operator's run in the morning: never today
        ("2026-12-09T12:00", "2026-12-08"),  # nor the day in progress (a walkthrough)
    ],
)
def test_the_nightly_closes_the_last_day_whose_windows_have_all_closed(tokyo, closed):
    from chalicelib.services.queue_history import ended_day

    now = datetime.fromisoformat(tokyo).replace(tzinfo=rules.TOKYO)
    assert ended_day(now).isoformat() == closed
