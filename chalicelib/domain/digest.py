"""The daily email digest a section receives: what arrived, what waits on whom, reports by area.

Pure rendering. The job gathers counts and receipts; this turns them into a subject, a plain
text body and a simple HTML body, Japanese first and English below (form titles and area
names in English there). Only receipt numbers, form titles, area names and counts go in:
nothing that identifies a resident.

Every count says what it counts, and its link opens exactly that list in the staff console
(`STAFF_CONSOLE_URL`: `<console>/submissions?<the staff API's list filters>` and
`<console>/submissions/<receipt>`). With no console configured the email names receipts
without links: a JSON API route is no use in a mail client.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote, urlencode

from chalicelib.domain.submissions import OPEN_STATUSES, RECEIPT_PATTERN, tokyo_iso
from chalicelib.domain.ward import one_line, ward_name

# An email listing hundreds of receipts helps nobody; the rest are one click away.
OVERDUE_LIST_LIMIT = 50

# "New" counts what arrived and is still wanted: withdrawn and rejected ones are left out.
NEW_STATUSES = ("received", "in_review", "needs_info", "completed")

_WEEKDAYS_JA = "月火水木金土日"
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# What each count means, said in the email itself.
_MEANING = {
    "urgent": (
        "区民の方が「危険がある」と答えた通報で、まだ終わっていないもの。",
        "Reports the resident marked as dangerous that are still open.",
    ),
    "new": (
        "前回のお知らせ以降に受け付けたもの（取り下げ・不受理になったものは含みません）。",
        "Received since the last digest, not counting any since withdrawn or rejected.",
    ),
    "handed": (
        "前回のお知らせ以降に、ほかの課からこの課へ引き継がれたもの（まだ終わっていないもの）。",
        "Handed to this section by another since the last digest, and still open.",
    ),
    "answered": (
        "追加の情報をお願いし、区民の方から回答があったもの（回答後、まだ状態を変えていないもの）。",
        "The resident answered our request for information, and nobody has moved it since.",
    ),
    "overdue": (
        "区が対応する番（受付済み・確認中）で、様式の目標日数（開庁日）を過ぎたもの。",
        "Waiting on the ward (received or in review) longer than the form's target (business days).",
    ),
    "waiting": (
        "区民の方の回答待ち（追加情報のお願い中）で、お願いしてから目標日数を過ぎたもの。",
        "Waiting for the resident's answer longer than the form's target since we asked.",
    ),
}


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer")
    return value


def is_empty(
    *,
    new_by_form: Sequence[tuple[str, str, int]],
    overdue: Sequence[tuple],
    answered: Sequence[tuple] = (),
    waiting: Sequence[tuple] = (),
    bookings: Sequence[Mapping[str, str]] = (),
    urgent: Sequence[tuple] = (),
    handed: Sequence[tuple] = (),
) -> bool:
    """Nothing new, urgent, handed over, answered, waiting too long or booked: no email today."""
    return (
        not overdue
        and not urgent
        and not handed
        and not answered
        and not waiting
        and not bookings
        and sum(_count(count, "count") for _, _, count in new_by_form) == 0
    )


@dataclass(frozen=True)
class _Item:
    """One submission named in the digest."""

    receipt: str
    title: tuple[str, str]  # ja, en
    days: int | None  # business days waiting; None where the wait is not the point


def _items(entries: Sequence[tuple], *, with_days: bool) -> list[_Item]:
    """(receipt, title ja, days[, title en]) or, without days, (receipt, title ja[, title en])."""
    items = []
    for entry in entries:
        receipt, title_ja, *rest = entry
        days = _count(rest.pop(0), "days waiting") if with_days else None
        title_en = rest[0] if rest else ""
        ja = one_line(title_ja)
        items.append(_Item(_receipt(receipt), (ja, one_line(title_en) or ja), days))
    return items


def render_digest(
    *,
    section_name: Mapping[str, str],
    day: date,
    new_by_form: Sequence[tuple[str, str, int]],
    overdue: Sequence[tuple],
    reports_by_area: Sequence[tuple],
    console_url: str | None,
    answered: Sequence[tuple] = (),
    waiting: Sequence[tuple] = (),
    new_since: datetime | None = None,
    new_until: datetime | None = None,
    bookings: Sequence[Mapping[str, str]] = (),
    bookings_day: date | None = None,
    payments_to_review: int = 0,
    urgent: Sequence[tuple] = (),
    handed: Sequence[tuple] = (),
) -> Digest:
    """Render one section's digest for `day`.

    new_by_form: (title ja, title en, count), zero counts left out; overdue: (receipt, title ja,
    business days waiting[, title en]), longest wait first, at most OVERDUE_LIST_LIMIT listed;
    answered, urgent (open reports marked dangerous, listed first) and handed (handed over by
    another section since the last digest): (receipt, title ja[, title en]); waiting: like overdue, for needs_info past its
    target; reports_by_area: (町 ja, 町 en, count) (or (name, count)). `new_since`/`new_until`
    bound the "new" list link. `payments_to_review` is counted in the subject, where a digest
    sent only for money to look at would otherwise read "0 new, 0 overdue, 0 answered".
    """
    base = _base_url(console_url)
    section = {
        lang: one_line(section_name.get(lang) or section_name.get("ja") or "") for lang in ("ja", "en")
    }
    ward = {lang: one_line(ward_name(lang)) for lang in ("ja", "en")}
    forms = [(one_line(ja), one_line(en or ja), _count(n, "count")) for ja, en, n in new_by_form]
    forms = [entry for entry in forms if entry[2] > 0]
    late = sorted(_items(overdue, with_days=True), key=lambda item: item.days or 0, reverse=True)
    stalled = sorted(_items(waiting, with_days=True), key=lambda item: item.days or 0, reverse=True)
    replied = _items(answered, with_days=False)
    danger = _items(urgent, with_days=False)
    given = _items(handed, with_days=False)
    areas = []
    for entry in reports_by_area:
        ja, *rest = entry
        n = rest[-1]
        en = rest[0] if len(rest) == 2 else ""
        areas.append((one_line(ja), one_line(en) or one_line(ja), _count(n, "count")))
    areas = [entry for entry in areas if entry[2] > 0]
    total_new = sum(n for _, _, n in forms)

    new_query: dict[str, str] = {"status": ",".join(NEW_STATUSES)}
    if new_since:
        new_query["from"] = tokyo_iso(new_since)
    if new_until:
        new_query["to"] = tokyo_iso(new_until)
    links = {
        "urgent": _list_link(base, {"urgent": "true", "status": ",".join(sorted(OPEN_STATUSES))}),
        "new": _list_link(base, new_query),
        "overdue": _list_link(base, {"overdue": "true"}),
        "answered": _list_link(base, {"responded": "true"}),
        "handed": None,  # no list filter says "handed over since": receipts are listed
        "waiting": None,  # no list filter says "past target since the request": receipts are listed
    }
    review = _count(payments_to_review, "payments to review")
    subject = (
        f"【{ward['ja']}】{section['ja']} 受付状況 {day.month}月{day.day}日："
        + (f"危険の通報{len(danger)}件・" if danger else "")
        + f"新着{total_new}件・"
        + (f"引き継ぎ{len(given)}件・" if given else "")
        + f"期限超過{len(late)}件・回答あり{len(replied)}件"
        + (f"・要確認の支払い{review}件" if review else "")
        + f" / {section['en']} digest {day.isoformat()}: "
        + (f"{len(danger)} dangerous, " if danger else "")
        + f"{total_new} new, "
        + (f"{len(given)} handed over, " if given else "")
        + f"{len(late)} overdue,"
        f" {len(replied)} answered" + (f", {review} payments to review" if review else "")
    )
    parts = _Parts(
        base, ward, section, day, forms, late, replied, stalled, areas, total_new, links, danger, given
    )
    text, page = parts.text(), parts.html(subject)
    if bookings:  # consultations booked for the next business day (issue 15): no personal data
        text, page = _with_bookings(text, page, bookings, bookings_day or day, base)
    return Digest(subject=one_line(subject), text=text, html=page)


def _with_bookings(
    text: str, page: str, bookings: Sequence[Mapping[str, str]], day: date, base: str | None
) -> tuple[str, str]:
    """The next business day's consultation bookings (time, service, mode, booking number)."""
    e = html.escape
    mode = {"in_person": ("窓口", "in person"), "online": ("オンライン", "online")}
    rows = [
        (
            one_line(b["time"]),
            one_line(b["service"]),
            mode.get(b["mode"], (b["mode"], b["mode"])),
            one_line(b["booking"]),
        )
        for b in bookings
    ]
    # The staff console's day view, when a console address is configured (like the receipt links).
    link = f"{base}/consultations?date={day.isoformat()}" if base else None
    block = [f"■ 相談予約 {day.month}月{day.day}日 / Consultations booked for {day.isoformat()}: {len(rows)}"]
    block += [f"・{t} {svc}（{m[0]} / {m[1]}） {number}" for t, svc, m, number in rows]
    block += [f"  一覧 / List: {link}", ""] if link else [""]
    marker = "このメールは自動で送信しています。"
    text = text.replace(marker, "\n".join(block) + marker, 1)
    items = "".join(
        f"<li>{e(t)} {e(svc)}（{e(m[0])} / {e(m[1])}） {e(number)}</li>" for t, svc, m, number in rows
    )
    section = (
        f'<h2 style="font-size: 16px;">相談予約 {day.month}月{day.day}日 / Consultations booked: {len(rows)}</h2>'
        f"<ul>{items}</ul>" + (f"<p>{_a(link, '一覧を開く / Open the day view')}</p>" if link else "") + "\n"
    )
    page = page.replace(
        "<p>このメールは自動で送信しています。", section + "<p>このメールは自動で送信しています。", 1
    )
    return text, page


