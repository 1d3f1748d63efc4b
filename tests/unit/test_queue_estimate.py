"""The wait estimate: a line's pace from its busy gaps, the staffing by hour, the published bucket."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import queue as rules
from chalicelib.domain import queue_estimate as estimator

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo, a Tuesday


def called(minutes_ago: float) -> str:
    """The ISO time `minutes_ago` before T0 (a counter's call, a service's end)."""
    return rules.iso(T0 - timedelta(minutes=minutes_ago))


def stamp(minutes: float) -> int:
    return round((T0 + timedelta(minutes=minutes)).timestamp())


def calls_every(minutes: float, count: int, start: float = -60, queued: float | None = None) -> list[list]:
    """`count` first calls `minutes` apart from `start`, each of a ticket waiting since `queued`
    (default: since long before, so every gap had someone waiting)."""
    joined = start - 30 if queued is None else queued
    return [[stamp(start + i * minutes), f"{i:03d}", stamp(joined)] for i in range(count)]


# --- busy gaps and the pace ----------------------------------------------------------------------


def test_only_gaps_with_someone_already_waiting_measure_the_pace():
    calls = [
        [stamp(-30), "001", stamp(-40)],
        [stamp(-26), "002", stamp(-35)],  # waiting at the call before: counted (4 min)
        [stamp(-10), "003", stamp(-15)],  # came after it: the counters may have been idle
        [stamp(-7), "004", None],  # issue unknown: not counted
        [stamp(-5), "005", stamp(-9)],  # counted (2 min)
    ]
    gaps = estimator.busy_gaps(calls, T0, 60, waiting=0)
    assert [(round(g.minutes, 2), g.calls) for g in gaps] == [(4.0, 1), (2.0, 1)]
    # Older than the window: left out.
    assert estimator.busy_gaps(calls, T0, 20, waiting=0) == [gaps[1]]


def test_people_waiting_while_no_one_is_called_slow_the_pace():
    calls = calls_every(2, 10, start=-30)  # last call 12 minutes ago
    quiet = estimator.busy_gaps(calls, T0, 60, waiting=0)
    stalled = estimator.busy_gaps(calls, T0, 60, waiting=4)
    assert stalled[:-1] == quiet
    assert (round(stalled[-1].minutes, 2), stalled[-1].calls) == (12.0, 0)
    fast, _, _ = estimator.pace(quiet, (0.5, "default"), {}, T0, 5)
    slow, _, _ = estimator.pace(stalled, (0.5, "default"), {}, T0, 5)
    assert slow < fast


def test_the_pace_comes_from_recent_calls_when_there_are_enough_else_from_the_prior():
    gaps = estimator.busy_gaps(calls_every(1.5, 41), T0, 60, waiting=0)  # one call every 1.5 min
    per_minute, evidence, basis = estimator.pace(gaps, (0.25, "history"), {}, T0, 5)
    assert basis == "recent" and evidence == 40 + estimator.PRIOR_CALLS
    # The prior counts as PRIOR_CALLS calls at its pace: between the two, nearer the measured one.
    assert per_minute == pytest.approx((40 + estimator.PRIOR_CALLS) / (60 + estimator.PRIOR_CALLS / 0.25))
    assert 0.25 < per_minute < 1 / 1.5 and per_minute - 0.25 > 1 / 1.5 - per_minute
    few = estimator.busy_gaps(calls_every(1.5, 3), T0, 60, waiting=0)
    assert estimator.pace(few, (0.25, "history"), {}, T0, 5)[2] == "history"
    assert estimator.pace([], (0.25, "default"), {}, T0, 5)[:3:2] == (pytest.approx(0.25), "default")


def test_gaps_are_rescaled_by_the_counters_usually_open_in_their_hour():
    # Calls every 1.5 min before noon with four counters; now it is 12:20, when two are open.
    noon = datetime(2026, 12, 1, 3, 20, tzinfo=UTC)
    calls = [[round((noon - timedelta(minutes=80 - 1.5 * i)).timestamp()), f"{i:03d}", 0] for i in range(40)]
    gaps = estimator.busy_gaps(calls, noon, 120, waiting=0)
    assert all(g.start.astimezone(rules.TOKYO).hour == 11 for g in gaps)
    staffing = {11: 4.0, 12: 2.0}
    minutes = sum(g.minutes for g in gaps)
    lunch, _, _ = estimator.pace(gaps, (0.5, "default"), staffing, noon, 5)
    unaware, _, _ = estimator.pace(gaps, (0.5, "default"), {}, noon, 5)
    # Each minute with four counters counts as two with the two of the lunch hour.
    prior = estimator.PRIOR_CALLS / 0.5
    assert lunch == pytest.approx((len(gaps) + estimator.PRIOR_CALLS) / (2 * minutes + prior))
    assert unaware == pytest.approx((len(gaps) + estimator.PRIOR_CALLS) / (minutes + prior))


def test_the_time_for_calls_follows_the_staffing_of_the_coming_hours():
    at_1130 = T0 + timedelta(minutes=90)
    assert estimator.minutes_for(30, 1.0, {}, at_1130) == pytest.approx(30)
    # 30 calls at 1 a minute until noon, then at half that pace over lunch.
    assert estimator.minutes_for(40, 1.0, {11: 4, 12: 2}, at_1130) == pytest.approx(30 + 10 / 0.5)
    # History silent about an hour: the pace stays.
    assert estimator.minutes_for(40, 1.0, {11: 4}, at_1130) == pytest.approx(40)


def test_history_pace_staffing_by_hour_and_this_hours_pace():
    profile = {
        "1": {"10": {"counters": 4, "busyCalls": 30, "busyMinutes": 45.0}, "12": {"counters": 2}},
        "2": {"10": {"counters": 3, "busyCalls": 30, "busyMinutes": 45.0}, "12": {"counters": 3}},
    }
    staffing, per_minute = estimator.history_pace(profile, 1, 10, 5)
    assert staffing == {10: 4.0, 12: 2.0}  # this weekday's own
    assert per_minute == pytest.approx(60 / 90)  # every weekday's busy gaps of this hour
    staffing, per_minute = estimator.history_pace(profile, 4, 12, 5)
    assert staffing == {10: 3.5, 12: 2.5} and per_minute is None
    assert estimator.history_pace(None, 1, 10, 5) == ({}, None)


# --- the estimate and its bucket -----------------------------------------------------------------


def test_nobody_ahead_and_a_counter_free_is_no_wait_where_history_knows_the_staffing():
    staffing = {10: 3.0, 12: 2.0}  # T0 is 10:00 in Tokyo
    estimate = estimator.estimate(0, T0, [], (0.5, "default"), staffing, free=1)
    assert estimate.bucket == estimator.NO_WAIT == (0, 0) and estimate.median == 0
    # No history of this hour: a counter that looks free may be on a break; "under 1 min".
    assert estimator.estimate(0, T0, [], (0.5, "default"), {12: 2.0}, free=1).bucket == (0, 1)
    # Someone ahead, or no counter free: a wait.
    assert estimator.estimate(1, T0, [], (0.5, "default"), staffing, free=1).bucket[1] not in (0, 1)
    assert estimator.estimate(0, T0, [], (0.5, "default"), staffing, free=0).bucket != (0, 0)


def test_a_counter_is_free_if_it_called_lately_serves_no_one_and_is_usually_open_now():
    from chalicelib.domain.queue import Live

    live = Live(
        counters={"1": called(5), "2": called(20), "3": called(90)}, calling={"007": {"counter": "1"}}
    )
    # Counters 1 and 2 called in the last hour (3 did not), and 1 is serving someone.
    assert estimator.free_counters(live, T0, 60, 4, {}) == 1
    assert estimator.free_counters(live, T0, 120, 4, {}) == 2
    # History says one counter is usually open at this hour (a break): none is known free.
    assert estimator.free_counters(live, T0, 120, 4, {10: 1.0}) == 0
    assert estimator.free_counters(live, T0, 120, 4, {10: 1.5}) == 1  # a median between days: up
    # Before the line's first call of the day: the configured counters.
    assert estimator.free_counters(Live(), T0, 60, 2, {}) == 2
    assert estimator.free_counters(Live(), T0, 60, 2, {10: 1.0}) == 1
    # Unless someone is already waiting: no counter is calling yet, so none is free. Two
    # configured counters said "under a minute" to one person waiting where one said 3-15.
    waiting = Live(queue={"001": stamp(-10)})
    assert estimator.free_counters(waiting, T0, 60, 2, {}) == 0
    for counters in (1, 2, 4):
        shown = estimator.estimate(1, T0, [], (counters / 6, "default"), {}, 0, counters=counters)
        assert shown.bucket[1] > 1  # never "under a minute" with someone waiting and no call
    # Nor after a pause: someone waiting, and no counter has called in the window (a long break).
    paused = Live(queue={"001": stamp(-10)}, counters={"1": called(90)})
    assert estimator.free_counters(paused, T0, 60, 2, {}) == 0
    # Nor when someone has waited over UNCALLED_MINUTES with no call since they joined, however
    # recently the counters called before (both served their last 22 minutes ago).
    idle = Live(queue={"003": stamp(-15)}, counters={"1": called(26), "2": called(26)})
    assert estimator.uncalled_minutes(idle, T0) == 15
    assert estimator.free_counters(idle, T0, 30, 2, {}) == 0
    just_joined = Live(queue={"003": stamp(-1)}, counters={"1": called(26), "2": called(26)})
    assert estimator.free_counters(just_joined, T0, 30, 2, {}) == 2  # called at once, presumably
    called_since = Live(queue={"003": stamp(-15)}, counters={"1": called(3), "2": called(26)})
    assert estimator.uncalled_minutes(called_since, T0) == 0


def test_a_call_longer_than_any_service_is_taken_as_served_its_end_lost():
    from chalicelib.domain.queue import Live

    services = [[called(60 - i), 60 * (4 + i % 5)] for i in range(6)]  # 4-8 minutes each
    live = Live(
        counters={"1": called(3), "2": called(25)},
        calling={"011": {"counter": "1", "at": called(3)}, "009": {"counter": "2", "at": called(25)}},
        services=services,
    )
    longest = estimator.longest_service(live, configured_minutes=6, enough=5)
    assert longest == pytest.approx(8 * estimator.LONGEST_SERVICE_FACTOR_OF_KEPT)
    # Counter 2 called 25 minutes ago, longer than any service lasts: its "served" was lost.
    assert estimator.free_counters(live, T0, 60, 2, {}, serving_minutes=longest) == 1
    assert estimator.free_counters(live, T0, 60, 2, {}) == 0  # trusting every call to still be on
    # Too few services kept to know: a multiple of the configured time (6 min -> 18).
    few = Live(counters=live.counters, calling=live.calling, services=services[:2])
    assert estimator.longest_service(few, configured_minutes=6, enough=5) == pytest.approx(18)
    assert estimator.free_counters(few, T0, 60, 2, {}, serving_minutes=18) == 1
    assert estimator.free_counters(few, T0, 60, 2, {}, serving_minutes=30) == 0


def _waits_at_four_busy_counters(ahead: int, samples: int, seed: int) -> list[float]:
    """Minutes to the (ahead + 1)-th call from a random moment on a line whose four counters each
    serve back to back, services log-normal around 6 minutes (a pace of 4 / 6 calls a minute)."""
    import random

    rng = random.Random(seed)
    sigma = 0.55
    mu = math.log(6) - sigma**2 / 2
    waits = []
    for _ in range(samples):
        calls = []
        for _counter in range(4):
            at = -rng.uniform(60, 120)  # serving since long before: a random phase now
            while at < 60:
                at += rng.lognormvariate(mu, sigma)
                if at > 0:
                    calls.append(at)
        waits.append(sorted(calls)[ahead])
    return waits


@pytest.mark.parametrize("ahead", [1, 2, 3])
def test_with_several_counters_the_next_calls_come_at_random_and_the_range_says_so(ahead):
    """Four counters' calls interleave: the next few come as if at random, not as regularly as
    one counter's services end; a range spread as for one counter misses too many of them."""
    gaps = estimator.busy_gaps(calls_every(1.5, 41), T0, 60, waiting=0)
    waits = _waits_at_four_busy_counters(ahead, 2000, seed=ahead)
    spread = math.exp(0.55**2) - 1  # the services' own variation

    def held(counters: int) -> float:
        estimate = estimator.estimate(
            ahead, T0, gaps, (4 / 6, "default"), service_cv2=spread, counters=counters
        )
        low, high = estimate.bucket
        return sum(low <= wait <= high for wait in waits) / len(waits)

    assert held(counters=4) >= 0.8
    if ahead < 3:
        assert held(counters=1) < 0.8  # what the range held before it knew the counters


