"""What a clerk reads of the notices to a resident: per notice, the best its channels did."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain import notice_delivery as delivery

AT = datetime(2026, 12, 8, 0, 30, tzinfo=UTC)


def recorded(**channels: tuple[str, str | None]) -> dict[str, dict[str, str]]:
    """`v3_line=("failed", "dead_letter")` -> the map the worker writes."""
    return {
        delivery.key(int(name[1 : name.index("_")]), name[name.index("_") + 1 :]): delivery.outcome(
            "note_added", "received", state, AT, reason
        )
        for name, (state, reason) in channels.items()
    }


def states(shown: list[dict]) -> list[tuple[int, str]]:
    return [(notice["version"], notice["state"]) for notice in shown]


def test_a_notice_is_delivered_once_any_channel_delivered_it_and_failed_when_every_one_gave_up():
    shown = delivery.notices(
        recorded(
            v3_email=("delivered", None),
            v3_line=("failed", "dead_letter"),
            v5_line=("sending", None),
            v4_line=("failed", "refused"),
        )
    )
    assert states(shown) == [(3, "delivered"), (4, "failed"), (5, "sending")]
    assert shown[0]["channels"] == [
        {"channel": "email", "state": "delivered", "at": "2026-12-08T09:30:00+09:00"},
        {"channel": "line", "state": "failed", "at": "2026-12-08T09:30:00+09:00", "reason": "dead_letter"},
    ]
    assert delivery.resident_notified(shown) is False


def test_resident_notified_is_unknown_while_a_notice_is_tried_or_none_was_recorded():
    assert delivery.resident_notified(delivery.notices(None)) is None
    assert delivery.resident_notified(delivery.notices(recorded(v2_line=("sending", None)))) is None
    both = recorded(v1_line=("delivered", None), v2_email=("delivered", None))
    assert delivery.resident_notified(delivery.notices(both)) is True
