"""Window congestion as open data: the CSV rows, with small cells suppressed. Pure.

Every cell (one office × line × day × hour) counting fewer than k tickets is suppressed with
all its statistics (primary suppression). Each day's total per line is published too, so a lone
suppressed hour could be rebuilt as total minus the others: the smallest published hours are
then suppressed as well, until the suppressed hours together count at least k tickets
(secondary suppression). A total under k suppresses the whole day of that line. A wait
statistic resting on fewer than k waits is suppressed too: the median of one wait is that
resident's wait. `published` is what the CSV shows; the public "best time to visit" is built from
it alone, so the status page and LINE tell nothing the CSV hides.
"""

from __future__ import annotations

import csv
import io
from typing import Any

MUNICIPALITY_CODE = "131229"  # 全国地方公共団体コード: 葛飾区
SUPPRESSED = "X"
COLUMNS = (
    "municipality_code",
    "date",
    "office",
    "service_line",
    "hour",
    "tickets_issued",
    "tickets_served",
    "median_wait_minutes",
    "p90_wait_minutes",
)
DICTIONARY = (
    (
        "municipality_code",
        "全国地方公共団体コード（葛飾区 131229） / Local government code (Katsushika 131229)",
        "string",
    ),
    ("date", "日付（日本時間、ISO 8601 YYYY-MM-DD） / Date (Japan time, ISO 8601)", "date"),
    ("office", "庁舎・区民事務所の識別子 / Office identifier", "string"),
    ("service_line", "窓口（業務）の識別子 / Service line identifier", "string"),
    (
        "hour",
        "整理券を発行した時（00-23、日本時間）。all は1日の合計 / Hour the ticket was issued (00-23, Japan time); all = the day's total",
        "string",
    ),
    ("tickets_issued", "発行された整理券の数 / Tickets issued", "integer"),
    ("tickets_served", "用件が終わった整理券の数 / Tickets served", "integer"),
    (
        "median_wait_minutes",
        "呼び出しまでの待ち時間の中央値（分） / Median wait until called (minutes)",
        "decimal",
    ),
    (
        "p90_wait_minutes",
        "呼び出しまでの待ち時間の90パーセンタイル（分） / 90th percentile wait until called (minutes)",
        "decimal",
    ),
)
LICENCE = (
    "このデータは公共データ利用規約（第1.0版）（PDL1.0）により利用できます（クリエイティブ・コモンズ 表示 4.0 国際 互換）。"
    " 整理券が{k}件未満のセルと、合計から逆算できるセルは「X」で秘匿しています。"
    " 待ち時間が{k}件未満の時間帯の待ち時間の統計も「X」です。"
    " / Licensed under the Public Data License 1.0 (PDL1.0), compatible with CC BY 4.0."
    ' Cells with fewer than {k} tickets, and cells that could be rebuilt from the totals, are suppressed as "X";'
    " so are the wait statistics of an hour with fewer than {k} waits."
)


def _total(hours: dict[str, dict[str, Any]]) -> dict[str, Any]:
    issued = sum(cell.get("issued", 0) for cell in hours.values())
    served = sum(cell.get("served", 0) for cell in hours.values())
    # Medians do not add up across hours; the day's total row carries counts only.
    return {"issued": issued, "served": served, "medianWait": None, "p90Wait": None}


def suppressed_hours(hours: dict[str, dict[str, Any]], k: int) -> set[str]:
    """The hours to suppress in one line's day (primary, then secondary suppression)."""
    counts = {hour: int(cell.get("issued", 0)) for hour, cell in hours.items()}
    total = sum(counts.values())
    if total < k:
        return set(counts)
    hidden = {hour for hour, n in counts.items() if n < k}
    while hidden and sum(counts[h] for h in hidden) < k or len(hidden) == 1:
        shown = sorted((n, hour) for hour, n in counts.items() if hour not in hidden)
        if not shown:
            break
        hidden.add(shown[0][1])
    return hidden


def published(hours: dict[str, dict[str, Any]], k: int) -> dict[str, dict[str, Any]]:
    """The hours of one line's day that the open data shows, and what it shows of each: the
    counts, and each wait statistic as a number, None (nobody waited) or SUPPRESSED (fewer than k
    waits; cells stored before waits were counted have none). Suppressed hours are absent."""
    hidden = suppressed_hours(hours, k)
    shown = {}
    for hour, cell in hours.items():
        if hour in hidden:
            continue
        few = int(cell.get("waits", 0)) < k
        shown[hour] = {
            "issued": int(cell.get("issued", 0)),
            "served": int(cell.get("served", 0)),
            **{
                name: SUPPRESSED if few and cell.get(name) is not None else cell.get(name)
                for name in ("medianWait", "p90Wait")
            },
        }
    return shown


def _wait(value: Any) -> str:
    if value is None or value == SUPPRESSED:
        return value or ""
    return f"{value:.1f}"


def rows(day: str, office: str, line: str, hours: dict[str, dict[str, Any]], k: int) -> list[list[str]]:
    shown = published(hours, k)
    total = _total(hours)
    entries = [
        *((hour, shown.get(hour)) for hour in sorted(hours)),
        ("all", total if total["issued"] >= k else None),
    ]
    found = []
    for hour, cell in entries:
        values = (
            [SUPPRESSED] * 4
            if cell is None
            else [str(cell["issued"]), str(cell["served"]), _wait(cell["medianWait"]), _wait(cell["p90Wait"])]
        )
        found.append([MUNICIPALITY_CODE, day, office, line, hour, *values])
    return found


def to_csv(table: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(table)
    return buffer.getvalue().encode("utf-8")


def dictionary_csv(k: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("column", "description", "type"))
    writer.writerows(DICTIONARY)
    writer.writerow(("_licence", LICENCE.format(k=k), ""))
    return buffer.getvalue().encode("utf-8")
