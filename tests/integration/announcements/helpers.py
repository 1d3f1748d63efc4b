"""Helpers for the announcement tests: residents with preferences, staff callers, the policy,
injected crashes, and reading back what the LINE sandbox delivered to whom."""

from __future__ import annotations

import contextvars
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import announcements as rules
from chalicelib.domain import preferences as prefs_rules
from chalicelib.domain.staff import ROLE_ANNOUNCER, ROLE_SUPERVISOR
from chalicelib.services import fanout
from chalicelib.store import announcements as store
from chalicelib.store import preferences as store_prefs
from chalicelib.store import residents
from devstack.dev_issuer import mint_token
from tests.integration.conftest import new_user_id

MULTICAST = "/v2/bot/message/multicast"
SECTION = "kocho"  # 広報課: the section that sends the ward's news
WRITER = "announcer-1"
BOSS = "supervisor-1"
OTHER_BOSS = "supervisor-2"


def quiet_off(**changes: Any) -> rules.Policy:
    values = {"quiet_start": None, "quiet_end": None, "chunk_size": 5, "multicast_rps": 200.0}
    values.update(changes)
    return rules.Policy(**values)


def quiet_now(**changes: Any) -> rules.Policy:
    """Quiet hours around the present moment (whatever the hour the tests run at)."""
    local = datetime.now(UTC).astimezone(prefs_rules.TOKYO)
    start = (local.hour - 1) % 24
    end = (local.hour + 2) % 24
    values = {
        "quiet_start": datetime.min.time().replace(hour=start),
        "quiet_end": datetime.min.time().replace(hour=end),
    }
    values.update(changes)
    return quiet_off(**values)


def use_policy(monkeypatch: Any) -> Iterator[Callable[[rules.Policy], rules.Policy]]:
    """The body of the `policy` fixture (conftest.py): `policy(rules.Policy(...))` sets the policy for
    the test; quiet hours are off by default. Afterwards nothing the test scheduled is left to
    start in a later test (they share send lists).
    """
    current = {"value": quiet_off()}
    monkeypatch.setattr(fanout, "policy", lambda: current["value"])

    def set_policy(value: rules.Policy) -> rules.Policy:
        current["value"] = value
        return value

    yield set_policy
    settle()


def settle() -> None:
    """Cancel whatever is still waiting to start, and take every announcement off the due index."""
    far = datetime(2100, 1, 1, tzinfo=UTC)
    for announcement_id in store.due_ids(far, limit=1000):
        announcement = store.get(announcement_id)
        if announcement is not None and announcement.status in rules.CANCELLABLE_STATUSES:
            now = datetime.now(UTC)
            store.cancel(announcement_id, announcement.status, "test-teardown", now, now)
        store.update(announcement_id, store.clear_due())


def headers(
    roles: Iterable[str] = (ROLE_ANNOUNCER,), staff_id: str = WRITER, section: str = SECTION
) -> dict[str, str]:
    token = mint_token(staff_id=staff_id, section=section, roles=list(roles))
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


WRITER_HEADERS = lambda: headers()  # noqa: E731
BOSS_HEADERS = lambda: headers((ROLE_SUPERVISOR,), BOSS)  # noqa: E731


def body_of(response: Any) -> Any:
    return json.loads(response.body)


@dataclass
class Resident:
    user_id: str
    topics: frozenset[str]
    area: str | None
    language: str
    age_band: str | None
    consent: bool = True
    paused: bool = False
    following: bool = True


def make_resident(
    topics: Iterable[str] = ("waste",),
    area: str | None = "aoto",
    language: str = "ja",
    age_band: str | None = None,
    *,
    consent: bool = True,
    paused: bool = False,
    following: bool = True,
) -> Resident:
    """A follower whose preferences went through the same write path the LIFF page and the chat use."""
    user_id = new_user_id()
    now = datetime.now(UTC)
    assert residents.record_follow(user_id, "ja", int(time.time() * 1000))

    def change(prefs: prefs_rules.Preferences) -> prefs_rules.Preferences:
        prefs = prefs_rules.with_topics(prefs, topics)
        prefs = prefs_rules.with_area(prefs, area)
        prefs = prefs_rules.with_language(prefs, language)
        prefs = prefs_rules.with_age_band(prefs, age_band)
        if consent:
            prefs = prefs_rules.accept_terms(prefs, prefs_rules.TERMS_VERSION, now)
        return prefs_rules.stop_all(prefs) if paused else prefs

    store_prefs.update(user_id, change)
    resident = Resident(user_id, frozenset(topics), area, language, age_band, consent, paused, following)
    if not following:
        unfollow(resident)
    return resident


