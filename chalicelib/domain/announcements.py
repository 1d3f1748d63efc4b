"""Segmented announcements: what staff may compose, who approves, when it may go out, to whom.

An announcement is text in Japanese (other languages optional, falling back to Japanese), an
optional image and link, a category (`general` on one topic, or `emergency`) and a target:
areas, age bands and languages, where an empty dimension means "all".

Lifecycle (every arrow a conditional write in the store):

    draft ──submit──▶ pending_approval ──approve──▶ scheduled ──start──▶ sending ──▶ sent | failed
      ▲   └──submit (no approval needed)─────────────▲    │                  │
      └────────reject / edit───┘                          └──────── cancel ──┴──▶ cancelled
    (draft and pending_approval can be cancelled too)

A send "now" is scheduled for now. Who the recipients are is decided when the send starts,
from the send lists (chalicelib/domain/preferences.py), so an opt-out up to that moment counts.

Pure Python: no I/O. The store writes the result, services do the fan-out.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from chalicelib.domain import json_text, languages, line_limits
from chalicelib.domain import preferences as prefs_rules
from chalicelib.domain.residents import DEFAULT_LANGUAGE, LANGUAGES
from chalicelib.domain.staff import ROLE_SUPERVISOR

TOKYO = prefs_rules.TOKYO

# --- states ----------------------------------------------------------------------------------

DRAFT = "draft"
PENDING_APPROVAL = "pending_approval"
SCHEDULED = "scheduled"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
CANCELLED = "cancelled"

STATUSES = (DRAFT, PENDING_APPROVAL, SCHEDULED, SENDING, SENT, FAILED, CANCELLED)
FINAL_STATUSES = frozenset({SENT, FAILED, CANCELLED})
# The content may change only before anyone approved or scheduled it.
EDITABLE_STATUSES = frozenset({DRAFT, PENDING_APPROVAL})
CANCELLABLE_STATUSES = frozenset({DRAFT, PENDING_APPROVAL, SCHEDULED, SENDING})

TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({PENDING_APPROVAL, SCHEDULED, CANCELLED}),
    PENDING_APPROVAL: frozenset({DRAFT, SCHEDULED, CANCELLED}),
    SCHEDULED: frozenset({SENDING, CANCELLED}),
    SENDING: frozenset({SENT, FAILED, CANCELLED}),
    SENT: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}

GENERAL = "general"
EMERGENCY = "emergency"
CATEGORIES = (GENERAL, EMERGENCY)

# LINE: at most 500 user ids per multicast, 5 000 characters per text message, counted in
# UTF-16 (an emoji or a kanji such as 𠮷 is two). The body is capped lower, in the same units,
# so the link and the reason for sending always fit behind it.
MAX_MULTICAST = 500
MAX_TEXT_CHARS = 2000
MAX_URL_CHARS = 1000
MAX_REJECTION_CHARS = 500
# A schedule further ahead than this is more likely a typo in the year than a plan.
MAX_SCHEDULE_AHEAD = timedelta(days=90)
# How many area names the reason line lists before it says "and N more".
MAX_AREA_NAMES = 5

# Per-recipient counters, each kept per language.
PLANNED = "planned"
DELIVERED = "sent"
UNDELIVERED = "failed"
DEFERRED = "deferred"
HELD_BACK = "held_back"
SKIPPED = "cancelled"
WITHDRAWN = "withdrawn"
COUNTS = (PLANNED, DELIVERED, UNDELIVERED, DEFERRED, HELD_BACK, SKIPPED, WITHDRAWN)

# A host, then a path, query or fragment: no userinfo ("user@") and no backslash, which browsers
# read as "/" while Python's urlsplit does not (https://evil.example\@www.city… goes to evil.example).
_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:\d{1,5})?([/?#][^\s<>\"\\]*)?$")
# A name ending in these is a file's, not a site's (案内.pdf, photo_01.webp, 申請書_R6.jtd); none
# is a top-level domain. .zip and .mov are both, and phishers use them: those need approval.
_FILE_TYPES = r"(?:pdf|jpe?g|png|gif|webp|heic|svg|docx?|xlsx?|pptx?|txt|csv|html?|json|xml|jtd|mp[34])"
# What LINE makes a link of in a text: an address with a scheme (https://, line://ti/p/@… opens
# another account), or a bare domain name (www.… and the like, an email address's domain after
# its "@", one after "_", an internationalised one; a file name such as 案内.pdf is none).
# ASCII bounds only: a domain written against Japanese (詳細はevil.example.comを) is one too.
_LINKED_IN_TEXT = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://[^\s<>\"]+|(?<![A-Za-z0-9.-])(?:[A-Za-z0-9-]+\.)+"
    r"(?!" + _FILE_TYPES + r"(?![A-Za-z0-9_-]))(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{2,59})"
    r"(?![A-Za-z0-9_-]))",
    re.IGNORECASE,
)
_HOST_CHARS = re.compile(r"[a-z0-9.-]*")
# A browser reads a host on where a linkifier may stop: it percent-decodes it and maps the
# ideographic full stops to "." (UTS 46).
_IDEOGRAPHIC_STOPS = re.compile("[\u3002\uff0e\uff61]")
# LINE shows JPEG and PNG images only; an address naming another image type is refused (one
# naming none, as CMS addresses often do, cannot be told without fetching it).
_OTHER_IMAGE_TYPE = re.compile(r"\.(gif|webp|svg|bmp|tiff?|heic|heif|avif)$", re.IGNORECASE)


_QUIET_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class InvalidTransition(Exception):
    """The announcement is not in a status this action starts from (a 409 for the caller)."""

    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"cannot {action} an announcement that is {status}")
        self.status = status
        self.action = action


class NotAllowed(Exception):
    """The staff member may not do this to this announcement; `reason` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidAnnouncement(ValueError):
    """The content breaks a rule the JSON Schema cannot express; `problems` are {pointer, message}."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['pointer']}: {p['message']}" for p in problems))
        self.problems = problems


# --- policy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The ward's settings for announcements (environment variables in brackets).

    approval_threshold [ANNOUNCE_APPROVAL_THRESHOLD]: more recipients than this need a second
    staff member's approval. quiet [ANNOUNCE_QUIET_HOURS, e.g. "21:00-08:00" or "off"]: Tokyo
    time when nothing but emergencies goes out. daily_cap [ANNOUNCE_DAILY_CAP]: non-emergency
    announcements per resident per Tokyo day. multicast_rps [ANNOUNCE_MULTICAST_RPS]: multicast
    requests per second over all workers (LINE allows 200). chunk_size: user ids per multicast.
    trusted_hosts [ANNOUNCE_TRUSTED_HOSTS, comma-separated]: the ward's own sites; a link or an
    image anywhere else needs a second staff member's approval, whatever the audience's size.
    """

    approval_threshold: int = 1000
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(8, 0)
    daily_cap: int = 3
    multicast_rps: float = 150.0
    chunk_size: int = MAX_MULTICAST
    trusted_hosts: tuple[str, ...] = ("city.katsushika.lg.jp",)

    def __post_init__(self) -> None:
        if self.approval_threshold < 0:
            raise ValueError("the approval threshold cannot be negative")
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need a start and an end")
        if self.daily_cap < 1:
            raise ValueError("the daily cap must allow at least one announcement")
        if not 0 < self.multicast_rps <= 200:
            raise ValueError("the multicast rate must be above 0 and at most LINE's 200 per second")
        if not 1 <= self.chunk_size <= MAX_MULTICAST:
            raise ValueError(f"a chunk holds 1 to {MAX_MULTICAST} user ids")

    @classmethod
    def from_environ(cls, env: Mapping[str, str] | None = None) -> Policy:
        env = os.environ if env is None else env
        quiet = env.get("ANNOUNCE_QUIET_HOURS", "21:00-08:00").strip()
        start, end = parse_quiet_hours(quiet)
        return cls(
            approval_threshold=int(env.get("ANNOUNCE_APPROVAL_THRESHOLD", cls.approval_threshold)),
            quiet_start=start,
            quiet_end=end,
            daily_cap=int(env.get("ANNOUNCE_DAILY_CAP", cls.daily_cap)),
            multicast_rps=float(env.get("ANNOUNCE_MULTICAST_RPS", cls.multicast_rps)),
            trusted_hosts=tuple(
                host.strip().lower()
                for host in env.get("ANNOUNCE_TRUSTED_HOSTS", ",".join(cls.trusted_hosts)).split(",")
                if host.strip()
            ),
        )