def render_urgent_alert(
    *,
    section_name: Mapping[str, str],
    receipt: str,
    form_title: Mapping[str, str],
    area: tuple[str, str] | None,
    received_at: datetime,
    console_url: str | None,
) -> Digest:
    """The email a section gets at once when a report the resident marked dangerous arrives,
    not the next morning's digest. Like the digest: receipt, form, 町 and time, no personal data."""
    receipt = _receipt(receipt)
    base = _base_url(console_url)
    ward = {lang: one_line(ward_name(lang)) for lang in ("ja", "en")}
    section = {
        lang: one_line(section_name.get(lang) or section_name.get("ja") or "") for lang in ("ja", "en")
    }
    title = {lang: one_line(form_title.get(lang) or form_title.get("ja") or "") for lang in ("ja", "en")}
    subject = f"【{ward['ja']}・至急】危険があるとの通報（{receipt}） / Urgent: a report marked dangerous ({receipt})"
    lines = [
        f"{section['ja']} / {section['en']}",
        "",
        "人や車に危険があると回答された通報が届きました。早めに確認してください。",
        "A report the resident marked as dangerous has arrived: please look at it soon.",
        "",
        f"受付番号 / Receipt: {receipt}",
        f"種類 / Form: {title['ja']} / {title['en']}",
        f"地域 / Area: {one_line(area[0])} / {one_line(area[1])}" if area else "地域 / Area: -",
        f"受付日時 / Received: {tokyo_iso(received_at)}",
    ]
    link = f"{base}/submissions/{quote(receipt, safe='')}" if base else None
    if link:
        lines.append(f"職員画面 / Staff console: {link}")
    lines += [
        "",
        "場所・写真・連絡先は職員用APIで確認してください（このメールには個人情報を載せていません）。",
        "The place, photos and contact are in the staff API: this email carries no personal data.",
    ]
    text = "\n".join(lines)
    body = "".join(
        f'<p><a href="{html.escape(link)}">{html.escape(line)}</a></p>'
        if link and line.endswith(link)
        else f"<p>{html.escape(line)}</p>"
        for line in lines
        if line
    )
    page = f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{html.escape(subject)}</title></head><body>{body}</body></html>'
    return Digest(subject, text, page)