def test_the_estimate_grows_with_the_people_ahead_and_holds_the_expected_wait():
    gaps = estimator.busy_gaps(calls_every(1.5, 41), T0, 60, waiting=0)
    per_minute, _, _ = estimator.pace(gaps, (0.5, "default"), {}, T0, 5)
    previous = -1.0
    for ahead in (0, 2, 5, 10, 20, 40):
        estimate = estimator.estimate(ahead, T0, gaps, (0.5, "default"), service_cv2=0.3)
        low, high = estimate.bucket
        expected = (ahead + estimator.FIRST_CALL) / per_minute
        assert low <= expected and (high is None or expected <= high)
        assert estimate.median > previous and estimate.basis == "recent"
        previous = estimate.median


def test_the_basis_says_what_the_pace_rests_on():
    assert estimator.estimate(5, T0, [], (0.4, "history")).basis == "history"
    assert estimator.estimate(5, T0, [], (0.4, "default")).basis == "default"


def test_a_better_known_pace_gives_a_range_no_wider():
    prior = (0.5, "default")
    vague = estimator.estimate(20, T0, [], prior, service_cv2=0.3).bucket
    gaps = estimator.busy_gaps(calls_every(2, 60, start=-120), T0, 240, waiting=0)  # the same pace, known
    known = estimator.estimate(20, T0, gaps, prior, service_cv2=0.3).bucket
    assert known[1] is not None and vague[1] is not None
    assert known[1] - known[0] <= vague[1] - vague[0]