def parse_quiet_hours(text: str) -> tuple[time | None, time | None]:
    """ "21:00-08:00" -> (21:00, 08:00); "off" or "" -> no quiet hours. ValueError otherwise."""
    if text.lower() in ("", "off", "none"):
        return None, None
    match = _QUIET_HOURS.match(text)
    if not match:
        raise ValueError(f"quiet hours must look like 21:00-08:00 or be 'off', not {text!r}")
    start = time(int(match[1]), int(match[2]))
    end = time(int(match[3]), int(match[4]))
    return (None, None) if start == end else (start, end)


# --- quiet hours and the day -----------------------------------------------------------------


def in_quiet_hours(at: datetime, policy: Policy) -> bool:
    """Whether `at` (aware) falls in the quiet hours, read in Tokyo; the end minute is not quiet."""
    if policy.quiet_start is None or policy.quiet_end is None:
        return False
    local = at.astimezone(TOKYO).time()
    start, end = policy.quiet_start, policy.quiet_end
    if start < end:
        return start <= local < end
    return local >= start or local < end  # across midnight, e.g. 21:00-08:00


def quiet_hours_end(at: datetime, policy: Policy) -> datetime:
    """The first instant at or after `at` outside the quiet hours (UTC); `at` itself if outside."""
    if not in_quiet_hours(at, policy):
        return at.astimezone(UTC)
    assert policy.quiet_end is not None
    local = at.astimezone(TOKYO)
    end = datetime.combine(local.date(), policy.quiet_end, tzinfo=TOKYO)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def earliest_start(at: datetime, category: str, policy: Policy) -> datetime:
    """When a send asked for at `at` may start: emergencies at once, anything else after quiet hours."""
    if category == EMERGENCY:
        return at.astimezone(UTC)
    return quiet_hours_end(at, policy)


