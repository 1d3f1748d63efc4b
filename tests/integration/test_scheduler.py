"""The Scheduler adapter against moto's EventBridge Scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters import scheduler
from chalicelib.resources import CONSULTATIONS
from tests.integration.conftest import new_user_id


@pytest.fixture
def scheduler_role(client, monkeypatch):
    """The role Scheduler assumes (in AWS, the stack's): set here, not left to whichever stage
    settings an earlier test cached."""
    from chalicelib.config import get_settings

    monkeypatch.setenv("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/madoguchi-local-scheduler")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("SCHEDULER_ROLE_ARN")
    get_settings.cache_clear()


def test_a_schedule_deleted_between_exists_and_update_is_made_again(scheduler_role, monkeypatch):
    """An outside run: two moves of one booking at once; one's follow-up schedule was deleted by
    the other's between create's "it exists" and the update, and the move answered 503."""
    name = f"test-{new_user_id()[:20]}"
    at = datetime.now(UTC) + timedelta(hours=1)
    scheduler.schedule_message(name, at, CONSULTATIONS, {"n": 1})
    real_client = scheduler.client

    def racing_client(service: str):
        found = real_client(service)
        real_update = found.update_schedule

        def update_after_a_delete(**request):
            scheduler.delete(name)  # the other request's follow-up ran just now
            found.update_schedule = real_update
            return real_update(**request)

        found.update_schedule = update_after_a_delete
        return found

    monkeypatch.setattr(scheduler, "client", racing_client)
    scheduler.schedule_message(name, at + timedelta(minutes=5), CONSULTATIONS, {"n": 2})
    monkeypatch.setattr(scheduler, "client", real_client)
    stored = scheduler.describe(name)
    assert stored is not None and '"n":2' in stored["Target"]["Input"]


def test_a_schedule_that_keeps_changing_is_busy_not_an_error(scheduler_role, monkeypatch):
    """Three lost races in a row: "try again" (503 busy, a retried message), not a 500."""
    from chalicelib.domain.errors import Unavailable

    name = f"test-{new_user_id()[:20]}"
    at = datetime.now(UTC) + timedelta(hours=1)
    scheduler.schedule_message(name, at, CONSULTATIONS, {"n": 1})
    real_client = scheduler.client

    def always_racing(service: str):
        found = real_client(service)
        real_update = found.update_schedule

        def update_of_one_just_deleted(**request):  # it exists for create, and is gone for update
            return real_update(**{**request, "Name": f"{name}-deleted-meanwhile"})

        found.update_schedule = update_of_one_just_deleted
        return found

    monkeypatch.setattr(scheduler, "client", always_racing)
    with pytest.raises(Unavailable) as busy:
        scheduler.schedule_message(name, at + timedelta(minutes=5), CONSULTATIONS, {"n": 2})
    assert busy.value.code == "busy" and busy.value.transient


def test_the_local_pump_fires_the_others_when_one_vanishes_while_it_looks(scheduler_role, pump, monkeypatch):
    """An outside run: a follow-up deleted between the pump's listing and its read stopped the
    whole pass, so other due schedules (reminders, meeting links) waited a minute more."""
    import boto3

    from chalicelib.domain.consultations import new_booking_id

    first, second = (f"test-{new_user_id()[:20]}" for _ in range(2))
    at = datetime.now(UTC) + timedelta(hours=1)
    for name in (first, second):  # follow-ups of bookings that do not exist: they change nothing
        body = {"booking": new_booking_id(datetime.now(UTC)), "kind": "followup"}
        scheduler.schedule_message(name, at, CONSULTATIONS, body)
    real_client = boto3.client

    def racing_client(service: str, *args, **kwargs):
        found = real_client(service, *args, **kwargs)
        if service == "scheduler":
            real_get = found.get_schedule

            def get_after_a_delete(**request):
                if request["Name"] == first:
                    scheduler.delete(first)  # the app's follow-up, just now
                return real_get(**request)

            found.get_schedule = get_after_a_delete
        return found

    monkeypatch.setattr(boto3, "client", racing_client)
    fired = pump.fire_due_schedules(at + timedelta(minutes=1))
    monkeypatch.setattr(boto3, "client", real_client)
    assert fired >= 1 and scheduler.describe(second) is None  # fired, and deleted after
    pump.drain()