@pytest.mark.parametrize(
    ("mean", "cv2"), [(0.8, 1.0), (4, 0.5), (12, 0.1), (35, 0.04), (70, 0.03), (400, 0.02)]
)
def test_the_bucket_holds_the_wait_with_the_probability_asked(mean, cv2):
    low, high = estimator.choose_bucket(mean, cv2, 0.8)
    assert low in estimator.BUCKET_EDGES and (high is None or high in estimator.BUCKET_EDGES)
    held = (1.0 if high is None else estimator.gamma_cdf(1 / cv2, high / (mean * cv2))) - estimator.gamma_cdf(
        1 / cv2, low / (mean * cv2)
    )
    assert held >= 0.8
    assert low <= mean and (high is None or mean <= high)


def test_a_very_long_wait_is_shown_as_open_ended():
    assert estimator.choose_bucket(400, 0.02, 0.8) == (estimator.BUCKET_EDGES[-1], None)


def test_the_bucket_is_tight_not_merely_wide_enough():
    # A wait of about 12 minutes, known well: 10-15, not 0-180.
    assert estimator.choose_bucket(12.5, 0.005, 0.8) == (10, 15)


def expected_distance(mean: float, cv2: float, a: float) -> float:
    """E|W - a| for a gamma wait, by numerical integration: the integral of F below a and of
    1 - F above it (independent of the closed form the code uses)."""
    shape, scale = 1 / cv2, mean * cv2
    step = a / 400
    below = sum(estimator.gamma_cdf(shape, (k + 0.5) * step / scale) for k in range(400)) * step
    step = (mean * 12 - a) / 2000  # far enough: beyond 12 means nothing is left for these shapes
    above = sum(1 - estimator.gamma_cdf(shape, (a + (k + 0.5) * step) / scale) for k in range(2000)) * step
    return below + above