def cap_day(at: datetime) -> str:
    """The Tokyo calendar day the frequency cap counts in, as YYYY-MM-DD."""
    return at.astimezone(TOKYO).date().isoformat()


def counts_against_cap(category: str) -> bool:
    return category != EMERGENCY


# --- the target ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Who an announcement is for; an empty dimension means all of it."""

    areas: frozenset[str] = frozenset()
    age_bands: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()

    @property
    def everyone(self) -> bool:
        """Every follower (of the topic, or of the ward for an emergency), decided by who is
        reached, not by how the request was written: a dimension left empty and one that lists
        every value of it (every area, every age band, every language) reach the same residents.
        """
        return (
            _covers(self.areas, prefs_rules.area_ids())
            and _covers(self.age_bands, prefs_rules.AGE_BANDS)
            and _covers(self.languages, LANGUAGES)
        )

    def to_document(self) -> dict[str, list[str]]:
        area_order = {area: i for i, area in enumerate(sorted(prefs_rules.area_ids()))}
        return {
            "areas": sorted(self.areas, key=lambda a: (area_order.get(a, len(area_order)), a)),
            "ageBands": [band for band in prefs_rules.AGE_BANDS if band in self.age_bands],
            "languages": [language for language in LANGUAGES if language in self.languages],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> Target:
        document = document or {}
        return cls(
            areas=frozenset(document.get("areas") or ()),
            age_bands=frozenset(document.get("ageBands") or ()),
            languages=frozenset(document.get("languages") or ()),
        )


def _covers(chosen: frozenset[str], every: Iterable[str]) -> bool:
    """An empty filter, or one that names every value, narrows nothing."""
    return not chosen or chosen.issuperset(every)


@dataclass(frozen=True)
class Content:
    """What staff composed: checked as a whole by `content_from_document`."""

    category: str
    topic: str | None
    texts: Mapping[str, str] = field(hash=False)
    target: Target
    image_url: str | None = None
    preview_url: str | None = None
    link: str | None = None

    def text(self, language: str) -> str:
        """The text a resident of `language` reads: theirs, else the first of their fallback
        chain that staff wrote (domain/languages.py: vi -> en -> ja); Japanese is required."""
        return languages.pick(self.texts, language) or self.texts[DEFAULT_LANGUAGE]

    def text_language(self, language: str) -> str:
        """The language of the text `text(language)` returns."""
        return languages.pick_language(self.texts, language) or DEFAULT_LANGUAGE

    def to_document(self) -> dict[str, Any]:
        image = None
        if self.image_url:
            image = {"url": self.image_url, "previewUrl": self.preview_url or self.image_url}
        return {
            "category": self.category,
            "topic": self.topic,
            "texts": {language: self.texts[language] for language in LANGUAGES if language in self.texts},
            "image": image,
            "link": self.link,
            "target": self.target.to_document(),
        }


def content_from_document(document: Mapping[str, Any]) -> Content:
    """Content from a body that passed the JSON Schema; InvalidAnnouncement lists every other problem."""
    problems: list[dict[str, str]] = []

    def bad(pointer: str, message: str) -> None:
        problems.append({"pointer": pointer, "message": message})

    category = document.get("category", GENERAL)
    topic = document.get("topic")
    target = Target.from_document(document.get("target"))
    if category == EMERGENCY:
        if topic is not None:
            bad(
                "/topic",
                "緊急のお知らせは地域の全員に届きます。話題は指定しないでください。"
                " / An emergency reaches every follower in its areas whatever they chose: give no topic.",
            )
        if target.age_bands:
            bad(
                "/target/ageBands",
                "緊急のお知らせは全年代に届きます。年代は指定しないでください。 / An emergency reaches every age: give no age bands.",
            )
        if target.languages:
            bad(
                "/target/languages",
                "緊急のお知らせは全言語に届きます。言語は指定しないでください。 / An emergency reaches every language: give no languages.",
            )
    elif topic is None:
        bad("/topic", "お知らせの話題を選んでください。 / Choose the topic this announcement is about.")
    elif topic not in prefs_rules.topic_ids():
        bad("/topic", f"話題 {topic!r} はありません。 / There is no topic {topic!r}.")
    known_areas = prefs_rules.area_ids()
    for i, area in enumerate(sorted(target.areas)):
        if area not in known_areas:
            bad(
                f"/target/areas/{i}",
                f"地域 {area!r} は区にありません。 / There is no area {area!r} in the ward.",
            )

    texts = {language: text for language, text in (document.get("texts") or {}).items() if text is not None}
    for language, text in texts.items():
        if not json_text.visible(text):
            bad(f"/texts/{language}", "本文が空です。 / The text is empty.")
        elif line_limits.utf16(text) > MAX_TEXT_CHARS:
            bad(
                f"/texts/{language}",
                f"LINEには長すぎます（{MAX_TEXT_CHARS:,}字まで。絵文字や𠮷などは2字）。"
                f" / The text is too long for LINE: at most {MAX_TEXT_CHARS:,} characters, where an emoji "
                "or a rare kanji such as 𠮷 counts as two.",
            )
    if DEFAULT_LANGUAGE not in texts:
        bad(
            f"/texts/{DEFAULT_LANGUAGE}",
            "日本語の本文は必須です（どの言語の方にも代わりに届きます）。"
            " / Japanese text is required: residents of every language fall back to it.",
        )

    image = document.get("image") or {}
    image_url, preview_url, link = image.get("url"), image.get("previewUrl"), document.get("link")
    for pointer, url in (("/image/url", image_url), ("/image/previewUrl", preview_url), ("/link", link)):
        if url is not None and (len(url) > MAX_URL_CHARS or not _HTTPS_URL.match(url)):
            bad(
                pointer,
                "空白のない https:// のアドレスにしてください。 / Give an https:// address without spaces.",
            )
        elif url is not None and pointer != "/link" and _OTHER_IMAGE_TYPE.search(url.split("?")[0]):
            bad(
                pointer,
                "LINEで表示できる画像は JPEG と PNG だけです。 / LINE shows JPEG and PNG images only.",
            )
    if problems:
        raise InvalidAnnouncement(problems)
    return Content(
        category=category,
        topic=topic,
        texts={language: texts[language] for language in LANGUAGES if language in texts},
        target=target,
        image_url=image_url,
        preview_url=(preview_url or image_url) if image_url else None,
        link=link,
    )


def partitions(content: Content) -> tuple[str, ...]:
    """The send lists (topic × area partitions) the announcement reads, sorted, each once.

    A resident is on exactly one list per topic (their area's, or all areas'), and on one
    emergency list, so nobody is read twice within one announcement.
    """
    topic = prefs_rules.EVERYONE if content.category == EMERGENCY else content.topic
    assert topic is not None
    areas: Iterable[str | None] = sorted(content.target.areas) or [None]
    found: set[str] = set()
    for area in areas:
        found.update(prefs_rules.segments_for_send(topic, area))
    return tuple(sorted(found))


def partition_area(partition: str) -> str | None:
    """The area of a send list (None for the list of residents who chose no area)."""
    area = partition.rpartition(prefs_rules.SEGMENT_SEPARATOR)[2]
    return None if area == prefs_rules.ALL_AREAS else area


def reaches(language: str, age_band: str | None, target: Target) -> bool:
    """Whether a send-list entry (the resident's language and age band) is inside the target."""
    if target.languages and language not in target.languages:
        return False
    return prefs_rules.reaches_age(age_band, target.age_bands)


# --- who may do what -------------------------------------------------------------------------


def check_target(roles: Collection[str], content: Content) -> None:
    """Only a supervisor may address every follower at once with news. An emergency for the
    whole ward may be drafted by an announcer: it waits for a supervisor's approval anyway."""
    if content.category != EMERGENCY and content.target.everyone and ROLE_SUPERVISOR not in roles:
        raise NotAllowed(
            "全員への送信は supervisor だけができます。対象を絞るか supervisor に依頼してください。"
            " / Only a supervisor may send to every follower; narrow the target or ask a supervisor."
        )


# Why a second staff member must approve: the preview names them, so the writer can narrow the
# target or fix a link before asking, and the approver knows what to look at.
DRAFTED_BY_ANNOUNCER = "emergency_drafted_by_announcer"
EVERY_FOLLOWER = "every_follower"
OVER_THRESHOLD = "over_threshold"
OUTSIDE_ADDRESSES = "outside_addresses"


def approval_reasons(
    recipients: int, content: Content, policy: Policy, *, supervisor_draft: bool
) -> list[str]:
    """Why a second staff member must approve before the send starts; none: it needs no approval.

    News: every follower, more recipients than the threshold, or an address off the ward's sites.
    An emergency: always when an announcer wrote any of it, whatever its size; never when
    supervisors alone drafted and submitted it (it goes out at once, and a second supervisor
    reviews it afterwards).
    """
    if content.category == EMERGENCY:
        return [] if supervisor_draft else [DRAFTED_BY_ANNOUNCER]
    reasons = [
        reason
        for reason, applies in (
            (EVERY_FOLLOWER, content.target.everyone),
            (OVER_THRESHOLD, recipients > policy.approval_threshold),
        )
        if applies
    ]
    return reasons + ([OUTSIDE_ADDRESSES] if untrusted_hosts(content, policy) else [])


def needs_approval(recipients: int, content: Content, policy: Policy, *, supervisor_draft: bool) -> bool:
    return bool(approval_reasons(recipients, content, policy, supervisor_draft=supervisor_draft))


def untrusted_hosts(content: Content, policy: Policy) -> list[str]:
    """The hosts its link, image and texts' addresses are on, other than the ward's own sites
    (the host itself or a subdomain: www.city.katsushika.lg.jp.evil.com is neither). A phishing
    link from a mistaken or stolen announcer account, or an image host that sees every
    resident's address, is seen by a second person first."""
    addresses = [url for url in (content.link, content.image_url, content.preview_url) if url]
    for text in content.texts.values():
        # Every way the text may be read: as sent (a linkifier stops at a soft hyphen or a "．"
        # before ".city.katsushika.lg.jp": a re-test), as a phone shows it (full-width letters
        # are letters), and with the invisible marks a browser drops dropped.
        shown = unicodedata.normalize("NFKC", text)
        for reading in {text, shown, json_text.without_invisible(shown)}:
            addresses += _LINKED_IN_TEXT.findall(reading)
    hosts = {host for address in addresses for host in _hosts(address)}
    return sorted(
        host
        for host in hosts
        if not any(host == trusted or host.endswith("." + trusted) for trusted in policy.trusted_hosts)
    )


def _hosts(address: str) -> set[str]:
    """Every host the address may open: where a linkifier stops (`_host`), and where a browser
    reads on, "https://www.city.katsushika.lg.jp%2eevil.example/" opening
    www.city.katsushika.lg.jp.evil.example (a review). The ward's only if every one is."""
    first = _host(address)
    address = address.replace("\\", "/")
    if not address.lower().startswith(("http://", "https://")):
        return {first}  # a bare name holds no "%" or "。" (_LINKED_IN_TEXT), another scheme no host
    try:
        whole = urlsplit(address).hostname or ""
    except ValueError:
        return {first}
    browsed = json_text.without_invisible(unicodedata.normalize("NFKC", unquote(whole)))
    return {first, _IDEOGRAPHIC_STOPS.sub(".", browsed).lower()} - {""}


def _host(address: str) -> str:
    """The host a browser opens: a backslash is a "/" to it, and a bare name is a host."""
    address = address.replace("\\", "/")
    if "://" not in address:
        address = "https://" + address
    elif not address.lower().startswith(("http://", "https://")):
        return address.lower()  # line://ti/p/@…: what it opens is the whole address, not a host
    try:
        host = (urlsplit(address).hostname or "").lower()
    except ValueError:  # refused (a bracket left open, a host NFKC would change): read on as written
        host = address.split("://", 1)[1].lower()
    # Where a linkifier stops (a comma, a full-width slash, any other character no host has):
    # "https://evil.example,.city.katsushika.lg.jp/" opens evil.example, not the ward's site.
    prefix = _HOST_CHARS.match(host)
    return (prefix.group(0) if prefix else "") or host


def needs_review(category: str, approval_required: bool) -> bool:
    """An emergency that went out without approval is reviewed by a second supervisor afterwards."""
    return category == EMERGENCY and not approval_required


def is_supervisor(roles: Collection[str]) -> bool:
    return ROLE_SUPERVISOR in roles


def check_approver(
    *, staff_id: str, roles: Collection[str], section: str, announcement_section: str, involved: Iterable[str]
) -> None:
    """A supervisor of the announcement's section who neither wrote nor submitted it."""
    if ROLE_SUPERVISOR not in roles:
        raise NotAllowed(
            "お知らせの承認・差し戻しは supervisor だけができます。 / Only a supervisor may approve or reject an announcement."
        )
    if section != announcement_section:
        raise NotAllowed("このお知らせは他の課のものです。 / This announcement belongs to another section.")
    if staff_id in set(involved):
        raise NotAllowed(
            "自分のお知らせは承認できません。別の supervisor が承認します。 / Nobody approves their own announcement: another supervisor must do it."
        )


def check_reviewer(
    *, staff_id: str, roles: Collection[str], section: str, announcement_section: str, involved: Iterable[str]
) -> None:
    """A supervisor of the section, other than who wrote or sent the emergency, reviews it."""
    if ROLE_SUPERVISOR not in roles:
        raise NotAllowed(
            "緊急のお知らせの事後確認は supervisor だけができます。 / Only a supervisor may review an emergency announcement."
        )
    if section != announcement_section:
        raise NotAllowed("このお知らせは他の課のものです。 / This announcement belongs to another section.")
    if staff_id in set(involved):
        raise NotAllowed(
            "自分の緊急のお知らせは確認できません。別の supervisor が確認します。 / Nobody reviews their own emergency: another supervisor must do it."
        )


def require(status: str, to: str, action: str) -> None:
    """Raise InvalidTransition unless `status` may move to `to`."""
    if to not in TRANSITIONS.get(status, frozenset()):
        raise InvalidTransition(status, action)


def final_status(sent: int, failed: int) -> str:
    """A finished send is `failed` only when nothing reached anyone and something failed."""
    return FAILED if failed and not sent else SENT


# --- chunks ----------------------------------------------------------------------------------


def split(user_ids: Sequence[str], size: int) -> tuple[list[list[str]], list[str]]:
    """Full chunks of exactly `size` ids, and the rest (fewer than `size`) to merge elsewhere.

    Full chunks of each partition plus the rests merged per language make exactly
    ceil(n / size) chunks per language: sum(floor(a_i / s)) + ceil(sum(a_i mod s) / s).
    """
    cut = len(user_ids) - len(user_ids) % size
    return [list(user_ids[i : i + size]) for i in range(0, cut, size)], list(user_ids[cut:])


def chunked(user_ids: Sequence[str], size: int) -> list[list[str]]:
    return [list(user_ids[i : i + size]) for i in range(0, len(user_ids), size)]


@dataclass(frozen=True)
class TextPlan:
    """Which text the residents of one language will get, and whether it is their own."""

    language: str
    residents: int
    text_language: str

    @property
    def own(self) -> bool:
        return self.language == self.text_language


def text_plan(content: Content, by_language: Mapping[str, int]) -> list[TextPlan]:
    """Per resident language with recipients: how many, and which text they get (the fallback
    chain of domain/languages.py), in the ward's language order."""
    return [
        TextPlan(language, by_language[language], content.text_language(language))
        for language in LANGUAGES
        if by_language.get(language)
    ]


def missing_text_warnings(plan: Iterable[TextPlan]) -> list[str]:
    """One line for staff per language that has residents but no text of its own (ja / en, as
    every staff message)."""
    return [
        f"{entry.language}: {entry.residents}人には{LANGUAGE_NAMES[entry.text_language][0]}の本文が届きます"
        f"（{LANGUAGE_NAMES[entry.language][0]}の本文がありません）。 / "
        f"{entry.residents} resident{'s' if entry.residents != 1 else ''} will get "
        f"the {LANGUAGE_NAMES[entry.text_language][1]} text; no {LANGUAGE_NAMES[entry.language][1]} text was written."
        for entry in plan
        if not entry.own
    ]


# Language names for staff: (Japanese, English).
LANGUAGE_NAMES = {
    "ja": ("日本語", "Japanese"),
    "ja-easy": ("やさしい日本語", "Easy Japanese"),
    "en": ("英語", "English"),
    "zh-Hans": ("中国語（簡体字）", "Simplified Chinese"),
    "ko": ("韓国語", "Korean"),
    "vi": ("ベトナム語", "Vietnamese"),
    "ne": ("ネパール語", "Nepali"),
}


def minimum_requests(by_language: Mapping[str, int], size: int = MAX_MULTICAST) -> int:
    """The fewest multicast requests that reach these recipients: per language, ceil(n / size)."""
    return sum(math.ceil(n / size) for n in by_language.values())


def empty_counts() -> dict[str, dict[str, int]]:
    return {kind: dict.fromkeys(LANGUAGES, 0) for kind in COUNTS}


def totals(counts: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {kind: sum((counts.get(kind) or {}).values()) for kind in COUNTS}


# --- what residents receive ------------------------------------------------------------------


def area_names(areas: Collection[str], language: str) -> str:
    """The target's areas in the resident's language: names, "and N more", or the whole ward."""
    from chalicelib.domain import messages
    from chalicelib.domain.forms import areas as ward_areas
    from chalicelib.domain.ward import ward_name

    if not areas:
        return messages.text("announce.area_all", language, ward=ward_name(language))
    key = "ja" if language in ("ja", "ja-easy", "zh-Hans") else "en"
    names = [area[key] for area in ward_areas() if area["id"] in areas]
    separator = "、" if key == "ja" else ", "
    if len(names) <= MAX_AREA_NAMES:
        return separator.join(names)
    shown = separator.join(names[: MAX_AREA_NAMES - 1])
    return messages.text("announce.areas_more", language, names=shown, count=len(names) - MAX_AREA_NAMES + 1)


def line_messages(
    content: Content,
    language: str,
    *,
    stop_topic_data: str | None,
    settings_data: str,
) -> list[dict[str, Any]]:
    """The LINE messages for residents reading `language`: the image, then the text with the
    link, why they received it and a one-tap quick reply (stop this topic; for an emergency,
    the settings, since no topic choice brought it).

    Recipients are grouped by language only (the fewest requests), so the reason names the
    announcement's topic and areas: the resident chose that topic, and either one of those
    areas or all areas.
    """
    from chalicelib.domain import chat, messages
    from chalicelib.domain.ward import without_controls

    parts = [without_controls(content.text(language)).strip()]
    if content.category == EMERGENCY:
        parts[0] = f"{messages.text('announce.emergency_title', language)}\n{parts[0]}"
    if content.link:
        parts.append(messages.text("announce.link", language, url=content.link))
    areas = area_names(content.target.areas, language)
    if content.category == EMERGENCY:
        parts.append(messages.text("announce.why_emergency", language, area=areas))
        quick = [chat.postback_item(messages.label("button.settings", language), settings_data)]
    else:
        assert content.topic is not None and stop_topic_data is not None
        topic = next(t for t in prefs_rules.topics() if t.id == content.topic)
        parts.append(messages.text("announce.why_topic", language, topic=topic.label(language), area=areas))
        quick = [
            chat.postback_item(messages.label("announce.button_stop_topic", language), stop_topic_data),
            chat.postback_item(messages.label("button.settings", language), settings_data),
        ]
    found: list[dict[str, Any]] = []
    if content.image_url:
        found.append(
            {
                "type": "image",
                "originalContentUrl": content.image_url,
                "previewImageUrl": content.preview_url or content.image_url,
            }
        )
    found.append(chat.text_message("\n\n".join(parts), quick))
    return found


# --- ids -------------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now: datetime, random_bytes: bytes | None = None) -> str:
    """A ULID-shaped id (26 characters, sortable by creation time): ANN-free, URL-safe."""
    entropy = random_bytes if random_bytes is not None else os.urandom(10)
    value = (int(now.timestamp() * 1000) << 80) | int.from_bytes(entropy[:10], "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


ID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def parse_send_at(value: str | None, now: datetime) -> tuple[datetime | None, str | None]:
    """A requested send time: (UTC time or None for now, problem message or None)."""
    if value is None:
        return None, None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None, "Give the time as ISO 8601 with an offset, e.g. 2026-12-01T09:00:00+09:00."
    if at.tzinfo is None:
        return None, "Give the time with its offset (+09:00 for Tokyo), so it cannot be misread."
    at = at.astimezone(UTC)
    if at < now - timedelta(minutes=1):
        return None, "This time has passed."
    if at > now + MAX_SCHEDULE_AHEAD:
        return None, f"Schedule at most {MAX_SCHEDULE_AHEAD.days} days ahead."
    return (None if at <= now else at), None
