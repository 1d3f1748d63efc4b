"""store/attempts.take_each: a place in each of a client's networks, or in none, each place
given back once; a place that cannot be given back stays taken, never an error (a review)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.store import attempts

HOUR = timedelta(hours=1)


def counters(monkeypatch, limits: dict[str, int], failing_give_back: str | None = None) -> dict[str, int]:
    """The counts the fakes of the two writes keep (the writes themselves are integration-tested)."""
    counts = dict.fromkeys(limits, 0)

    def take(subject, now, window, limit):
        if counts[subject] >= limit:
            return False
        counts[subject] += 1
        return True

    def give_back(subject, now, window):
        if subject == failing_give_back:
            raise RuntimeError("DynamoDB throttled")
        counts[subject] -= 1

    monkeypatch.setattr(attempts, "take", take)
    monkeypatch.setattr(attempts, "give_back", give_back)
    return counts


def test_a_full_network_takes_no_place_in_the_others(monkeypatch):
    counts = counters(monkeypatch, {"a": 20, "b": 60, "c": 0})
    assert attempts.take_each([("a", 20), ("b", 60), ("c", 0)], datetime.now(UTC), HOUR) is None
    assert counts == {"a": 0, "b": 0, "c": 0}
    assert attempts.take_each([("a", 20), ("b", 60)], datetime.now(UTC), HOUR) == ["a", "b"]


def test_a_give_back_that_fails_leaves_that_place_taken_and_gives_no_other_back_twice(monkeypatch):
    counts = counters(monkeypatch, {"a": 20, "b": 60, "c": 0}, failing_give_back="b")
    assert attempts.take_each([("a", 20), ("b", 60), ("c", 0)], datetime.now(UTC), HOUR) is None
    assert counts == {"a": 0, "b": 1, "c": 0}  # "a" back once, "b" left taken: never below zero
    # A right code's places given back: no error for it either (a review: a 500).
    assert attempts.take_each([("a", 20)], datetime.now(UTC), HOUR) == ["a"]
    attempts.give_back_each(["a", "b"], datetime.now(UTC), HOUR)
    assert counts == {"a": 0, "b": 1, "c": 0}
