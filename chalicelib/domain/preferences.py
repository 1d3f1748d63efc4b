"""What a resident wants to hear about, and which send lists that puts them on.

A resident chooses topics (chalicelib/data/topics.json), an area (a 町 of
`forms.areas()`), an age band, a language, and consents to announcements under the
current terms; "stop all" pauses everything in one step and keeps the choices for later.

Send lists are keyed `<topic>#<area>` (the partition key of the send-list table), one
entry per chosen topic. A resident who chose no area is on `<topic>#*` ("all areas"):
they get ward-wide announcements and those for any area, because an alert for the area
they live in, unknown to us, must not be missed. So an announcement reads
`segments_for_send(topic, area)`: the area's list plus the all-areas list, or, ward-wide,
every area's list plus the all-areas list.

Besides their topics, every resident who receives announcements at all (following, agreed to
the current terms, not stopped) is on one more list, `all#<area>` (`all#*` without an area),
whatever topics they chose, none included: the emergency list. Disaster and evacuation
warnings reach every such resident of the areas concerned by key, without a scan. "Stop
all" and withdrawn consent take a resident off it like off every other list.

The age band is derived from a birth year, which is never kept: only the band is stored.
Pure Python: the LIFF API and the chat both call these functions, the store writes the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

from chalicelib.domain import languages
from chalicelib.domain.messages import Text
from chalicelib.domain.residents import DEFAULT_LANGUAGE, LANGUAGES
from chalicelib.domain.ward import DATA_DIR

# The terms residents agree to when they turn announcements on. Changing this asks every
# resident to agree again: consent to older terms does not put anyone on a send list.
TERMS_VERSION = "2025-04-01"
# Where the terms of that version are published (the chat and the LIFF page link to it).
TERMS_URL = "https://www.city.katsushika.lg.jp/line/terms.html"

ALL_AREAS = "*"
# The "topic" of the emergency lists (`all#<area>`): reserved, so no topic may be called this.
EVERYONE = "all"
SEGMENT_SEPARATOR = "#"
AGE_BANDS = ("0-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
MIN_BIRTH_YEAR = 1900
TOKYO = timezone(timedelta(hours=9), "JST")  # Japan keeps no daylight saving time

# Why a resident is on no send list (the order is the order they are reported in).
HOLD_NOT_FOLLOWING = "not_following"
HOLD_NO_CONSENT = "no_consent"
HOLD_TERMS_OUTDATED = "terms_outdated"
HOLD_PAUSED = "paused"
HOLD_NO_TOPICS = "no_topics"

_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class TopicsError(ValueError):
    """chalicelib/data/topics.json is missing something or contradicts itself."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a change; `message` is a catalogue text, written in the resident's
    language where it is shown (the LIFF API from the request, the settings page in its own)."""

    pointer: str
    code: str
    message: Text


class InvalidPreferences(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.pointer}: {p.code}" for p in problems))
        self.problems = problems


class TermsChanged(ValueError):
    """The resident agreed to terms other than the current ones (their page is out of date)."""

    text = Text("prefs.terms_changed")

    def __init__(self, given: str) -> None:
        super().__init__(f"terms version {given[:40]!r} is not the current {TERMS_VERSION!r}")
        self.given = given


@dataclass(frozen=True)
class Topic:
    id: str
    labels: Mapping[str, str] = field(hash=False)

    def label(self, language: str) -> str:
        return languages.pick(self.labels, language) or self.labels["ja"]


@dataclass(frozen=True)
class Consent:
    terms_version: str
    accepted_at: datetime  # UTC

    @property
    def current(self) -> bool:
        return self.terms_version == TERMS_VERSION


@dataclass(frozen=True)
class Preferences:
    """Everything a resident chose. The defaults are a new follower's: nothing chosen, no consent."""

    topics: frozenset[str] = frozenset()
    area: str | None = None  # None: all areas
    age_band: str | None = None
    language: str = DEFAULT_LANGUAGE
    consent: Consent | None = None
    paused: bool = False


# --- the ward's choices ----------------------------------------------------------------------