@pytest.mark.parametrize(
    ("mean", "cv2"), [(0.8, 1.0), (4, 0.5), (12, 0.1), (35, 0.04), (8, 0.3), (40, 0.045)]
)
def test_the_bucket_has_the_closest_middle_of_the_ranges_that_hold_enough(mean, cv2):
    def below(minutes: float) -> float:
        return estimator.gamma_cdf(1 / cv2, minutes / (mean * cv2))

    edges = estimator.BUCKET_EDGES
    after = dict(zip(edges, edges[1:], strict=False))
    before = dict(zip(edges[1:], edges, strict=False))
    ranges = [
        (lo, hi)
        for lo in edges
        for hi in edges
        if lo < hi
        and below(hi) - below(lo) >= 0.8
        # Neither end further into a tail than the edge next to it.
        and below(after[lo]) > estimator.TAIL
        and below(before[hi]) < 1 - estimator.TAIL
    ]
    distance = {r: expected_distance(mean, cv2, estimator.bucket_middle(*r)) for r in ranges}
    chosen = estimator.choose_bucket(mean, cv2, 0.8)
    assert chosen in distance
    assert distance[chosen] <= min(distance.values()) + 1e-3
    # Of the ranges with that middle, the narrowest.
    same = [r for r in ranges if estimator.bucket_middle(*r) == estimator.bucket_middle(*chosen)]
    assert chosen[1] - chosen[0] == min(hi - lo for lo, hi in same)


def test_a_skewed_wait_starts_its_range_lower_than_the_tightest_one():
    # About 4 minutes, as variable as a few services: under 6 (middle 3, near the median of
    # 3.4), not the tightest 1-8 (middle 4.5, above it).
    assert estimator.choose_bucket(4, 0.5, 0.8) == (0, 6)


def test_a_better_middle_is_not_bought_with_a_far_wider_range():
    # About 40 minutes: 4-75 has its middle on the median too, but 4 minutes is not a wait
    # anyone with 20 people ahead will have.
    low, high = estimator.choose_bucket(40, 0.045, 0.8)
    assert high is not None and low >= 20 and high <= 60


def test_gamma_cdf():
    assert estimator.gamma_cdf(1, 1) == pytest.approx(1 - math.exp(-1))
    assert estimator.gamma_cdf(2, 3) == pytest.approx(1 - 4 * math.exp(-3))
    assert estimator.gamma_cdf(0.5, 0.3) == pytest.approx(math.erf(math.sqrt(0.3)))
    assert estimator.gamma_cdf(50, 50) == pytest.approx(0.5188, abs=1e-4)
    assert estimator.gamma_cdf(3, 0) == 0.0


def test_no_wait_is_its_own_bucket():
    assert estimator.bucket(0, 0) == (0, 0) and estimator.bucket_middle(0, 0) == 0
    assert estimator.bucket(0, 0.5) == (0, 1)


def test_bucket_middle():
    assert estimator.bucket_middle(10, 15) == 12.5
    assert estimator.bucket_middle(180, None) == 225
