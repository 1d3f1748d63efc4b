"""Open311 GeoReport v2 read view of reports (road damage, dumping, streetlights...).

Open data: anyone may read it, so it is built only from what identifies no one. The
request list reads the `by-kind` index (one service's: `by-form`), neither of which projects the
form's answers or the resident's contacts at all, and then each listed report's section alone
(keys and sections, in one batch read); a single request is read from the table but passed
through the same mapping. Published: receipt, service, open/closed, the status label (never a note:
notes are written to the resident and may greet them by name), times, the 町 instead of an
address, and coordinates rounded to about 100 m. No description and no photos.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any

from chalicelib.domain import cursors, forms
from chalicelib.domain import errors as rule
from chalicelib.domain.digits import whole_number
from chalicelib.domain.submissions import (
    OPEN_STATUSES,
    RECEIPT_PATTERN,
    STATUSES,
    TOKYO,
    normalize_receipt,
    to_open311_request,
    to_open311_service,
)

REPORT = "report"
DEFAULT_WINDOW = timedelta(days=90)  # GeoReport v2: without dates, the most recent 90 days
MAX_WINDOW = timedelta(days=90)  # ...and a date range "may not span more than 90 days"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# How deep paging reaches (page × page_size): a far page is read and thrown away item by item, so
# an unbounded one let one anonymous request read every report of the date range. Deeper than
# this, a client narrows the dates or follows the cursor.
MAX_REACH = 1000
# Reports one request reads at most, whatever it asks: a status filter that matches one report in
# two still reaches every page. Read READ_STEP at a time from each service's partition.
MAX_READ = 2 * MAX_REACH
READ_STEP = 100
OPEN311_STATUSES = ("open", "closed")


def services() -> list[dict[str, Any]]:
    """services.json: one service per report form, in catalogue order."""
    return [
        to_open311_service(
            service_code=code,
            service_name=form.title["ja"],
            description=form.description["ja"],
            group=form.open311_group,
            keywords=_keywords(form),
        )
        for code, form in _report_forms_by_code().items()
    ]


@dataclass(frozen=True)
class Listing:
    """One answer of requests.json, and where the list goes on (None: nothing follows)."""

    requests: list[dict[str, Any]]
    next_cursor: str | None = None


def requests(params: Mapping[str, str] | None, now: datetime | None = None) -> Listing:
    """requests.json: reports filtered by service_code, status and date range, newest first, one page.

    Reads only reports that can match: one service's from the `by-form` index, all of them from
    `by-kind`. A status filter is checked per report, so one request reads at most MAX_READ of
    them: where that ends the page early, `next_cursor` goes on from the last report read (the
    page-number semantics hold for every page that is reached within it)."""
    from chalicelib.store import submissions as store
    from chalicelib.store.models import Submission

    params = params or {}
    if params.get("service_request_id") is not None:
        return Listing(_by_ids(params["service_request_id"]))
    now = (now or datetime.now(UTC)).astimezone(UTC)
    problems: list[dict[str, str]] = []
    codes = _service_codes(params.get("service_code"), problems)
    wanted = _statuses(params.get("status"), problems)
    start, end = _date_range(params.get("start_date"), params.get("end_date"), now, problems)
    page_size = _integer(params.get("page_size"), "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, problems)
    page = _integer(params.get("page"), "page", 1, max(MAX_REACH // page_size, 1), problems)
    after, skipped = _position(params.get("cursor"), problems)
    if problems:
        raise rule.Malformed(
            "検索条件を確認してください。 / Please check the parameters.",
            code="invalid_parameter",
            details=problems,
        )

    skip = skipped + (page - 1) * page_size
    reach = skip + page_size
    index: Any = Submission.by_kind if codes is None else Submission.by_form
    by_code = _report_forms_by_code()
    partitions = [REPORT] if codes is None else sorted(by_code[code].id for code in codes)
    listing = store.NewestFirst(
        index,
        partitions,
        since=start,
        until=end,
        after=after,
        # Without a status filter every report read is listed: read no more than the page needs.
        chunk=READ_STEP if wanted is not None else min(reach, READ_STEP),
        max_read=MAX_READ,
    )
    found: list[Any] = []
    last = None
    for item in listing:
        last = item
        if start <= item.created_at <= end and (wanted is None or item.status in wanted):
            found.append(item)
            if len(found) == reach:
                break
    shown = found[skip:]
    next_cursor = None
    if last is not None and not listing.exhausted:
        # Whatever of the skip the reads did not reach is still to skip after the last report read.
        next_cursor = cursors.encode({"after": last.created_key, "skip": max(skip - len(found), 0)})
    # The index has no section (a projection cannot change on a deployed index): the section
    # now handling each, which a hand-over changes, in one batch read of keys and sections only.
    sections = store.sections_of([item.receipt for item in shown]) if shown else {}
    return Listing([_request(item, sections.get(item.receipt)) for item in shown], next_cursor)


MAX_IDS = 50  # service_request_id=a,b,...: one read each


def _by_ids(value: str) -> list[dict[str, Any]]:
    """service_request_id: the reports named (comma separated), in that order; it overrides the
    other parameters (GeoReport v2). An id that names no report is left out."""
    from chalicelib.store import submissions as store

    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids or len(ids) > MAX_IDS:
        raise rule.Malformed(
            "検索条件を確認してください。 / Please check the parameters.",
            code="invalid_parameter",
            details=[
                _problem(
                    "service_request_id",
                    f"受付番号を1〜{MAX_IDS}件、カンマで区切って指定してください。",
                    f"Give 1 to {MAX_IDS} request ids, separated by commas.",
                )
            ],
        )
    receipts = [receipt for part in ids if (receipt := normalize_receipt(part))]
    stored = store.get_many(receipts) if receipts else {}  # one round trip for up to 50
    named = (stored.get(receipt) for receipt in dict.fromkeys(receipts))
    return [_request(item, item.section) for item in named if item is not None and item.kind == REPORT]


def request(file_name: str) -> list[dict[str, Any]]:
    """requests/{id}.json: a list holding the one report; 404 for anything else."""
    from chalicelib.store import submissions as store

    receipt = normalize_receipt(file_name.removesuffix(".json")) if file_name.endswith(".json") else None
    item = store.get(receipt) if receipt else None
    if item is None or item.kind != REPORT:
        raise rule.NotFound(
            "指定された通報はありません。 / There is no report with this id.", code="request_not_found"
        )
    return [_request(item, item.section)]


# --- mapping -------------------------------------------------------------------------------------


def _request(item: Any, section_id: str | None) -> dict[str, Any]:
    """`section_id`: the section handling it now (the form's, unless it was handed over)."""
    form = forms.get_form(item.form_id)
    section = forms.sections().get(section_id or (form.section if form else ""))
    return to_open311_request(
        receipt=item.receipt,
        service_code=(form.open311_code if form else None) or item.form_id,
        service_name=form.title["ja"] if form else item.form_id,
        status=item.status,
        status_notes=None,  # never the resident's notes: they may address the resident by name
        created_at=item.created_at,
        updated_at=item.updated_at,
        latitude=_number(item.latitude),
        longitude=_number(item.longitude),
        address=None,
        area=_area_names().get(item.area) if item.area else None,
        agency_responsible=section["name"]["ja"] if section else None,
    )


def _number(value: Any) -> float | None:
    # DynamoDB numbers may come back as Decimal or int; the mapping rounds floats.
    return float(value) if value is not None else None


@cache
def _report_forms() -> dict[str, forms.FormDefinition]:
    return {form.id: form for form in forms.catalogue() if form.is_report and form.open311_code}


@cache
def _report_forms_by_code() -> dict[str, forms.FormDefinition]:
    return {form.open311_code: form for form in _report_forms().values() if form.open311_code}


@cache
def _area_names() -> dict[str, str]:
    return {area["id"]: area["ja"] for area in forms.areas()}


def _keywords(form: forms.FormDefinition) -> list[str]:
    """The Japanese labels of the report's category field (its first required choice, area aside)."""
    labels = form.meta["labels"]
    for name in form.schema.get("required", []):
        prop = form.schema["properties"].get(name, {})
        if name != "area" and "enum" in prop and "enumLabels" in labels.get(name, {}):
            return [labels[name]["enumLabels"][value]["ja"] for value in prop["enum"]]
    return []


# --- parameters ----------------------------------------------------------------------------------


def _problem(parameter: str, ja: str, en: str) -> dict[str, str]:
    return {"parameter": parameter, "message": f"{ja} / {en}"}


def _service_codes(value: str | None, problems: list[dict[str, str]]) -> set[str] | None:
    if value is None or not value.strip():
        return None
    codes = {code.strip() for code in value.split(",") if code.strip()}
    unknown = codes - set(_report_forms_by_code())
    if unknown or not codes:
        problems.append(
            _problem(
                "service_code",
                "service_code は services.json にあるコードをカンマ区切りで指定してください。",
                "service_code is a comma-separated list of codes from services.json.",
            )
        )
        return None
    return codes


def _position(value: str | None, problems: list[dict[str, str]]) -> tuple[str | None, int]:
    """A cursor this listing gave out: the created key of the last report it read and how many
    matching reports are still to be skipped after it. It names a place in time, nothing more:
    the filters come with the request, and a key only bounds the range read."""
    from chalicelib.store.submissions import CREATED_KEY

    if value is None or value == "":
        return None, 0
    try:
        position = cursors.decode(value, ("after", "skip"))
    except rule.InvalidCursor:
        position = {}
    after, skip = position.get("after"), position.get("skip")
    key = CREATED_KEY.fullmatch(after) if isinstance(after, str) else None
    if key and RECEIPT_PATTERN.fullmatch(key.group(1)) and type(skip) is int and 0 <= skip < MAX_REACH:
        return after, skip
    problems.append(
        _problem(
            "cursor",
            'cursor は前の応答の Link ヘッダー（rel="next"）のものをそのまま使ってください。',
            'cursor is the one in the previous answer\'s Link header (rel="next"), unchanged.',
        )
    )
    return None, 0


def _statuses(value: str | None, problems: list[dict[str, str]]) -> set[str] | None:
    if value is None or not value.strip():
        return None
    asked = {part.strip().lower() for part in value.split(",") if part.strip()}
    if not asked or asked - set(OPEN311_STATUSES):
        problems.append(
            _problem(
                "status",
                "status は open または closed です。",
                "status is open or closed (or both, comma-separated).",
            )
        )
        return None
    found: set[str] = set()
    if "open" in asked:
        found |= OPEN_STATUSES
    if "closed" in asked:
        found |= set(STATUSES) - OPEN_STATUSES
    return found


def _date_range(
    start_text: str | None, end_text: str | None, now: datetime, problems: list[dict[str, str]]
) -> tuple[datetime, datetime]:
    start = _instant(start_text, "start_date", problems)
    end = _instant(end_text, "end_date", problems, end_of_day=True)
    if start is None and end is None:
        return now - DEFAULT_WINDOW, now
    if end is None:
        # From start_date on, up to now (or 90 days on); a start in the future finds nothing.
        end = max(start, min(now, start + MAX_WINDOW)) if start is not None else now
    if start is None:
        start = end - DEFAULT_WINDOW
    if start > end:
        problems.append(
            _problem(
                "start_date",
                "start_date は end_date より前にしてください。",
                "start_date must be before end_date.",
            )
        )
    elif end - start > MAX_WINDOW:
        problems.append(
            _problem(
                "end_date",
                "検索できる期間は90日までです。",
                "The range from start_date to end_date may span at most 90 days.",
            )
        )
    return start, end


def _instant(
    text: str | None, name: str, problems: list[dict[str, str]], *, end_of_day: bool = False
) -> datetime | None:
    """An ISO 8601 date or date-time from 2000 to 2099 (`business_days.calendar_day`'s years: no
    arithmetic on it can overflow); without an offset it is Tokyo time. A date is its midnight,
    or for an end, its last instant: `end_date=2026-12-06` includes that day."""
    from chalicelib.domain.business_days import FIRST_DAY, LAST_DAY, calendar_day

    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        if len(value) == 10:
            day = calendar_day(value)
            if day is None:
                raise ValueError(value)
            parsed = datetime.combine(day, time(0), TOKYO)
            if end_of_day:
                parsed += timedelta(days=1, microseconds=-1)
        else:
            parsed = datetime.fromisoformat(value.replace(" ", "+"))  # a "+" in a query string arrives as " "
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=TOKYO)
            if not FIRST_DAY <= parsed.date() <= LAST_DAY:
                raise ValueError(value)
    except ValueError:
        problems.append(
            _problem(
                name,
                f"{name} は ISO 8601 の日時（例: 2026-11-01T00:00:00+09:00）で指定してください。",
                f"{name} must be an ISO 8601 date-time such as 2026-11-01T00:00:00+09:00.",
            )
        )
        return None
    return parsed.astimezone(UTC)


def _integer(
    value: str | None, name: str, default: int, maximum: int | None, problems: list[dict[str, str]]
) -> int:
    if value is None or value == "":
        return default
    number = whole_number(value) or 0
    if number < 1 or (maximum is not None and number > maximum):
        limit = f"1〜{maximum}" if maximum else "1以上"
        limit_en = f"from 1 to {maximum}" if maximum else "of at least 1"
        problems.append(
            _problem(name, f"{name} は{limit}の整数です。", f"{name} must be a whole number {limit_en}.")
        )
        return default
    return number
