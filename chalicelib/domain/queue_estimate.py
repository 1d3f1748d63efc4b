"""Window queues: the wait estimate. A line's pace from its busy gaps, the staffing by hour,
the range published to a resident. Pure: the live state comes from `domain.queue`.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.queue import TOKYO, Live, iso, now_calling, open_counters, waiting_joined, waiting_now

# The wait of a resident with k people ahead is the time until the (k + 1)-th call from now. The
# line's pace (calls per minute with every open counter busy) is measured from its latest first
# calls: a gap between two consecutive calls during which the next one called was already
# waiting is a stretch with every open counter busy (in one queue nobody waits while a counter is
# free), so such gaps fold open counters, service times, no-shows and recalls into one figure.
# Each is rescaled by the counters usually open in its hour (history) against now, and the pace
# to come follows that staffing hour by hour (the lunch break, the first half hour). This hour's
# history, else the configured service time and counters, is the prior. The wait is taken as
# gamma-distributed around the estimate, and the published bucket is the one that holds it with
# probability >= COVERAGE and whose middle is the closest to it on average (`choose_bucket`).

# The ranges a resident sees, in minutes (Sakai-style buckets: 約10〜15分, 30分以上; finer below
# a quarter of an hour, where two minutes are a lot of the wait). Above the last edge the range
# is open ("180分以上"). Nobody ahead and a counter free now: 0-0, "no wait" (すぐご案内), where
# history confirms that many counters are usually open this hour, else "1分未満".
BUCKET_EDGES = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 90, 120, 150, 180)
NO_WAIT = (0, 0)
# A counter that called in this many minutes and is serving no one counts as free (if history
# says that many are usually open this hour); quiet lines' counters can idle for a long while.
FREE_WINDOW_MINUTES = 60
# The pace is measured over this many minutes of the day's latest first calls.
PACE_WINDOW_MINUTES = 240
# How many calls' worth of weight the prior pace (history, else the configured one) carries.
PRIOR_CALLS = 10.0
# The first call comes this share of a typical gap after the issue, on average: a random moment
# falls part-way through a gap (about 0.7 for a counter or two with regular services, 1 for many
# counters calling at random); chosen with COVERAGE below on the earlier simulated days.
FIRST_CALL = 0.85
# The wait's spread: the first call is about as variable as an exponential stretch, and so is each
# call until every other busy counter has called once (c counters' calls interleave at random:
# over a few calls they come as if at random, over many as regularly as services end); each later
# one varies as a service does (the squared coefficient of variation of recent services, else
# SERVICE_CV2); the pace is known from `evidence` calls (its error shrinks likewise), and the pace
# drifts by DRIFT during a wait.
SERVICE_CV2 = 0.5
DRIFT = 0.1
# The published bucket holds the wait with at least this probability under that model. With
# FIRST_CALL, the pair of least MAE on the earlier simulated days (bench/queue_estimate.py --tune)
# that keeps >= 80 % of real waits inside the range in every band of people ahead there, not only
# overall (where the "no wait" tickets carry the rest); the model's spread and the edges add to it.
COVERAGE = 0.65
# A range reaches no further into either tail of that model (this share of waits) than the edge
# next to it.
TAIL = 0.05


@dataclass(frozen=True)
class Estimate:
    low: float  # minutes: the published range
    high: float | None  # None: "low or more"
    basis: str  # recent | history | default: what the pace rests on
    median: float = 0.0  # the model's middle figure, minutes

    @property
    def bucket(self) -> tuple[int, int | None]:
        return bucket(self.low, self.high)


def bucket(low: float, high: float | None) -> tuple[int, int | None]:
    """The published range: the bucket edges around [low, high]; None above the last edge;
    (0, 0) for no wait at all."""
    if high is not None and high <= 0:
        return NO_WAIT
    lo = max(edge for edge in BUCKET_EDGES if edge <= max(low, 0))
    if high is None:
        return lo, None
    above = [edge for edge in BUCKET_EDGES if edge >= high and edge > lo]
    return lo, (above[0] if above else None)


def counters_open(live: Live, now: datetime, window_minutes: int, configured: int) -> int:
    """Counters open now: those that called in the last `window_minutes`, the configured ones
    before the line's first call."""
    return open_counters(live, now, window_minutes) or configured


