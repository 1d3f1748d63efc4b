"""The daily email digest a section receives: what arrived, what is overdue, reports by area.

Pure rendering. The job gathers counts and receipts; this turns them into a subject, a plain
text body and a simple HTML body, Japanese first and English below. Only receipt numbers,
form titles, area names and counts go in: nothing that identifies a resident.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from chalicelib.domain.submissions import RECEIPT_PATTERN
from chalicelib.domain.ward import one_line, ward_name

# An email listing hundreds of receipts helps nobody; the rest are one click away.
OVERDUE_LIST_LIMIT = 50

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
    overdue: Sequence[tuple[str, str, int]],
    bookings: Sequence[Mapping[str, str]] = (),
) -> bool:
    """Nothing new, nothing overdue and no consultation booked: the section gets no email today."""
    return not overdue and not bookings and sum(_count(count, "count") for _, _, count in new_by_form) == 0


def render_digest(
    *,
    section_name: Mapping[str, str],
    day: date,
    new_by_form: Sequence[tuple[str, str, int]],
    overdue: Sequence[tuple[str, str, int]],
    reports_by_area: Sequence[tuple[str, int]],
    staff_api_base: str,
    bookings: Sequence[Mapping[str, str]] = (),
    bookings_day: date | None = None,
) -> Digest:
    """Render one section's digest for `day`.

    new_by_form: (title ja, title en, count) in the order to show, zero counts left out;
    overdue: (receipt, title ja, business days waiting), longest wait first, at most
    OVERDUE_LIST_LIMIT listed; reports_by_area: (町 name, count).
    """
    base = _base_url(staff_api_base)
    section = {
        lang: one_line(section_name.get(lang) or section_name.get("ja") or "") for lang in ("ja", "en")
    }
    ward = {lang: one_line(ward_name(lang)) for lang in ("ja", "en")}
    forms = [(one_line(ja), one_line(en or ja), _count(n, "count")) for ja, en, n in new_by_form]
    forms = [entry for entry in forms if entry[2] > 0]
    late = [
        (_receipt(receipt), one_line(title), _count(days, "days waiting")) for receipt, title, days in overdue
    ]
    late.sort(key=lambda entry: entry[2], reverse=True)
    areas = [(one_line(name), _count(n, "count")) for name, n in reports_by_area]
    areas = [entry for entry in areas if entry[1] > 0]
    total_new = sum(n for _, _, n in forms)

    links = {
        "received": f"{base}/staff/submissions?status=received",
        "overdue": f"{base}/staff/submissions?overdue=true",
    }
    subject = (
        f"【{ward['ja']}】{section['ja']} 受付状況 {day.month}月{day.day}日："
        f"新着{total_new}件・期限超過{len(late)}件"
        f" / {section['en']} digest {day.isoformat()}: {total_new} new, {len(late)} overdue"
    )
    parts = _Parts(base, ward, section, day, forms, late, areas, total_new, links)
    text, page = parts.text(), parts.html(subject)
    if bookings:  # consultations booked for the next business day (issue 15): no personal data
        text, page = _with_bookings(text, page, bookings, bookings_day or day, base)
    return Digest(subject=one_line(subject), text=text, html=page)


def _with_bookings(
    text: str, page: str, bookings: Sequence[Mapping[str, str]], day: date, base: str
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
    link = f"{base}/staff/consultations?date={day.isoformat()}"
    block = [f"■ 相談予約 {day.month}月{day.day}日 / Consultations booked for {day.isoformat()}: {len(rows)}"]
    block += [f"・{t} {svc}（{m[0]} / {m[1]}） {number}" for t, svc, m, number in rows]
    block += [f"  一覧 / List: {link}", ""]
    marker = "このメールは自動で送信しています。"
    text = text.replace(marker, "\n".join(block) + marker, 1)
    items = "".join(
        f"<li>{e(t)} {e(svc)}（{e(m[0])} / {e(m[1])}） {e(number)}</li>" for t, svc, m, number in rows
    )
    section = (
        f'<h2 style="font-size: 16px;">相談予約 {day.month}月{day.day}日 / Consultations booked: {len(rows)}</h2>'
        f"<ul>{items}</ul><p>{_a(link, '一覧を開く / Open the day view')}</p>\n"
    )
    page = page.replace(
        "<p>このメールは自動で送信しています。", section + "<p>このメールは自動で送信しています。", 1
    )
    return text, page


def _base_url(value: str) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not value.startswith(("https://", "http://")) or one_line(value) != value or " " in value:
        raise ValueError("staff_api_base must be an http(s) URL")
    return value.rstrip("/")


def _receipt(value: str) -> str:
    # Only receipt numbers may name a submission here; anything else could carry personal data.
    if not isinstance(value, str) or not RECEIPT_PATTERN.fullmatch(value):
        raise ValueError("overdue entries are listed by receipt number")
    return value


@dataclass(frozen=True)
class _Parts:
    base: str
    ward: dict[str, str]
    section: dict[str, str]
    day: date
    forms: list[tuple[str, str, int]]
    late: list[tuple[str, str, int]]
    areas: list[tuple[str, int]]
    total_new: int
    links: dict[str, str]

    def receipt_link(self, receipt: str) -> str:
        return f"{self.base}/staff/submissions/{quote(receipt, safe='')}"

    @property
    def shown_late(self) -> list[tuple[str, str, int]]:
        return self.late[:OVERDUE_LIST_LIMIT]

    @property
    def hidden_late(self) -> int:
        return max(0, len(self.late) - OVERDUE_LIST_LIMIT)

    def date_ja(self) -> str:
        return f"{self.day.year}年{self.day.month}月{self.day.day}日（{_WEEKDAYS_JA[self.day.weekday()]}）"

    def date_en(self) -> str:
        # Not strftime: its names follow the process locale.
        return f"{_WEEKDAYS_EN[self.day.weekday()]} {self.day.day} {_MONTHS_EN[self.day.month - 1]} {self.day.year}"

    # ----------------------------------------------------------------- plain text

    def text(self) -> str:
        lines = [f"{self.ward['ja']} {self.section['ja']} 受付状況のお知らせ {self.date_ja()}", ""]
        lines.append(f"■ 新着の受付（前回のお知らせ以降）: {self.total_new}件")
        lines += [f"・{ja}: {n}件" for ja, _, n in self.forms]
        lines += [f"  一覧: {self.links['received']}", ""]
        lines.append(f"■ 目標期間を過ぎているもの: {len(self.late)}件")
        for receipt, title, days in self.shown_late:
            lines.append(f"・{receipt} {title}（{days}開庁日経過）")
            lines.append(f"  {self.receipt_link(receipt)}")
        if self.hidden_late:
            lines.append(f"・ほか{self.hidden_late}件")
        lines += [f"  一覧: {self.links['overdue']}", ""]
        if self.areas:
            lines.append("■ 地域別の通報")
            lines += [f"・{name}: {n}件" for name, n in self.areas]
            lines.append("")
        lines += [
            "このメールは自動で送信しています。区民の方の個人情報は含みません。",
            "内容の確認には職員用APIへのログインが必要です。",
            "",
            "-" * 40,
            "",
            f"{self.ward['en']} — {self.section['en']}: daily digest, {self.date_en()}",
            "",
            f"■ New since the last digest: {self.total_new}",
        ]
        lines += [f"- {en}: {n}" for _, en, n in self.forms]
        lines += [f"  List: {self.links['received']}", ""]
        lines.append(f"■ Past the target time: {len(self.late)}")
        for receipt, title, days in self.shown_late:
            lines.append(f"- {receipt} {title} ({_days_en(days)} waiting)")
            lines.append(f"  {self.receipt_link(receipt)}")
        if self.hidden_late:
            lines.append(f"- and {self.hidden_late} more")
        lines += [f"  List: {self.links['overdue']}", ""]
        if self.areas:
            lines.append("■ Reports by area")
            lines += [f"- {name}: {n}" for name, n in self.areas]
            lines.append("")
        lines += [
            "This email is sent automatically and holds no personal data of residents.",
            "Opening the links requires signing in to the staff API.",
        ]
        return "\n".join(lines) + "\n"

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
            f'<h2 style="font-size: 16px;">新着の受付（前回のお知らせ以降）: {self.total_new}件</h2>',
        ]
        out += self._list([f"{e(ja)}: {n}件" for ja, _, n in self.forms])
        out.append(f"<p>{_a(self.links['received'], '一覧を開く')}</p>")
        out.append(f'<h2 style="font-size: 16px;">目標期間を過ぎているもの: {len(self.late)}件</h2>')
        items = [
            f"{_a(self.receipt_link(receipt), receipt)} {e(title)}（{days}開庁日経過）"
            for receipt, title, days in self.shown_late
        ]
        if self.hidden_late:
            items.append(f"ほか{self.hidden_late}件")
        out += self._list(items)
        out.append(f"<p>{_a(self.links['overdue'], '一覧を開く')}</p>")
        if self.areas:
            out.append('<h2 style="font-size: 16px;">地域別の通報</h2>')
            out += self._list([f"{e(name)}: {n}件" for name, n in self.areas])
        out += [
            "<p>このメールは自動で送信しています。区民の方の個人情報は含みません。"
            "内容の確認には職員用APIへのログインが必要です。</p>",
            "<hr>",
            '<div lang="en">',
            f'<h1 style="font-size: 20px;">{e(self.ward["en"])} — {e(self.section["en"])}: daily digest,'
            f" {e(self.date_en())}</h1>",
            f'<h2 style="font-size: 16px;">New since the last digest: {self.total_new}</h2>',
        ]
        out += self._list([f"{e(en)}: {n}" for _, en, n in self.forms])
        out.append(f"<p>{_a(self.links['received'], 'Open the list')}</p>")
        out.append(f'<h2 style="font-size: 16px;">Past the target time: {len(self.late)}</h2>')
        items = [
            f"{_a(self.receipt_link(receipt), receipt)} {e(title)} ({_days_en(days)} waiting)"
            for receipt, title, days in self.shown_late
        ]
        if self.hidden_late:
            items.append(f"and {self.hidden_late} more")
        out += self._list(items)
        out.append(f"<p>{_a(self.links['overdue'], 'Open the list')}</p>")
        if self.areas:
            out.append('<h2 style="font-size: 16px;">Reports by area</h2>')
            out += self._list([f"{e(name)}: {n}" for name, n in self.areas])
        out += [
            "<p>This email is sent automatically and holds no personal data of residents."
            " Opening the links requires signing in to the staff API.</p>",
            "</div>",
            "</body>",
            "</html>",
        ]
        return "\n".join(out) + "\n"

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
