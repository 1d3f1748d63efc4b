"""`inbox.once`: the claim, release and mark every once-only worker shares (issue 11, item 10).

The ledger's conditional writes are exercised over the local stack (tests/integration/
test_line_worker.py); here the three primitives are an in-memory ledger with the same rules,
so the helper's sequencing is checked on its own: what the body sees, and what is left behind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.store import inbox

NOW = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


class Ledger:
    """claim / release / mark_processed with the inbox's rules, on a dict."""

    def __init__(self) -> None:
        self.claimed_until: dict[str, datetime] = {}
        self.processed: set[str] = set()

    def claim(self, key: str, now: datetime, lease: timedelta) -> inbox.Claim:
        if key in self.processed:
            return inbox.Claim.DONE
        if key in self.claimed_until and self.claimed_until[key] >= now:
            return inbox.Claim.BUSY
        self.claimed_until[key] = now + lease
        return inbox.Claim.CLAIMED

    def release(self, key: str) -> None:
        self.claimed_until.pop(key, None)

    def mark_processed(self, key: str, now: datetime) -> None:
        self.processed.add(key)
        self.claimed_until.pop(key, None)


@pytest.fixture
def ledger(monkeypatch) -> Ledger:
    fake = Ledger()
    monkeypatch.setattr(inbox, "claim", fake.claim)
    monkeypatch.setattr(inbox, "release", fake.release)
    monkeypatch.setattr(inbox, "mark_processed", fake.mark_processed)
    return fake


class Boom(Exception):
    pass


def test_a_claimed_key_runs_the_body_and_is_then_done(ledger):
    ran = []
    with inbox.once("k", NOW, LEASE) as claim:
        assert claim is inbox.Claim.CLAIMED
        ran.append(1)
    assert ran == [1]
    assert ledger.processed == {"k"}
    assert "k" not in ledger.claimed_until


def test_a_duplicate_is_told_done_and_nothing_is_written(ledger):
    with inbox.once("k", NOW, LEASE):
        pass
    with inbox.once("k", NOW + timedelta(hours=1), LEASE) as claim:
        assert claim is inbox.Claim.DONE
    assert ledger.processed == {"k"}


def test_work_in_progress_elsewhere_raises_busy_before_the_body(ledger):
    ledger.claim("k", NOW, LEASE)  # another worker holds it
    with pytest.raises(inbox.Busy), inbox.once("k", NOW, LEASE):
        pytest.fail("the body must not run while another worker holds the key")
    assert ledger.claimed_until["k"] == NOW + LEASE  # the other worker's lease is untouched
    assert ledger.processed == set()


def test_a_job_may_be_told_busy_instead_and_leaves_the_lease_alone(ledger):
    ledger.claim("k", NOW, LEASE)
    with inbox.once("k", NOW, LEASE, raise_if_busy=False) as claim:
        assert claim is inbox.Claim.BUSY
    assert ledger.claimed_until["k"] == NOW + LEASE
    assert ledger.processed == set()


def test_a_failing_body_releases_the_key_so_the_next_delivery_runs_at_once(ledger):
    with pytest.raises(Boom), inbox.once("k", NOW, LEASE):
        raise Boom
    assert ledger.processed == set()
    assert "k" not in ledger.claimed_until
    with inbox.once("k", NOW, LEASE) as claim:  # no wait for the lease
        assert claim is inbox.Claim.CLAIMED
    assert ledger.processed == {"k"}


def test_a_body_that_returns_early_has_still_done_its_work(ledger):
    def work() -> str:
        with inbox.once("k", NOW, LEASE) as claim:
            if claim is inbox.Claim.CLAIMED:
                return "sent"
        return "skipped"

    assert work() == "sent"
    assert work() == "skipped"
    assert ledger.processed == {"k"}


def test_a_failed_mark_is_not_turned_into_a_release(ledger, monkeypatch):
    # The work is done; its effects are safe to repeat, but not at once: the key waits for its lease.
    monkeypatch.setattr(inbox, "mark_processed", lambda key, now: (_ for _ in ()).throw(Boom()))
    with pytest.raises(Boom), inbox.once("k", NOW, LEASE):
        pass
    assert ledger.claimed_until["k"] == NOW + LEASE