@cache
def topics() -> tuple[Topic, ...]:
    """The topics in display order, checked as a whole so a bad file fails loudly."""
    where = "chalicelib/data/topics.json"
    try:
        data = json.loads((DATA_DIR / "topics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TopicsError(f"{where}: not readable JSON ({error})") from None
    found: list[Topic] = []
    for entry in data.get("topics") or []:
        topic_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(topic_id, str) or not _ID.match(topic_id):
            raise TopicsError(f"{where}: topic id {topic_id!r} is not kebab-case")
        if topic_id == EVERYONE:
            raise TopicsError(f"{where}: topic id {EVERYONE!r} is reserved for the emergency lists")
        if any(topic.id == topic_id for topic in found):
            raise TopicsError(f"{where}: topic {topic_id!r} is listed twice")
        labels = entry.get("labels")
        missing = [
            lang
            for lang in LANGUAGES
            if not isinstance(labels, dict)
            or not isinstance(labels.get(lang), str)
            or not labels[lang].strip()
        ]
        if missing:
            raise TopicsError(f"{where}: topic {topic_id!r} has no label in {', '.join(missing)}")
        found.append(Topic(topic_id, dict(labels)))
    if not found:
        raise TopicsError(f"{where}: no topics")
    return tuple(found)


def topic_ids() -> tuple[str, ...]:
    return tuple(topic.id for topic in topics())


@cache
def area_ids() -> frozenset[str]:
    from chalicelib.domain.forms import areas

    return frozenset(area["id"] for area in areas())


def choices(language: str) -> dict[str, Any]:
    """What a settings page offers, labelled in `language` (areas: Japanese or romanised names)."""
    from chalicelib.domain.forms import areas

    area_label = "ja" if language in ("ja", "ja-easy", "zh-Hans") else "en"
    return {
        "topics": [{"id": topic.id, "label": topic.label(language)} for topic in topics()],
        "areas": [{"id": area["id"], "label": area[area_label], "kana": area["kana"]} for area in areas()],
        "ageBands": list(AGE_BANDS),
        "languages": list(LANGUAGES),
    }


# --- age -------------------------------------------------------------------------------------


def tokyo_year(now: datetime) -> int:
    """The calendar year in Tokyo at `now` (an aware datetime)."""
    return now.astimezone(TOKYO).year


def age_band(birth_year: object, current_year: int) -> str:
    """The band of the age a resident born in `birth_year` reaches in `current_year`.

    Only the year is asked, so the age is the one reached this year (birthday or not). 1990.0
    is the year 1990, as JSON Schema's "integer" reads it.
    """
    year = int(birth_year) if isinstance(birth_year, float) and birth_year.is_integer() else birth_year
    if not isinstance(year, int) or isinstance(year, bool) or not MIN_BIRTH_YEAR <= year <= current_year:
        raise InvalidPreferences([_birth_year_problem(current_year)])
    age = current_year - year
    if age >= 70:
        return "70+"
    if age < 20:
        return "0-19"
    decade = age // 10 * 10
    return f"{decade}-{decade + 9}"


def _birth_year_problem(current_year: int) -> Problem:
    return Problem(
        "/birthYear",
        "birth_year_out_of_range",
        Text("prefs.problem.birth_year", first=MIN_BIRTH_YEAR, last=current_year),
    )


# --- changes (each returns new preferences or raises InvalidPreferences) ----------------------


def with_topics(prefs: Preferences, chosen: Iterable[str]) -> Preferences:
    chosen = list(chosen)
    known = set(topic_ids())
    problems = [
        Problem(f"/topics/{i}", "unknown_topic", Text("prefs.problem.unknown_topic"))
        for i, topic in enumerate(chosen)
        if topic not in known
    ]
    if problems:
        raise InvalidPreferences(problems)
    return replace(prefs, topics=frozenset(chosen))


def toggle_topic(prefs: Preferences, topic: str) -> Preferences:
    """Add the topic if it is not chosen, remove it if it is (a chat button)."""
    return with_topics(prefs, prefs.topics ^ {topic})


def with_area(prefs: Preferences, area: str | None) -> Preferences:
    """Set the area; None means all areas."""
    if area is not None and area not in area_ids():
        raise InvalidPreferences([Problem("/area", "unknown_area", Text("prefs.problem.unknown_area"))])
    return replace(prefs, area=area)


def with_age_band(prefs: Preferences, band: str | None) -> Preferences:
    if band is not None and band not in AGE_BANDS:
        raise InvalidPreferences(
            [Problem("/ageBand", "unknown_age_band", Text("prefs.problem.unknown_age_band"))]
        )
    return replace(prefs, age_band=band)


def with_birth_year(prefs: Preferences, birth_year: int, now: datetime) -> Preferences:
    """Set the age band from a birth year; the year itself goes no further than this call."""
    return replace(prefs, age_band=age_band(birth_year, tokyo_year(now)))


def with_language(prefs: Preferences, language: str) -> Preferences:
    if language not in LANGUAGES:
        raise InvalidPreferences(
            [Problem("/language", "unknown_language", Text("prefs.problem.unknown_language"))]
        )
    return replace(prefs, language=language)


def accept_terms(prefs: Preferences, terms_version: str, now: datetime) -> Preferences:
    """Record consent to the current terms; agreeing again keeps the time of the first agreement."""
    if terms_version != TERMS_VERSION:
        raise TermsChanged(terms_version)
    if prefs.consent is not None and prefs.consent.terms_version == terms_version:
        return prefs
    return replace(prefs, consent=Consent(terms_version, now.astimezone(UTC)))


def withdraw_consent(prefs: Preferences) -> Preferences:
    return replace(prefs, consent=None)


def stop_all(prefs: Preferences) -> Preferences:
    """One tap: no announcement at all, until resumed. The choices are kept for then."""
    return replace(prefs, paused=True)


def resume(prefs: Preferences) -> Preferences:
    return replace(prefs, paused=False)


def from_document(document: Mapping[str, Any], current: Preferences, now: datetime) -> Preferences:
    """The preferences a settings page sent (a full replacement), checked all at once.

    `birthYear` sets the age band and is not kept; `ageBand` sets it directly (a page that
    shows the stored band sends it back); with neither, the band is cleared. Consent is
    `{"termsVersion"}` (the terms the page showed) or null to withdraw it.
    Raises InvalidPreferences with every problem, then TermsChanged.
    """
    prefs = current
    problems: list[Problem] = []

    def apply(change: Any, *args: Any) -> None:
        nonlocal prefs
        try:
            prefs = change(prefs, *args)
        except InvalidPreferences as error:
            problems.extend(error.problems)

    chosen = document.get("topics")
    apply(with_topics, chosen if isinstance(chosen, list) else [])
    apply(with_area, document.get("area"))
    if document.get("birthYear") is not None and document.get("ageBand") is not None:
        problems.append(Problem("/birthYear", "age_given_twice", Text("prefs.problem.age_given_twice")))
    elif document.get("birthYear") is not None:
        apply(with_birth_year, document["birthYear"], now)
    else:
        apply(with_age_band, document.get("ageBand"))
    apply(with_language, document.get("language", DEFAULT_LANGUAGE))
    if problems:
        raise InvalidPreferences(problems)

    consent = document.get("consent")
    if isinstance(consent, Mapping):
        prefs = accept_terms(prefs, str(consent.get("termsVersion")), now)
    else:
        prefs = withdraw_consent(prefs)
    paused = document.get("paused")
    if paused is None:
        return prefs
    return stop_all(prefs) if paused else resume(prefs)


# --- send lists ------------------------------------------------------------------------------


def segment(topic: str, area: str | None) -> str:
    """The send-list key of a topic in an area (None: all areas)."""
    return f"{topic}{SEGMENT_SEPARATOR}{area or ALL_AREAS}"


def holds(prefs: Preferences, *, following: bool) -> list[str]:
    """Why the resident receives no announcements now; empty when they do."""
    found = []
    if not following:
        found.append(HOLD_NOT_FOLLOWING)
    if prefs.consent is None:
        found.append(HOLD_NO_CONSENT)
    elif not prefs.consent.current:
        found.append(HOLD_TERMS_OUTDATED)
    if prefs.paused:
        found.append(HOLD_PAUSED)
    if not prefs.topics:
        found.append(HOLD_NO_TOPICS)
    return found


def segments(prefs: Preferences, *, following: bool) -> frozenset[str]:
    """The send lists the resident belongs on: one per topic in their area and the emergency list.

    None while anything but an empty choice of topics holds them (not following, no consent to
    the current terms, stopped): a resident who chose no topic still gets emergencies.
    """
    if set(holds(prefs, following=following)) - {HOLD_NO_TOPICS}:
        return frozenset()
    return frozenset({segment(EVERYONE, prefs.area), *(segment(topic, prefs.area) for topic in prefs.topics)})


def receives_emergencies(prefs: Preferences, *, following: bool) -> bool:
    """Whether emergency announcements for the resident's area reach them (whatever their topics)."""
    return segment(EVERYONE, prefs.area) in segments(prefs, following=following)


def segments_for_send(topic: str, area: str | None) -> tuple[str, ...]:
    """The send lists an announcement on `topic` reads, for one area or (None) the whole ward.

    `topic` EVERYONE reads the emergency lists: every resident who receives announcements.

    Residents with no area are on the all-areas list and get both kinds. A resident is on one
    list per topic, so within a topic nobody is read twice; across topics the sender dedupes.
    """
    if area is not None:
        return (segment(topic, area), segment(topic, None))
    return (*(segment(topic, a) for a in sorted(area_ids())), segment(topic, None))


# A send list's members are counted per language and age band: "ja#30-39", "en#-" (no band).
_NO_BAND = "-"


def count_slot(language: str, age_band: str | None) -> str:
    return f"{language}{SEGMENT_SEPARATOR}{age_band or _NO_BAND}"


def parse_count_slot(slot: str) -> tuple[str, str | None]:
    language, _, band = slot.partition(SEGMENT_SEPARATOR)
    return language, None if band == _NO_BAND else band


def list_count_changes(
    *,
    counted: frozenset[str],
    old_slot: str | None,
    wanted: frozenset[str],
    new_slot: str,
) -> tuple[frozenset[str], dict[tuple[str, str], int]]:
    """Which entries to (re)write and how each list's counts move, for one preferences write.

    `counted` are the lists whose entries were written and counted under `old_slot` (the
    resident's record of them); an entry outside it exists uncounted or not at all. Returns the
    wanted lists that need a put (new, or moved to another slot) and the non-zero count changes
    per (list, slot). Entries no longer wanted are deleted by the caller; counted ones give -1.
    """
    delta: dict[tuple[str, str], int] = {}

    def move(segment: str, slot: str, by: int) -> None:
        delta[(segment, slot)] = delta.get((segment, slot), 0) + by

    puts = set()
    for segment in wanted:
        if segment in counted and old_slot == new_slot:
            continue  # already there, counted under the same slot: nothing to write
        puts.add(segment)
        move(segment, new_slot, +1)
        if segment in counted and old_slot is not None:
            move(segment, old_slot, -1)
    for segment in counted - wanted:
        if old_slot is not None:
            move(segment, old_slot, -1)
    return frozenset(puts), {key: n for key, n in delta.items() if n}


def reaches_age(entry_band: str | None, target_bands: Collection[str] | None) -> bool:
    """Whether a send-list entry is inside an announcement's age target (None: every age).

    A resident who gave no age band gets age-targeted news of their topics too: better one
    message too many than a missed one.
    """
    return not target_bands or entry_band is None or entry_band in target_bands


# --- the shape clients see -------------------------------------------------------------------


def to_document(prefs: Preferences) -> dict[str, Any]:
    """The stored choices as JSON (topics in the ward's order; never a birth year)."""
    order = {topic_id: i for i, topic_id in enumerate(topic_ids())}
    consent = prefs.consent
    return {
        "topics": sorted(prefs.topics, key=lambda t: (order.get(t, len(order)), t)),
        "area": prefs.area,
        "ageBand": prefs.age_band,
        "language": prefs.language,
        "consent": None
        if consent is None
        else {
            "termsVersion": consent.terms_version,
            "acceptedAt": consent.accepted_at.astimezone(UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
        },
        "paused": prefs.paused,
    }


def view(prefs: Preferences, *, following: bool, language: str | None = None) -> dict[str, Any]:
    """What a settings page shows: the choices, whether news arrives (and why not), whether
    emergencies arrive (they do with no topics chosen), what it can pick, labelled in `language`
    (the page's; else the language chosen for news)."""
    found = holds(prefs, following=following)
    return {
        **to_document(prefs),
        "delivery": {
            "active": not found,
            "holds": found,
            "emergencies": receives_emergencies(prefs, following=following),
        },
        "terms": {"version": TERMS_VERSION, "url": TERMS_URL},
        "choices": choices(language or prefs.language),
    }