def free_counters(
    live: Live,
    now: datetime,
    window_minutes: int,
    configured: int,
    staffing: dict[int, float],
    serving_minutes: float = math.inf,
) -> int:
    """Counters free now: those that called in the last `window_minutes` (the configured ones
    before the line's first call), no more than history says are usually open this hour (a
    counter closes for lunch without a word: one that called at 11:50 may be shut at 12:05),
    less those serving someone: called less than `serving_minutes` ago (`longest_service`)."""
    if not open_counters(live, now, window_minutes) and waiting_now(live, now):
        return 0  # people waiting and no call for a while: the counters are not calling (yet)
    if uncalled_minutes(live, now) > UNCALLED_MINUTES:
        return 0  # someone has waited with no counter calling since: a free one would have
    counters = counters_open(live, now, window_minutes, configured)
    usual = staffing.get(now.astimezone(TOKYO).hour)
    if usual:  # a median between days (2.5: one day in two a counter short) caps at the larger
        counters = min(counters, math.ceil(usual))
    return max(0, counters - len(serving(live, now, serving_minutes)))


# In one queue nobody waits while a counter is free: someone who has waited this long with no
# call since they joined says the counters that called earlier are not calling now (a break, a
# counter closed without a word), however recently they called.
UNCALLED_MINUTES = 5


def uncalled_minutes(live: Live, now: datetime) -> float:
    """How long the longest-waiting person (of those residents are told of) has waited with no
    counter calling since they joined; 0 when someone was called since, or nobody waits."""
    joined = [at for at in waiting_joined(live, now) if at is not None]
    if not joined:
        return 0.0
    oldest = datetime.fromtimestamp(min(joined), UTC)
    if any(at >= iso(oldest) for at in live.counters.values()):
        return 0.0
    return (now - oldest).total_seconds() / 60


def serving(live: Live, now: datetime, serving_minutes: float = math.inf) -> dict[str, dict[str, Any]]:
    """The calls presumed still under way ("now calling"): each counter's latest (`now_calling`),
    called less than `serving_minutes` ago (`longest_service`); an older one's "served" was lost,
    and its number must not stand on the page all day."""
    since = iso(now - timedelta(minutes=serving_minutes)) if serving_minutes < math.inf else ""
    return {number: call for number, call in now_calling(live).items() if (call.get("at") or "") >= since}


# A call is presumed served (its "served" lost) once it has gone on half again as long as the
# longest of the line's kept services (1.5: no cost on the simulated days with no loss, where a
# service can outlast the longest of the last 30), or with too few kept, three times the
# configured service (a log-normal service rarely runs past three times its typical length).
LONGEST_SERVICE_FACTOR_OF_KEPT = 1.5
LONGEST_SERVICE_FACTOR_OF_CONFIGURED = 3.0


def longest_service(live: Live, configured_minutes: float, enough: int) -> float:
    """How long a call may go on before it is presumed served (minutes). Vendors lose events: a
    lost "served" must not leave its counter looking busy until it calls again, which on a quiet
    line hides the free counter from everyone who arrives meanwhile."""
    if len(live.services) >= enough:
        longest = max(float(seconds) for _, seconds in live.services) / 60
        return LONGEST_SERVICE_FACTOR_OF_KEPT * longest
    return LONGEST_SERVICE_FACTOR_OF_CONFIGURED * configured_minutes


def bucket_middle(low: int, high: int | None) -> float:
    """The single figure a bucket stands for (the open top one: a quarter above its edge)."""
    return (low + high) / 2 if high is not None else low * 1.25


def gamma_cdf(shape: float, x: float) -> float:
    """The regularised lower incomplete gamma function P(shape, x) (series, or continued fraction)."""
    if x <= 0:
        return 0.0
    log_front = shape * math.log(x) - x - math.lgamma(shape)
    if x < shape + 1:
        term = total = 1 / shape
        n = shape
        for _ in range(1000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-12:
                break
        return min(1.0, total * math.exp(log_front))
    tiny = 1e-300  # Lentz's method for the upper part
    b = x + 1 - shape
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - shape)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-12:
            break
    return max(0.0, 1 - math.exp(log_front) * h)