def _base_url(value: str | None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    value = value.strip() if isinstance(value, str) else ""
    if not value.startswith(("https://", "http://")) or one_line(value) != value or " " in value:
        raise ValueError("the staff console address must be an http(s) URL")
    return value.rstrip("/")


def _list_link(base: str | None, query: dict[str, str]) -> str | None:
    return f"{base}/submissions?{urlencode(query, safe=',:')}" if base else None


def _receipt(value: str) -> str:
    # Only receipt numbers may name a submission here; anything else could carry personal data.
    if not isinstance(value, str) or not RECEIPT_PATTERN.fullmatch(value):
        raise ValueError("submissions are listed by receipt number")
    return value


@dataclass(frozen=True)
class _Parts:
    base: str | None
    ward: dict[str, str]
    section: dict[str, str]
    day: date
    forms: list[tuple[str, str, int]]
    late: list[_Item]
    replied: list[_Item]
    stalled: list[_Item]
    areas: list[tuple[str, str, int]]
    total_new: int
    links: dict[str, str | None]
    danger: list[_Item]
    given: list[_Item]

    def receipt_link(self, receipt: str) -> str | None:
        return f"{self.base}/submissions/{quote(receipt, safe='')}" if self.base else None

    def date_ja(self) -> str:
        return f"{self.day.year}年{self.day.month}月{self.day.day}日（{_WEEKDAYS_JA[self.day.weekday()]}）"

    def date_en(self) -> str:
        # Not strftime: its names follow the process locale.
        return f"{_WEEKDAYS_EN[self.day.weekday()]} {self.day.day} {_MONTHS_EN[self.day.month - 1]} {self.day.year}"

    def _item_words(self, item: _Item, lang: int) -> str:
        title = item.title[lang]
        if item.days is None:
            return title
        return (
            f"{title}（{item.days}開庁日経過）" if lang == 0 else f"{title} ({_days_en(item.days)} waiting)"
        )

    def blocks(self, lang: int) -> list[tuple[str, str, list[tuple[str | None, str]], int, str | None]]:
        """(heading, meaning, [(receipt or None, words)], hidden count, list link) per section of the email."""
        ja = lang == 0
        out = []
        if self.danger:  # first: someone may get hurt
            out.append(
                self._listed("urgent", self.danger, "危険があるとの通報", "Reported as dangerous", lang)
            )
        heading = "新着の受付" if ja else "New since the last digest"
        rows: list[tuple[str | None, str]] = [
            (None, f"{title}: {n}件" if ja else f"{title}: {n}") for title, n in self._titles(lang)
        ]
        out.append((f"{heading}: {self.total_new}" + ("件" if ja else ""), "new", rows, 0, self.links["new"]))
        for key, items, heading_ja, heading_en in (
            ("handed", self.given, "ほかの課から引き継いだもの", "Handed over by another section"),
            ("answered", self.replied, "区民から回答があったもの", "Answered by the resident"),
            ("overdue", self.late, "目標期間を過ぎているもの", "Past the target time"),
            (
                "waiting",
                self.stalled,
                "区民の回答待ちで目標期間を過ぎたもの",
                "Waiting for the resident past the target",
            ),
        ):
            if key != "overdue" and not items:
                continue
            out.append(self._listed(key, items, heading_ja, heading_en, lang))
        return out

    def _listed(
        self, key: str, items: list[_Item], heading_ja: str, heading_en: str, lang: int
    ) -> tuple[str, str, list[tuple[str | None, str]], int, str | None]:
        """A block naming submissions by receipt, at most OVERDUE_LIST_LIMIT of them."""
        shown = items[:OVERDUE_LIST_LIMIT]
        rows: list[tuple[str | None, str]] = [(item.receipt, self._item_words(item, lang)) for item in shown]
        heading = f"{heading_ja}: {len(items)}件" if lang == 0 else f"{heading_en}: {len(items)}"
        return heading, key, rows, max(0, len(items) - OVERDUE_LIST_LIMIT), self.links[key]

    def _titles(self, lang: int) -> list[tuple[str, int]]:
        return [((ja, en)[lang], n) for ja, en, n in self.forms]

    # ----------------------------------------------------------------- plain text

    def text(self) -> str:
        lines = [f"{self.ward['ja']} {self.section['ja']} 受付状況のお知らせ {self.date_ja()}", ""]
        lines += self._text_half(0)
        lines += [
            "",
            "-" * 40,
            "",
            f"{self.ward['en']} — {self.section['en']}: daily digest, {self.date_en()}",
            "",
        ]
        lines += self._text_half(1)
        return "\n".join(lines) + "\n"

    def _text_half(self, lang: int) -> list[str]:
        ja = lang == 0
        bullet = "・" if ja else "- "
        lines = []
        for heading, key, rows, hidden, link in self.blocks(lang):
            lines.append(f"■ {heading}")
            lines.append(f"  {_MEANING[key][lang]}")
            for receipt, words in rows:
                lines.append(f"{bullet}{receipt} {words}" if receipt else f"{bullet}{words}")
                receipt_link = self.receipt_link(receipt) if receipt else None
                if receipt_link:
                    lines.append(f"  {receipt_link}")
            if hidden:
                lines.append(f"{bullet}ほか{hidden}件" if ja else f"{bullet}and {hidden} more")
            if link:
                lines.append(f"  {'一覧' if ja else 'List'}: {link}")
            lines.append("")
        if self.areas:
            lines.append("■ 地域別の通報" if ja else "■ Reports by area")
            lines += [
                f"{bullet}{(a_ja, a_en)[lang]}: {n}" + ("件" if ja else "") for a_ja, a_en, n in self.areas
            ]
            lines.append("")
        lines += self._footer(lang)
        return lines

    def _footer(self, lang: int) -> list[str]:
        if lang == 0:
            return [
                "このメールは自動で送信しています。区民の方の個人情報は含みません。",
                "リンク先は職員用コンソールです（ログインが必要です）。"
                if self.base
                else "職員用コンソールのアドレスが設定されていないため、リンクはありません。"
                "一覧は職員API（GET /staff/submissions、status などの絞り込み）で、各件は受付番号で開けます。",
            ]
        return [
            "This email is sent automatically and holds no personal data of residents.",
            "The links open the staff console (sign-in required)."
            if self.base
            else "No staff console address is configured, so there are no links: the staff API lists them"
            " (GET /staff/submissions, filtered by status and the like) and opens each by its receipt number.",
        ]

    # ----------------------------------------------------------------- HTML

    def html(self, subject: str) -> str:
        e = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="ja">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(one_line(subject))}</title>",
            "</head>",
            '<body style="font-family: sans-serif; line-height: 1.6; color: #1a1a1a;">',
            f'<h1 style="font-size: 20px;">{e(self.ward["ja"])} {e(self.section["ja"])} 受付状況のお知らせ'
            f" {e(self.date_ja())}</h1>",
        ]
        out += self._html_half(0)
        out += [
            "<hr>",
            '<div lang="en">',
            f'<h1 style="font-size: 20px;">{e(self.ward["en"])} — {e(self.section["en"])}: daily digest,'
            f" {e(self.date_en())}</h1>",
        ]
        out += self._html_half(1)
        out += ["</div>", "</body>", "</html>"]
        return "\n".join(out) + "\n"

    def _html_half(self, lang: int) -> list[str]:
        e = html.escape
        ja = lang == 0
        out = []
        for heading, key, rows, hidden, link in self.blocks(lang):
            out.append(f'<h2 style="font-size: 16px;">{e(heading)}</h2>')
            out.append(f"<p>{e(_MEANING[key][lang])}</p>")
            items = []
            for receipt, words in rows:
                if receipt:
                    receipt_link = self.receipt_link(receipt)
                    name = _a(receipt_link, receipt) if receipt_link else e(receipt)
                    items.append(f"{name} {e(words)}")
                else:
                    items.append(e(words))
            if hidden:
                items.append(f"ほか{hidden}件" if ja else f"and {hidden} more")
            out += self._list(items)
            if link:
                out.append(f"<p>{_a(link, '一覧を開く' if ja else 'Open the list')}</p>")
        if self.areas:
            out.append(f'<h2 style="font-size: 16px;">{"地域別の通報" if ja else "Reports by area"}</h2>')
            out += self._list(
                [f"{e((a_ja, a_en)[lang])}: {n}" + ("件" if ja else "") for a_ja, a_en, n in self.areas]
            )
        out.append("<p>" + "<br>".join(e(line) for line in self._footer(lang)) + "</p>")
        return out

    @staticmethod
    def _list(items: list[str]) -> list[str]:
        """`items` are already escaped HTML fragments."""
        if not items:
            return []
        return ["<ul>", *(f"<li>{item}</li>" for item in items), "</ul>"]


def _a(href: str, label: str) -> str:
    return f'<a href="{html.escape(href, quote=True)}">{html.escape(label)}</a>'


def _days_en(days: int) -> str:
    return f"{days} business day{'s' if days != 1 else ''}"
