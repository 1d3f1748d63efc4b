"""docs/runbook.md's table of scheduled jobs says what app.py schedules, and when."""

from __future__ import annotations

import re
from pathlib import Path

from chalice.app import ScheduledEventConfig

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"


def test_the_runbooks_jobs_are_the_apps_schedules_with_their_expressions():
    from app import app

    scheduled = {
        source.name: source.schedule_expression
        if isinstance(source.schedule_expression, str)
        else source.schedule_expression.to_string()
        for source in app.event_sources
        if isinstance(source, ScheduledEventConfig)
    }
    rows = re.findall(
        r"^\| `([a-z-]+)` \| `((?:cron|rate)\([^`]*\))` \|", RUNBOOK.read_text(encoding="utf-8"), re.M
    )
    assert dict(rows) == scheduled
    assert len(rows) == len(scheduled)  # each job once