def unfollow(resident: Resident) -> None:
    assert residents.record_unfollow(resident.user_id, int(time.time() * 1000) + 1)
    store_prefs.sync(resident.user_id)
    resident.following = False


def stop_all(resident: Resident) -> None:
    store_prefs.update(resident.user_id, prefs_rules.stop_all)
    resident.paused = True


def announcement(**changes: Any) -> dict[str, Any]:
    document = {
        "category": "general",
        "topic": "waste",
        "texts": {"ja": "粗大ごみの収集日が変わります。", "en": "Bulky waste collection days change."},
        "target": {"areas": ["aoto"]},
    }
    document.update(changes)
    return document


def delivered(sandbox: Any) -> Counter[str]:
    """How many announcement messages each user got: every multicast LINE took, whatever it answered."""
    counts: Counter[str] = Counter()
    for entry in sandbox.requests(MULTICAST):
        if entry["accepted"]:
            counts.update(entry["body"]["to"])
    return counts


def messages_to(sandbox: Any, user_id: str) -> list[list[dict[str, Any]]]:
    return [
        entry["body"]["messages"]
        for entry in sandbox.requests(MULTICAST)
        if entry["accepted"] and user_id in entry["body"]["to"]
    ]


# --- injected crashes ----------------------------------------------------------------------------


class SimulatedCrash(BaseException):
    """A worker killed mid-flight: not an Exception, so no handler in the code under test sees it."""


# The SQS message the worker is handling (set by `survive_crashes`), so crashes are budgeted per message.
CURRENT_MESSAGE: contextvars.ContextVar[str] = contextvars.ContextVar("current_message", default="")


@dataclass
class Crasher:
    """Kills workers at random points, each SQS message at most `budget` times (SQS gives 5 tries)."""

    seed: int
    probability: float
    budget: int = 2
    crashes: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def wrap(self, name: str, function: Callable[..., Any], *, after: bool) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = CURRENT_MESSAGE.get()
            if key and not after:
                self._maybe(name, key, "before")
            result = function(*args, **kwargs)
            if key and after:
                self._maybe(name, key, "after")
            return result

        return wrapper

    def _maybe(self, name: str, key: str, when: str) -> None:
        if self.crashes[key] < self.budget and self.random.random() < self.probability:
            self.crashes[key] += 1
            self.log.append(f"{when} {name} {key}")
            raise SimulatedCrash(f"{when} {name}")


def survive_crashes(monkeypatch: Any, app_module: Any) -> None:
    """Make each worker entry point behave like a Lambda that died: the whole batch comes back."""
    for name in ("announce_plan_worker", "announce_collect_worker", "announce_send_worker"):
        handler = getattr(app_module, name)

        def dying(event: dict[str, Any], context: Any, handler: Any = handler) -> dict[str, Any]:
            token = CURRENT_MESSAGE.set(",".join(r["messageId"] for r in event["Records"]))
            try:
                return handler(event, context)
            except SimulatedCrash:
                return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
            finally:
                CURRENT_MESSAGE.reset(token)

        monkeypatch.setattr(app_module, name, dying)


def collect_now(announcement_id: str) -> None:
    """Start the send and read every one of its lists here, without the queues (chunks get queued)."""
    fanout.plan(announcement_id)
    for partition in store.get(announcement_id).partitions:
        fanout.collect(announcement_id, partition)


def drain(pump: Any, timeout: float = 120.0) -> None:
    pump.drain(idle_rounds=3, timeout=timeout)