def choose_bucket(mean: float, cv2: float, coverage: float) -> tuple[int, int | None]:
    """For a gamma-distributed wait (`mean` minutes, squared coefficient of variation `cv2`): of
    the ranges between bucket edges that hold it with probability >= `coverage` and reach no
    further into either TAIL than the edge next to it, the one whose middle is the closest to the
    wait on average (least expected absolute difference), then the narrowest. A wait is skewed,
    so the tightest such range sits above its median; starting it an edge lower brings the middle
    closer, and the tails keep it from buying a better middle with a far wider range ("4〜75分"
    for 40). Open-ended ("180分以上") only where no bounded range from its edge holds enough."""
    shape, scale = 1 / cv2, max(mean, 1e-6) * cv2

    def expected_error(a: float) -> float:  # E|W - a| = a(2F(a) - 1) + E[W] - 2 E[W; W < a]
        below = gamma_cdf(shape, a / scale)
        return a * (2 * below - 1) + mean - 2 * mean * gamma_cdf(shape + 1, a / scale)

    held = [gamma_cdf(shape, edge / scale) for edge in BUCKET_EDGES]
    best: tuple[int, int | None] = (BUCKET_EDGES[-1], None)
    least = (math.inf, math.inf)
    for i, low in enumerate(BUCKET_EDGES):
        if i + 1 < len(BUCKET_EDGES) and held[i + 1] <= TAIL:
            continue  # the next edge up is still below nearly every wait
        tops: list[int | None] = [
            high
            for j, high in enumerate(BUCKET_EDGES)
            if j > i and held[j] - held[i] >= coverage and held[j - 1] < 1 - TAIL
        ]
        if not tops and 1 - held[i] >= coverage:
            tops = [None]
        for high in tops:
            key = (expected_error(bucket_middle(low, high)), math.inf if high is None else high - low)
            if key < least:
                best, least = (low, high), key
    return best


def variation(values: list[float]) -> float:
    """The squared coefficient of variation (variance / mean²) of some durations."""
    mean = statistics.fmean(values)
    return statistics.pvariance(values) / mean**2 if mean > 0 else 0.0


@dataclass(frozen=True)
class Gap:
    """A stretch of a line's day with every open counter busy, and the calls that ended it."""

    start: datetime
    minutes: float
    calls: int  # 1 between two calls; 0 for the stretch since the last call, still running


def busy_gaps(calls: list[list[Any]], now: datetime, window_minutes: int, waiting: int) -> list[Gap]:
    """The gaps between consecutive first calls (`Live.calls`) of the last `window_minutes`
    during which the next one called was already waiting; with people waiting now, also the
    stretch since the last call (a line that stopped calling slows down)."""
    since, until = (now - timedelta(minutes=window_minutes)).timestamp(), now.timestamp()
    found = []
    for before, after in zip(calls, calls[1:], strict=False):
        if since <= after[0] <= until and after[2] is not None and after[2] <= before[0]:
            found.append(Gap(datetime.fromtimestamp(before[0], UTC), (after[0] - before[0]) / 60, 1))
    if waiting > 0 and calls and calls[-1][0] <= until:
        last = max(calls[-1][0], since)
        found.append(Gap(datetime.fromtimestamp(last, UTC), (until - last) / 60, 0))
    return found


def _staffing(staffing: dict[int, float], hour: int, reference: int) -> float:
    """The counters usually open in `hour` relative to `reference` (1 where history is silent)."""
    now, then = staffing.get(reference), staffing.get(hour)
    return then / now if now and then else 1.0


def pace(
    gaps: list[Gap], prior: tuple[float, str], staffing: dict[int, float], now: datetime, min_calls: int
) -> tuple[float, float, str]:
    """Calls per minute with every counter busy now, the calls it rests on, and its basis.

    A gamma-Poisson update: the prior pace counts as PRIOR_CALLS calls; each busy gap adds its
    calls and its minutes, rescaled to the counters usually open now, so the calls made before
    the lunch break do not speak for the break.
    """
    hour = now.astimezone(TOKYO).hour
    calls = sum(gap.calls for gap in gaps)
    minutes = sum(gap.minutes * _staffing(staffing, gap.start.astimezone(TOKYO).hour, hour) for gap in gaps)
    per_minute = (calls + PRIOR_CALLS) / (minutes + PRIOR_CALLS / max(prior[0], 1e-6))
    return per_minute, calls + PRIOR_CALLS, "recent" if calls >= min_calls else prior[1]


