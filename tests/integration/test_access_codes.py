"""Access codes (issue 11, item 6): tries counted atomically, unknown and waiting receipts answered
alike with the same work, a per-receipt backoff with per-client limits, and LINE sign-in past it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from pynamodb.exceptions import PynamoDBException

from chalicelib.config import get_settings
from chalicelib.domain import errors as rule
from chalicelib.domain import messages
from chalicelib.domain import submissions as rules
from chalicelib.domain.forms import get_form
from chalicelib.services import access_codes as codes
from chalicelib.services import submissions as service
from chalicelib.store.models import AttemptCounter
from tests.integration.conftest import new_user_id


def create(client, *, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    form = get_form("opinion")
    response = client.http.post(
        f"/forms/{form.id}/submissions", body=json.dumps(form.example), headers=headers
    )
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def check(
    client, receipt: str, secret: str | None = None, token: str | None = None, language: str | None = None
):
    headers = {}
    if language is not None:
        headers["Accept-Language"] = language
    if secret is not None:
        headers["X-Access-Secret"] = secret
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.http.get(f"/submissions/{receipt}", headers=headers)


def has_backoff(receipt: str) -> bool:
    try:
        AttemptCounter.get(f"access-code#{receipt}", consistent_read=True)
    except AttemptCounter.DoesNotExist:
        return False
    return True


def unknown_receipt() -> str:
    while True:
        receipt = rules.new_receipt(datetime.now(UTC))
        if service.store.get(receipt) is None and not has_backoff(receipt):
            return receipt


@pytest.fixture
def scrypts(monkeypatch):
    """Every access-code hash computed, with the stored hash it was checked against."""
    seen: list[str] = []
    verify = rules.verify_secret

    def counting(secret: str, stored: str) -> bool:
        seen.append(stored)
        return verify(secret, stored)

    monkeypatch.setattr(rules, "verify_secret", counting)
    return seen


def test_forty_concurrent_guesses_evaluate_at_most_ten_codes(client, from_client, scrypts):
    created = create(client)
    stored = service.store.get(created["receipt"]).secret_hash

    def guess(n: int) -> str:
        try:
            service.for_resident(created["receipt"], f"AAAA-AA{n:02d}"[:9], client=f"203.0.113.{n}")
        except rule.NotFound:
            return "not found"
        except PynamoDBException:
            # The shared local stack can time out under 40 requests at once: a 5xx, nothing evaluated.
            return "unavailable"
        return "found"

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(guess, range(40)))
    assert "found" not in answers
    assert answers.count("not found") >= 20, answers
    evaluated = [s for s in scrypts if s == stored]
    assert 1 <= len(evaluated) <= 10
    assert len(scrypts) >= answers.count("not found")  # every answered request paid one scrypt


def test_waiting_and_unknown_receipts_answer_alike_and_pay_the_same_hash(client, from_client, scrypts):
    created = create(client)
    for _ in range(codes.FREE_WRONG_CODES):
        from_client()
        check(client, created["receipt"], "AAAA-AAAA")
    from_client()
    scrypts.clear()
    waiting = check(client, created["receipt"], created["accessSecret"])
    unknown = check(client, unknown_receipt(), created["accessSecret"])
    wrong = check(client, create(client)["receipt"], "AAAA-AAAA")
    assert waiting.status_code == unknown.status_code == wrong.status_code == 404
    assert waiting.body == unknown.body == wrong.body
    assert set(waiting.headers) - {"Date"} == set(unknown.headers) - {"Date"}
    assert len(scrypts) == 3  # the unknown receipt computed its hash too


def test_the_backoff_ends_and_the_right_code_then_works_and_starts_it_over(client, from_client):
    created = create(client)
    receipt = created["receipt"]
    for _ in range(codes.FREE_WRONG_CODES):
        assert check(client, receipt, "AAAA-AAAA").status_code == 404
    assert check(client, receipt, created["accessSecret"]).status_code == 404  # waiting
    # The wait is short (seconds to minutes), not an hour: let it pass.
    counter = AttemptCounter.get(f"access-code#{receipt}", consistent_read=True)
    assert counter.next_at - datetime.now(UTC) <= codes.FIRST_DELAY
    counter.update(actions=[AttemptCounter.next_at.set(datetime.now(UTC) - timedelta(seconds=1))])
    assert check(client, receipt, created["accessSecret"]).status_code == 200
    assert not has_backoff(receipt)


def test_the_backoff_doubles_up_to_its_ceiling():
    delays = [codes.delay_after(n) for n in range(1, 16)]
    assert delays[: codes.FREE_WRONG_CODES - 1] == [timedelta(0)] * (codes.FREE_WRONG_CODES - 1)
    assert delays[codes.FREE_WRONG_CODES - 1] == codes.FIRST_DELAY
    assert delays[codes.FREE_WRONG_CODES] == 2 * codes.FIRST_DELAY
    assert max(delays) == delays[-1] == codes.MAX_DELAY


def test_one_client_is_limited_across_receipts_and_another_is_not(client, from_client):
    receipts = [create(client)["receipt"] for _ in range(3)]
    for n in range(codes.CLIENT_WRONG_CODES):
        assert check(client, receipts[n % 3] if n % 2 else unknown_receipt(), "AAAA-AAAA").status_code == 404
    limited = check(client, receipts[0], "AAAA-AAAA", language="vi")
    assert limited.status_code == 429
    assert json.loads(limited.body)["error"]["code"] == "too_many_attempts"
    assert json.loads(limited.body)["error"]["message"] == messages.text("error.too_many_attempts", "vi")
    assert int(limited.headers["Retry-After"]) > 0
    from chalicelib.store import attempts

    # The window is a fixed hour: Retry-After is what is left of it, not a whole hour from now.
    now = datetime(2026, 12, 6, 2, 53, 20, tzinfo=UTC)
    assert attempts.seconds_left(now, timedelta(hours=1)) == 400
    assert attempts.seconds_left(now.replace(minute=0, second=0), timedelta(hours=1)) == 3600
    from_client()
    assert check(client, unknown_receipt(), "AAAA-AAAA").status_code == 404


def test_tries_a_waiting_receipt_turns_away_are_not_wrong_codes_of_the_client(client, from_client):
    """Only a checked code counts toward the client's hourly limit: the resident's own page
    polling a receipt that waits out its backoff must not lock the whole address out."""
    waiting = create(client)
    for _ in range(codes.FREE_WRONG_CODES):
        assert check(client, waiting["receipt"], "AAAA-AAAA").status_code == 404
    for _ in range(codes.CLIENT_WRONG_CODES):  # turned away unchecked: the right code too
        assert check(client, waiting["receipt"], waiting["accessSecret"]).status_code == 404
    other = create(client)
    assert check(client, other["receipt"], other["accessSecret"]).status_code == 200


def id_token(sandbox, user_id: str) -> str:
    return requests.post(
        f"{sandbox.base_url}/__sandbox/id-tokens",
        json={"sub": user_id, "aud": get_settings().line_login_channel_id},
        timeout=5,
    ).json()["idToken"]


def test_a_resident_linked_on_line_reaches_their_submission_whatever_the_backoff(
    client, from_client, sandbox
):
    owner, stranger = new_user_id(), new_user_id()
    created = create(client, token=id_token(sandbox, owner))
    for _ in range(codes.FREE_WRONG_CODES + 3):
        from_client()
        check(client, created["receipt"], "AAAA-AAAA")
    assert check(client, created["receipt"], created["accessSecret"]).status_code == 404  # waiting

    mine = check(client, created["receipt"], token=id_token(sandbox, owner))
    assert mine.status_code == 200
    assert json.loads(mine.body)["receipt"] == created["receipt"]
    not_theirs = check(client, created["receipt"], token=id_token(sandbox, stranger))
    assert not_theirs.status_code == 404
    assert check(client, created["receipt"], token="not-a-token").status_code == 401


@pytest.mark.parametrize(
    ("accept_language", "language"),
    [("ja", "ja"), ("en-US,en;q=0.9", "en"), ("vi-VN,vi;q=0.9,en;q=0.5", "vi"), (None, "ja")],
)
def test_a_wrong_code_is_answered_in_the_language_of_the_request(client, accept_language, language):
    receipt = create(client)["receipt"]

    wrong = check(client, receipt, "AAAA-AAAA", language=accept_language)

    assert wrong.status_code == 404  # the status and code clients rely on, in every language
    error = json.loads(wrong.body)["error"]
    assert error["code"] == "submission_not_found"
    assert error["message"] == messages.text("error.no_access", language)  # one language, not two
    assert wrong.headers["Content-Language"] == language


def test_the_same_wrong_code_reads_differently_in_each_language_only(client, from_client):
    receipt = create(client)["receipt"]
    bodies = {}
    for language in ("ja", "en", "vi"):
        from_client()
        bodies[language] = json.loads(check(client, receipt, "AAAA-AAAA", language=language).body)["error"]
    assert len({body["message"] for body in bodies.values()}) == 3
    assert {body["code"] for body in bodies.values()} == {"submission_not_found"}
    assert "受付番号" not in bodies["vi"]["message"] and " / " not in bodies["vi"]["message"]
    assert "receipt" not in bodies["ja"]["message"]