def minutes_for(calls: float, per_minute: float, staffing: dict[int, float], now: datetime) -> float:
    """How long `calls` calls take from now at `per_minute`, following the usual staffing by hour."""
    local = now.astimezone(TOKYO)
    minute = local.minute + local.second / 60
    spent, left = 0.0, calls
    for step in range(24):
        rate = per_minute * max(_staffing(staffing, local.hour + step, local.hour), 0.25)
        room = 60 - minute if step == 0 else 60.0
        if rate * room >= left or step == 23:
            return spent + left / rate
        spent, left = spent + room, left - rate * room
    return spent  # pragma: no cover - the loop returns at step 23


def estimate(
    ahead: int,
    now: datetime,
    gaps: list[Gap],
    prior: tuple[float, str],
    staffing: dict[int, float] | None = None,
    free: int = 0,
    min_calls: int = 5,
    service_cv2: float | None = None,
    counters: int = 1,
) -> Estimate:
    """The wait of someone with `ahead` people before them, as a published range in minutes.

    `gaps`: the line's recent busy gaps (`busy_gaps`); `prior`: (calls per minute, basis) from
    this hour's history or the configuration; `staffing`: counters usually open by Tokyo hour;
    `free`: counters free now (`free_counters`); fewer people ahead than that: called at once
    (in one queue nobody waits while a counter is free, so those ahead are being called now or
    are phantoms whose call was lost), published as no wait (0-0) where history knows the
    counters usually open this hour (so a break cannot hide behind a recent call), else "1分未満";
    `service_cv2`: the variation of recent services, when known; `counters`: counters open now
    (`counters_open`), whose next calls interleave at random.
    """
    staffing = staffing or {}
    per_minute, evidence, basis = pace(gaps, prior, staffing, now, min_calls)
    if ahead < free:
        if staffing.get(now.astimezone(TOKYO).hour):
            return Estimate(*NO_WAIT, basis, 0.0)
        return Estimate(0, BUCKET_EDGES[1], basis, 0.0)
    mean = minutes_for(ahead + FIRST_CALL, per_minute, staffing, now)
    spread = SERVICE_CV2 if service_cv2 is None else service_cv2
    interleaved = min(ahead, max(counters - 1, 0))
    variance = FIRST_CALL**2 + interleaved + (ahead - interleaved) * spread
    cv2 = variance / (ahead + FIRST_CALL) ** 2 + spread / evidence + DRIFT**2
    low, high = choose_bucket(mean, cv2, COVERAGE)
    # A gamma's median sits about a third of its variance-to-mean below its mean.
    return Estimate(low, high, basis, mean * max(0.0, 1 - cv2 / 3))


def history_pace(
    profile: dict[str, dict[str, dict[str, Any]]] | None, weekday: int, hour: int, min_calls: int
) -> tuple[dict[int, float], float | None]:
    """From a line's profile (weekday -> hour -> figures): the counters usually open by hour
    (this weekday's, else the median over all weekdays), and this hour's pace with every counter
    busy, in calls per minute (all weekdays' busy gaps of this hour; None below `min_calls`)."""
    by_weekday: dict[int, list[float]] = {}
    own: dict[int, float] = {}
    calls = minutes = 0.0
    for day, hours in (profile or {}).items():
        for name, cell in hours.items():
            if cell.get("counters"):
                by_weekday.setdefault(int(name), []).append(float(cell["counters"]))
                if day == str(weekday):
                    own[int(name)] = float(cell["counters"])
            if int(name) == hour:
                calls += float(cell.get("busyCalls") or 0)
                minutes += float(cell.get("busyMinutes") or 0)
    staffing = {h: own.get(h, statistics.median(values)) for h, values in by_weekday.items()}
    return staffing, (calls / minutes if calls >= min_calls and minutes > 0 else None)
