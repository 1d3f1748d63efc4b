"""Paying a submission's fee: intents, confirmation with the provider, expiry, refunds, receipts.

The rule every path here keeps: nothing marks a payment paid but the provider's own answer to
Get Payment Details (PayPay) or a retrieved Checkout Session (Stripe), put in the intent's log;
the status is recomputed from the log (domain.payments.derive) and written conditionally, with
an audit entry. What follows a payment (the submission moves on, the other method's intent is
cancelled, the receipt is queued) is done from the derived state and recorded step by step, so
a worker that crashes anywhere and runs again finishes the job once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from chalicelib.adapters import queues
from chalicelib.adapters.provider_http import ProviderRejected, ProviderUnavailable
from chalicelib.config import get_settings
from chalicelib.domain import languages
from chalicelib.domain import payments as rules
from chalicelib.domain import submissions as submission_rules
from chalicelib.domain.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from chalicelib.domain.forms import FormDefinition, fee_for, get_form
from chalicelib.domain.messages import Text
from chalicelib.observability import logger, metrics
from chalicelib.resources import PAYMENT_NOTICES
from chalicelib.store import payments as store
from chalicelib.store import submissions as submission_store
from chalicelib.store.models import PaymentIntent, Submission

_NOT_FOUND = Text("error.wrong_code")


# --------------------------------------------------------------------------- access and fees


def resident_submission(
    receipt_text: str, *, secret: str | None, line_user_id: str | None, client: str = "unknown"
) -> Submission:
    """The submission, for whoever holds its access code or is its resident on LINE: the one
    access rule of every resident route (its limits and answers), services/submissions."""
    from chalicelib.services import submissions as submission_service

    return submission_service.resident_access(receipt_text, secret, client=client, line_user_id=line_user_id)


def plan_for(submission: Submission) -> tuple[FormDefinition, rules.FeePlan] | None:
    form = get_form(submission.form_id)
    if form is None:
        return None
    plan = rules.fee_plan(form.meta, submission.data or {}, fee_for(form, submission.data or {}))
    return (form, plan) if plan else None


def _intents(receipt: str) -> list[PaymentIntent]:
    """Every intent of the submission, read consistently through the slots (the index may lag)."""
    found = {intent.payment_id: intent for intent in store.for_receipt(receipt)}
    for method in rules.METHODS:
        live = store.slot(receipt, method).live_payment_id
        if live:
            intent = store.get(live)
            if intent is not None:
                found[live] = intent
    for payment_id in list(found):
        fresh = store.get(payment_id) if payment_id in found else None
        if fresh is not None:
            found[payment_id] = fresh
    return sorted(found.values(), key=lambda intent: intent.payment_id)


def paid_of(receipt: str) -> PaymentIntent | None:
    """The intent that paid the submission's fee (`rules.settles_fee`), if any."""
    return _paid(_intents(receipt))


def _settles(intent: PaymentIntent) -> bool:
    return rules.settles_fee(intent.status, intent.review_reasons)


def _paid(intents: list[PaymentIntent]) -> PaymentIntent | None:
    """Of the intents that paid the fee, the one standing (not refunded), else the first paid."""
    paid = [i for i in intents if _settles(i)]
    latest = datetime.max.replace(tzinfo=UTC)
    return min(
        paid, key=lambda i: (i.status != rules.COMPLETED, i.paid_at or latest, i.payment_id), default=None
    )


# --------------------------------------------------------------------------- starting a payment


def start(
    receipt_text: str,
    method: Any,
    *,
    secret: str | None = None,
    line_user_id: str | None = None,
    client: str = "unknown",
    language: str | None = None,
) -> dict:
    """Create or return the live intent for this submission and method (idempotent). `language`:
    the page the resident pays from, which the provider's return to the web keeps."""
    if method not in rules.METHODS:
        raise Invalid(Text("error.pay.invalid_method"), code="invalid_method")
    submission = resident_submission(receipt_text, secret=secret, line_user_id=line_user_id, client=client)
    found = plan_for(submission)
    if found is None:
        raise Conflict(Text("error.pay.no_fee"), code="no_fee")
    form, plan = found
    now = datetime.now(UTC)
    until = now + START_LEASE
    waited_until = now + START_WAIT
    while not store.take_start_lease(submission.receipt, now, until):
        if now >= waited_until:
            raise Unavailable(Text("error.busy"), retry_after=5)
        time.sleep(0.2)
        now = datetime.now(UTC)
        until = now + START_LEASE
    try:
        return _start_alone(submission, form, plan, method, language)
    finally:
        store.release_start_lease(submission.receipt, until)


def _start_alone(
    submission: Submission, form: FormDefinition, plan: rules.FeePlan, method: str, language: str | None
) -> dict:
    """start(), holding the submission's lease: PayPay and card asked at the same moment each
    ended the other's intent they saw, then opened their own, and both stayed payable."""
    intents = _intents(submission.receipt)
    if _paid(intents):
        raise Conflict(Text("error.pay.already_paid"), code="already_paid")
    if not rules.payable(plan, submission.status):
        raise Conflict(Text("error.pay.not_payable"), code="not_payable")
    # One way to pay open at a time: the other method's code or session ends first (at the
    # provider), so a resident who changes their mind cannot pay with both.
    others = [i for i in intents if i.method != method and i.status in rules.LIVE_STATUSES]
    if others:
        try:
            for other in others:
                _end(other, "resident")
        except ProviderUnavailable:
            raise Unavailable(Text("error.busy"), retry_after=5) from None
        if _paid(_intents(submission.receipt)):  # it had been paid meanwhile: nothing more to pay
            raise Conflict(Text("error.pay.already_paid"), code="already_paid")
    now = datetime.now(UTC)
    abandoned: set[str] = set()
    for _ in range(3):
        slot = store.slot(submission.receipt, method)
        live = _live_intent(slot.live_payment_id) if slot.live_payment_id else None
        if (
            live is not None
            and live.status in rules.LIVE_STATUSES
            and live.expires_at > now + timedelta(seconds=30)
        ):
            if live.payment_id not in abandoned:
                live = _wait_for_provider(live)
            if live.provider_ref:
                return intent_view(live)
            if live.payment_id not in abandoned:
                # Its creator crashed before storing the provider's answer: open it ourselves.
                opened = _open(live, form, language)
                if opened is not None:
                    return intent_view(opened)
                abandoned.add(live.payment_id)
        attempt = int(slot.attempt or 0) + 1
        payment_id = rules.payment_id(submission.receipt, method, attempt)
        if not store.take_attempt(slot, payment_id, attempt):
            continue  # another request took the slot first: return its intent on the next round
        intent = PaymentIntent(
            payment_id,
            receipt=submission.receipt,
            method=method,
            attempt=attempt,
            form_id=submission.form_id,
            section=submission.section,
            amount=plan.amount_yen,
            status=rules.CREATED,
            review_reasons=[],
            created_at=now,
            updated_at=now,
            expires_at=now + rules.INTENT_LIFETIME[method],
            pending_shard=store.PENDING_SHARD,
            pending_since=now.isoformat(),
            section_status=rules.listing_key(submission.section, rules.CREATED),
            status_since=now.isoformat(timespec="milliseconds"),
            revision=0,
        )
        store.insert(intent, store.Audit("resident", None, "created", now, to_status=rules.CREATED))
        if live is not None and not live.replaced_by:
            _mark_replaced(live, payment_id)
        opened = _open(store.get(payment_id) or intent, form, language)
        if opened is None:
            abandoned.add(payment_id)
            continue  # PayPay already had this merchantPaymentId (a lost answer): take the next one
        return intent_view(opened)
    raise Unavailable(Text("error.busy"), retry_after=5)


# A request opening an intent at the provider takes at most this long (3 tries of 5 s, backoff).
OPENING_TAKES = timedelta(seconds=20)
# One request at a time starts a payment of a submission: the lease outlasts a slow start (a
# request that died frees it then); another request waits this long for it, then answers "busy".
START_LEASE = OPENING_TAKES + timedelta(seconds=10)
START_WAIT = timedelta(seconds=8)


def _live_intent(payment_id: str) -> PaymentIntent | None:
    """The slot's intent; its creator takes the slot a moment before it writes the intent."""
    for _ in range(15):
        found = store.get(payment_id)
        if found is not None:
            return found
        time.sleep(0.2)
    return None  # the creator crashed between the two writes: a new attempt takes over


def _wait_for_provider(intent: PaymentIntent) -> PaymentIntent:
    """Another request is opening this intent right now: wait for its answer rather than race it."""
    while (
        not intent.provider_ref
        and not intent.opening_failed
        and datetime.now(UTC) - intent.created_at < OPENING_TAKES
    ):
        time.sleep(0.2)
        fresh = store.get(intent.payment_id)
        if fresh is None:
            break
        intent = fresh
    return intent


def _open(intent: PaymentIntent, form: FormDefinition, language: str | None) -> PaymentIntent | None:
    """Create the code / checkout session at the provider; None when PayPay says the id is taken."""
    settings = get_settings()

    def page(path: str) -> str:  # web/payment_pages.py, in the language the resident paid from
        return settings.web_page(path, language) if language else f"{settings.web_origin}/web{path}"

    done_url = page(f"/payments/{intent.receipt}/done")
    # What the payer sees on the provider's page: the form in their language, and the receipt.
    title = languages.pick(form.title, language) if language else form.title["ja"]
    description = f"{title} {intent.receipt}"[:80]
    try:
        if intent.method == rules.PAYPAY:
            from chalicelib.adapters import paypay

            data = paypay.client().create_code(
                intent.payment_id, int(intent.amount), description, intent.expires_at, done_url
            )
            actions = [
                PaymentIntent.provider_ref.set(data["codeId"]),
                PaymentIntent.pay_url.set(data["url"]),
            ]
            if data.get("deeplink"):
                actions.append(PaymentIntent.deeplink.set(str(data["deeplink"])))
        else:
            from chalicelib.adapters import stripe_checkout

            session = stripe_checkout.client().create_session(
                intent.payment_id,
                int(intent.amount),
                description,
                intent.expires_at,
                done_url,
                page(f"/payments/{intent.receipt}"),
                locale=stripe_checkout.locale_for(language),
            )
            actions = [
                PaymentIntent.provider_ref.set(session["id"]),
                PaymentIntent.pay_url.set(session["url"]),
            ]
    except ProviderRejected as error:
        if error.code == "DUPLICATE_DYNAMIC_QR_REQUEST":
            logger.warning(
                "merchantPaymentId already known to PayPay; a new attempt is made",
                extra={"payment_id": intent.payment_id},
            )
            _end_lost(intent)
            return None
        logger.error(
            "provider refused the payment",
            extra={"payment_id": intent.payment_id, "provider_code": error.code},
        )
        raise Unavailable(Text("error.pay.not_started")) from None
    except ProviderUnavailable:
        logger.warning("provider unavailable at create", extra={"payment_id": intent.payment_id})
        # Nobody is opening it any more: the resident's retry opens it at once instead of waiting.
        _write(intent, [PaymentIntent.opening_failed.set(True)], None)
        raise Unavailable(Text("error.busy"), retry_after=5) from None
    now = datetime.now(UTC)
    intent = _write(
        intent, [*actions, PaymentIntent.updated_at.set(now)], store.Audit("system", None, "opened", now)
    )
    store.append(intent.payment_id, rules.LogEntry(rules.AWAITING_PAYMENT, now), "create")
    return _recompute(intent, "create")


def _end_lost(intent: PaymentIntent) -> None:
    """A code PayPay made whose answer was lost: nobody has its link, yet it stayed open at PayPay
    and listed as a second live intent until its expiry. Cancel it now by our id (a payment
    with it would be reversed); with PayPay down, the sweep does so at its expiry."""
    try:
        _end(intent, "lost_answer")
    except ProviderUnavailable:
        logger.warning("provider unavailable ending a lost code", extra={"payment_id": intent.payment_id})


def _write(intent: PaymentIntent, actions: list[Any], audit: store.Audit | None) -> PaymentIntent:
    """A conditional update that re-reads and re-applies on a stale revision (actions are absolute)."""
    return _on_fresh(intent, lambda current: store.update(current, actions, audit))


def _ask_refund(intent: PaymentIntent, actions: list[Any], audit: store.Audit) -> PaymentIntent | None:
    """`_write` for the first refund request only: None when another request asked meanwhile
    (five at once: one refund and one trail entry, not five)."""
    return _on_fresh(
        intent,
        lambda current: None if current.refund_state is not None else store.update(current, actions, audit),
    )


_T = TypeVar("_T")


def _on_fresh(intent: PaymentIntent, write: Callable[[PaymentIntent], _T]) -> _T:
    """`write(intent)`, again on the intent read afresh each time its revision was stale."""
    for _ in range(5):
        try:
            return write(intent)
        except store.StaleIntent:
            fresh = store.get(intent.payment_id)
            assert fresh is not None  # noqa: S101
            intent = fresh
    raise Unavailable(Text("error.busy"))


def _mark_replaced(old: PaymentIntent, by: str) -> None:
    try:
        _write(
            old,
            [PaymentIntent.replaced_by.set(by)],
            store.Audit("system", None, "replaced", datetime.now(UTC), note=by),
        )
    except Unavailable:
        logger.warning("could not mark an intent replaced", extra={"payment_id": old.payment_id})


# --------------------------------------------------------------------------- confirmation


def confirm(payment_id: str, source: str) -> PaymentIntent | None:
    """Ask the provider about the intent, record what it confirms, recompute, follow up."""
    intent = store.get(payment_id)
    if intent is None:
        logger.info("confirmation for an unknown payment ignored", extra={"payment_id": payment_id})
        return None
    for entry in provider_states(intent, datetime.now(UTC)):
        store.append(intent.payment_id, entry, source)
    intent = _recompute(intent, source)
    follow_up(intent)
    return intent


def provider_states(intent: PaymentIntent, now: datetime) -> list[rules.LogEntry]:
    if intent.method == rules.PAYPAY:
        from chalicelib.adapters import paypay

        client = paypay.client()
        found = rules.paypay_states(client.payment_details(intent.payment_id), now=now)
        if intent.refund_state in ("requested", "done"):
            found += rules.paypay_refund_states(
                client.refund_details(rules.refund_id(intent.payment_id)), now=now
            )
        return found
    if not intent.provider_ref:
        return []  # the session was never created: nothing can have been paid
    from chalicelib.adapters import stripe_checkout

    return rules.stripe_states(stripe_checkout.client().retrieve_session(intent.provider_ref), now=now)


def _recompute(intent: PaymentIntent, source: str) -> PaymentIntent:
    for _ in range(5):
        derived = rules.derive(store.log(intent.payment_id), int(intent.amount))
        status, reasons = derived.status, list(derived.reasons)
        if derived.paid and _paid_elsewhere_first(intent, derived):
            reasons.append(rules.REVIEW_PAID_AFTER_REPLACED)  # kept once refunded, like the others
            if status == rules.COMPLETED:
                status = rules.NEEDS_REVIEW
        if derived.paid and _paid_after_close(intent):
            reasons.append(rules.REVIEW_SUBMISSION_CLOSED)
            if status != rules.REFUNDED:  # refunded: the money is back, the reason stays on record
                status = rules.NEEDS_REVIEW
        now = datetime.now(UTC)
        actions: list[Any] = []
        if status != intent.status or reasons != list(intent.review_reasons or []):
            actions += [
                PaymentIntent.status.set(status),
                PaymentIntent.review_reasons.set(cast(Any, reasons)),
            ]
        listed = rules.listed_as(status, intent.refund_state)
        if rules.listing_key(intent.section, listed) != intent.section_status:
            actions += store.listing_actions(intent.section, listed, now)
        if derived.paid and intent.paid_at is None and derived.paid_at is not None:
            actions += [
                PaymentIntent.paid_at.set(derived.paid_at),
                PaymentIntent.paid_day.set(rules.tokyo_day(derived.paid_at)),
                PaymentIntent.paid_amount.set(derived.amount_paid),
                PaymentIntent.provider_payment_id.set(derived.provider_payment_id),
            ]
        if derived.refunded_at and intent.refunded_at is None:
            actions += [
                PaymentIntent.refunded_at.set(derived.refunded_at),
                PaymentIntent.refund_state.set("done"),
            ]
        # The sweep asks about intents still waiting for the resident, and refunds not yet done.
        follow = status in rules.LIVE_STATUSES or (
            intent.refund_state == "requested" and status != rules.REFUNDED
        )
        if follow and not intent.pending_shard:
            actions += [
                PaymentIntent.pending_shard.set(store.PENDING_SHARD),
                PaymentIntent.pending_since.set(now.isoformat()),
            ]
        elif not follow and intent.pending_shard:
            actions += [PaymentIntent.pending_shard.remove(), PaymentIntent.pending_since.remove()]
        if not actions:
            return intent
        actions.append(PaymentIntent.updated_at.set(now))
        audit = store.Audit("system", source, "status", now, intent.status, status, ",".join(reasons) or None)
        try:
            updated = store.update(intent, actions, audit)
        except store.StaleIntent:
            fresh = store.get(intent.payment_id)
            assert fresh is not None  # noqa: S101
            intent = fresh
            continue
        if status != intent.status:
            logger.info(
                "payment status",
                extra={
                    "payment_id": intent.payment_id,
                    "from": intent.status,
                    "to": status,
                    "source": source,
                },
            )
            metrics.add_metric(name=f"Payments_{status}", unit="Count", value=1)
            if status == rules.NEEDS_REVIEW:
                # The alarm: a person must look (refund a late payment, check an amount).
                logger.warning(
                    "payment needs review", extra={"payment_id": intent.payment_id, "reasons": reasons}
                )
                metrics.add_metric(name="PaymentsNeedingReview", unit="Count", value=1)
        return updated
    raise Unavailable(Text("error.busy"))


def _paid_after_close(intent: PaymentIntent) -> bool:
    """The payment was first confirmed when its submission was already withdrawn or rejected.

    Decided once, when the payment is first seen (a submission withdrawn by its resident after
    paying is a plain refund case, not this), and kept on the intent's reasons from then on.
    """
    if rules.REVIEW_SUBMISSION_CLOSED in (intent.review_reasons or []):
        return True
    if intent.paid_at is not None:
        return False
    submission = submission_store.get(intent.receipt)
    return submission is not None and submission.status in (
        submission_rules.WITHDRAWN,
        submission_rules.REJECTED,
    )


def _paid_elsewhere_first(intent: PaymentIntent, derived: rules.Derived) -> bool:
    """Another intent of the same submission paid the fee before this one (the resident paid
    twice); money under review there (another amount, say) paid nothing."""
    mine = (derived.paid_at or datetime.max.replace(tzinfo=UTC), intent.payment_id)
    for other in _intents(intent.receipt):
        if other.payment_id == intent.payment_id or other.paid_at is None:
            continue
        if _settles(other) and (other.paid_at, other.payment_id) < mine:
            return True
    return False


def follow_up(intent: PaymentIntent) -> None:
    """What a payment of the fee sets off, each step recorded once it is done. Money under
    review moves nothing, nor does its refund: it never paid the fee; the resident is told of
    both (before, only a return to the payment page said so)."""
    intent = _tell_of_money_held(intent)
    if not _settles(intent):
        return
    now = datetime.now(UTC)
    if not intent.submission_moved:
        # The other method first: paid earlier with its news still on the way, it is the fee,
        # and this one, recomputed, is the second payment (flagged for refund).
        _cancel_siblings(intent)
        intent = _recompute(store.get(intent.payment_id) or intent, "sibling_paid")
        if not _settles(intent):
            return
        _move_submission(intent)
        intent = _write(intent, [PaymentIntent.submission_moved.set(True)], None)
    if not intent.receipt_queued and intent.status == rules.COMPLETED:
        if queues.send_all(PAYMENT_NOTICES, [(intent.payment_id, {"paymentId": intent.payment_id})]):
            raise Unavailable(Text("error.busy"))  # the receipt could not be queued: try again
        _write(
            intent,
            [PaymentIntent.receipt_queued.set(True)],
            store.Audit("system", None, "receipt_queued", now),
        )


def _tell_of_money_held(intent: PaymentIntent) -> PaymentIntent:
    """Queue, once each, the notice that money did not pay the fee (held for review) and the
    notice of a refund (payment_receipts.send_notice)."""
    due = []
    if intent.status == rules.NEEDS_REVIEW and intent.paid_at is not None and not intent.held_notice_queued:
        due.append(("held", PaymentIntent.held_notice_queued))
    if intent.refund_state == "done" and not intent.refund_notice_queued:
        due.append(("refunded", PaymentIntent.refund_notice_queued))
    for notice, flag in due:
        body = {"paymentId": intent.payment_id, "notice": notice}
        if queues.send_all(PAYMENT_NOTICES, [(f"{intent.payment_id}-{notice}", body)]):
            raise Unavailable(Text("error.busy"))  # not queued: the next confirmation tries again
        intent = _write(
            intent,
            [flag.set(True)],
            store.Audit("system", None, f"{notice}_notice_queued", datetime.now(UTC)),
        )
    return intent


def _move_submission(intent: PaymentIntent) -> None:
    submission = submission_store.get(intent.receipt)
    if submission is None:
        return
    now = datetime.now(UTC)
    note = f"fee paid: {intent.payment_id} {intent.paid_amount} JPY ({intent.method})"
    if submission.status == submission_rules.AWAITING_PAYMENT:
        from chalicelib.services import submissions as submission_service

        try:
            submission_service.move(
                submission,
                submission_rules.RECEIVED,
                actor=submission_rules.Actor(submission_rules.SYSTEM, "payments"),
                note=note,
                visibility="internal",
            )
        except Conflict:  # a concurrent move (or one that no longer applies): read again
            fresh = submission_store.get(intent.receipt)
            if fresh is not None and fresh.status == submission_rules.AWAITING_PAYMENT:
                raise
    elif (found := plan_for(submission)) is not None and found[1].timing == rules.AFTER_APPROVAL:
        # After-approval fees: the section sees the payment in the submission's trail.
        submission_store.record(
            intent.receipt,
            submission_store.Audit("system", "payments", "note", now, note=note, note_visibility="internal"),
        )


def _cancel_siblings(paid: PaymentIntent) -> None:
    """The other method's live intent can no longer be paid once this one is."""
    for other in _intents(paid.receipt):
        if other.payment_id != paid.payment_id and other.status in rules.LIVE_STATUSES:
            _end(other, "sibling_paid")


def _end(intent: PaymentIntent, source: str) -> None:
    """End a live intent: at the provider first, then ask once more (a payment made meanwhile,
    or made earlier with its news still on the way, is kept and followed up), and only if the
    provider still says unpaid, record `canceled`: never "cancelled" for money it took."""
    _end_at_provider(intent)
    confirmed = confirm(intent.payment_id, source)
    if confirmed is not None and confirmed.status in rules.LIVE_STATUSES:
        store.append(intent.payment_id, rules.LogEntry(rules.CANCELED, datetime.now(UTC)), source)
        _recompute(confirmed, source)


def _end_at_provider(intent: PaymentIntent) -> None:
    """Make the code / session unpayable: PayPay deletes the code (or, its codeId never learnt,
    cancels the payment by our id: a code made under a lost answer), Stripe expires the session
    (one whose id we never learnt has a link nobody was given, and a retry gets it back: its
    creation is keyed by our id)."""
    if not intent.provider_ref and intent.method != rules.PAYPAY:
        return
    try:
        if intent.method == rules.PAYPAY:
            from chalicelib.adapters import paypay

            if intent.provider_ref:
                paypay.client().delete_code(intent.provider_ref)
            else:
                paypay.client().cancel_payment(intent.payment_id)
        else:
            from chalicelib.adapters import stripe_checkout

            stripe_checkout.client().expire_session(intent.provider_ref)
    except ProviderRejected as error:
        logger.info(
            "provider would not end the intent",
            extra={"payment_id": intent.payment_id, "provider_code": error.code},
        )


# --------------------------------------------------------------------------- the sweep


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Ask about every intent waiting longer than a minute; expire those past their expiry."""
    now = now or datetime.now(UTC)
    counts = {"checked": 0, "expired": 0, "failed": 0}
    for payment_id in list(store.pending(now - rules.POLL_AFTER)):
        counts["checked"] += 1
        try:
            intent = confirm(payment_id, "sweep")
            if intent is not None and intent.status in rules.LIVE_STATUSES and now >= intent.expires_at:
                expire(intent)
                counts["expired"] += 1
        except Exception as error:  # one intent must never stop the sweep for the others
            counts["failed"] += 1
            logger.warning(
                "sweep could not check a payment",
                extra={"payment_id": payment_id, "error": type(error).__name__},
            )
    metrics.add_metric(name="PaymentsSweepChecked", unit="Count", value=counts["checked"])
    return counts


def expire(intent: PaymentIntent) -> PaymentIntent | None:
    """Delete the code first (so nobody can pay it from now on), ask once more, then mark it expired."""
    _end_at_provider(intent)
    confirmed = confirm(intent.payment_id, "sweep")
    if confirmed is not None and confirmed.status in rules.LIVE_STATUSES:
        store.append(intent.payment_id, rules.LogEntry(rules.EXPIRED, datetime.now(UTC)), "sweep")
        confirmed = _recompute(confirmed, "sweep")
    return confirmed


# The log's source for intents ended because their submission closed (`end_if_unpayable`).
CLOSED_SOURCE = "submission_closed"


def end_live_intents(receipt: str, source: str) -> list[PaymentIntent]:
    """Make every intent of the submission that could still be paid unpayable, as expiry does:
    end it at the provider first (PayPay code deleted, Stripe session expired), ask once more (a
    payment made at the last second is kept and followed up), then record `canceled`.

    ProviderUnavailable propagates before anything is recorded for that intent: nothing is
    marked cancelled that the provider might still take. Returns every intent as it now stands.
    """
    for intent in _intents(receipt):
        if intent.status in rules.LIVE_STATUSES:
            _end(intent, source)
    return _intents(receipt)


def _refund_due_on_close(receipt: str) -> None:
    """The fee was paid, then the submission withdrawn or rejected: what it paid for will not be
    done, so the money goes back. Flagged for the section like money paid after the end
    (`submission_closed`, which `_recompute` keeps from then on), and shown to the resident as held."""
    for _ in range(3):
        paid = _paid(_intents(receipt))
        if paid is None or paid.status != rules.COMPLETED:
            return  # nothing paid, or its money already on the way back
        now = datetime.now(UTC)
        reasons = [*(paid.review_reasons or []), rules.REVIEW_SUBMISSION_CLOSED]
        actions = [
            PaymentIntent.status.set(rules.NEEDS_REVIEW),
            PaymentIntent.review_reasons.set(cast(Any, reasons)),
            *store.listing_actions(paid.section, rules.NEEDS_REVIEW, now),
            PaymentIntent.updated_at.set(now),
        ]
        audit = store.Audit(
            "system",
            CLOSED_SOURCE,
            "status",
            now,
            paid.status,
            rules.NEEDS_REVIEW,
            rules.REVIEW_SUBMISSION_CLOSED,
        )
        try:
            store.update(paid, actions, audit)
        except store.StaleIntent:
            continue
        logger.warning("a paid fee's submission closed: refund due", extra={"payment_id": paid.payment_id})
        metrics.add_metric(name="PaymentsNeedingReview", unit="Count", value=1)
        return


def end_if_unpayable(submission: Submission, status: str) -> None:
    """After `submission` moved to `status`: if its fee can no longer be paid there (withdrawn,
    rejected), no provider may take money for it, so its live intents end as expiry ends them.
    Best effort, after the move: a provider out of reach leaves the code or session to expire,
    and a payment made meanwhile is flagged for a refund (`submission_closed`), as is a fee paid
    before the submission was withdrawn or rejected."""
    if status not in submission_rules.TERMINAL_STATUSES:
        return  # a payment moving it on (awaiting_payment -> received) ends the others itself
    if status in (submission_rules.WITHDRAWN, submission_rules.REJECTED):
        _refund_due_on_close(submission.receipt)
    found = plan_for(submission)
    if found is None or rules.payable(found[1], status):
        return
    try:
        end_live_intents(submission.receipt, CLOSED_SOURCE)
    except ProviderUnavailable:
        logger.warning("a closed submission's payment could not be ended; it expires on its own")


# --------------------------------------------------------------------------- refunds


def _still_being_handled(receipt: str) -> bool:
    submission = submission_store.get(receipt)
    return submission is not None and submission.status not in submission_rules.TERMINAL_STATUSES


def request_refund(payment_id: str, staff: Any, reason: Any) -> dict[str, Any]:
    """Section staff ask for a full refund; above the threshold a supervisor approves it first."""
    intent = _staff_intent(payment_id, staff)
    try:
        cleaned = rules.check_refund_reason(reason)
    except rules.PaymentRuleError as error:
        raise Invalid(str(error), code="invalid_reason") from None
    if intent.refund_state in ("awaiting_approval", "requested", "done"):
        if intent.refund_state == "requested":
            return staff_view(_execute_refund(intent, staff.staff_id))
        return staff_view(intent)
    if intent.paid_at is None or intent.status not in (rules.COMPLETED, rules.NEEDS_REVIEW):
        raise Conflict(
            "この支払いは返金できません。 / This payment cannot be refunded.", code="not_refundable"
        )
    if _settles(intent) and _still_being_handled(intent.receipt):
        # Refunded, the fee would be unpaid while the request goes on to be served as paid.
        raise Conflict(
            "申請は手続き中です。取り下げ・不受理にしてから返金してください（返金待ちに載ります）。"
            " / The request is still being handled: withdraw or reject it first (it is then listed"
            " as a refund due).",
            code="submission_open",
        )
    now = datetime.now(UTC)
    # Four eyes above the threshold, whoever asks: a supervisor's own request too.
    if rules.needs_approval(
        rules.refund_yen(intent.paid_amount, intent.amount), get_settings().refund_approval_yen
    ):
        awaiting = _ask_refund(
            intent,
            [
                PaymentIntent.refund_state.set("awaiting_approval"),
                PaymentIntent.refund_reason.set(cleaned),
                PaymentIntent.refund_requested_by.set(staff.staff_id),
                *store.listing_actions(intent.section, rules.REFUND_APPROVAL, now),
            ],
            store.Audit("staff", staff.staff_id, "refund_asked", now, note=cleaned),
        )
        return staff_view(awaiting or _staff_intent(payment_id, staff))
    asked = _ask_refund(
        intent,
        [
            PaymentIntent.refund_state.set("requested"),
            PaymentIntent.refund_reason.set(cleaned),
            PaymentIntent.refund_requested_by.set(staff.staff_id),
        ],
        store.Audit("staff", staff.staff_id, "refund_requested", now, note=cleaned),
    )
    if asked is None:  # another request asked first: that refund, as it stands
        return staff_view(_staff_intent(payment_id, staff))
    return staff_view(_execute_refund(asked, staff.staff_id))


def approve_refund(payment_id: str, staff: Any) -> dict[str, Any]:
    if "supervisor" not in staff.roles:
        raise Forbidden(
            "返金を承認できるのは supervisor だけです。 / Only a supervisor may approve a refund."
        )
    intent = _staff_intent(payment_id, staff)
    if intent.refund_state != "awaiting_approval":
        if intent.refund_state == "requested":
            return staff_view(_execute_refund(intent, staff.staff_id))
        if intent.refund_state == "done" and intent.refund_approved_by:  # a retry: approved already
            return staff_view(intent)
        raise Conflict(
            "承認待ちの返金はありません。 / No refund is waiting for approval.", code="nothing_to_approve"
        )
    if intent.refund_requested_by == staff.staff_id:
        raise Forbidden(
            "返金を依頼した人は承認できません。 / The person who asked for a refund cannot approve it."
        )
    now = datetime.now(UTC)
    intent = _write(
        intent,
        [
            PaymentIntent.refund_state.set("requested"),
            PaymentIntent.refund_approved_by.set(staff.staff_id),
            *store.listing_actions(intent.section, intent.status, now),  # off the approval list
        ],
        store.Audit("staff", staff.staff_id, "refund_approved", now),
    )
    return staff_view(_execute_refund(intent, staff.staff_id))


def _execute_refund(intent: PaymentIntent, staff_id: str) -> PaymentIntent:
    """Ask the provider for the refund under its fixed id (a retry is the same refund), then confirm."""
    refund = rules.refund_id(intent.payment_id)
    amount = rules.refund_yen(intent.paid_amount, intent.amount)
    try:
        if intent.method == rules.PAYPAY:
            from chalicelib.adapters import paypay

            paypay.client().refund(
                refund, intent.provider_payment_id or "", amount, intent.refund_reason or ""
            )
        else:
            from chalicelib.adapters import stripe_checkout

            stripe_checkout.client().refund(
                intent.provider_payment_id or "", amount, refund, intent.refund_reason or ""
            )
    except ProviderUnavailable:
        raise Unavailable(
            "決済事業者が応答しません。もう一度どうぞ（返金番号は変わりません）。"
            " / The provider did not answer; ask again (the refund id stays the same).",
            retry_after=30,
        ) from None
    except ProviderRejected as error:
        if error.code not in ("charge_already_refunded",):
            raise Conflict(
                f"決済事業者が返金を断りました（{error.code}）。 / The provider refused the refund ({error.code}).",
                code="refund_refused",
            ) from None
    store.record(
        intent.payment_id, store.Audit("staff", staff_id, "refund_sent", datetime.now(UTC), note=refund)
    )
    return confirm(intent.payment_id, "refund") or intent


def _staff_intent(payment_id: str, staff: Any) -> PaymentIntent:
    intent = store.get(payment_id)
    # Another section's payment is "not found": its existence is not this section's business.
    if intent is None or intent.section != staff.section:
        raise NotFound(
            "所属の課にこの支払いはありません。 / No such payment in your section.", code="payment_not_found"
        )
    return intent


# --------------------------------------------------------------------------- views


def _tokyo(value: datetime | None) -> str | None:
    return submission_rules.tokyo_iso(value) if value else None


def intent_view(intent: PaymentIntent) -> dict[str, Any]:
    """What the resident's page needs for one intent (no provider secrets, no card data)."""
    view: dict[str, Any] = {
        "paymentId": intent.payment_id,
        "method": intent.method,
        "status": intent.status,
        "amountYen": int(intent.amount),
        "expiresAt": _tokyo(intent.expires_at),
    }
    if intent.status in rules.LIVE_STATUSES:
        view["payUrl"] = intent.pay_url
        if intent.method == rules.PAYPAY:
            view["deeplink"] = intent.deeplink
    if intent.paid_at:
        view["paidAt"] = _tokyo(intent.paid_at)
        view["providerPaymentId"] = intent.provider_payment_id
        if _settles(intent):  # money that never paid the fee has no receipt (receipt_for: 409)
            view["receiptUrl"] = f"/payments/{intent.payment_id}/receipt"
    return view


def resident_view(
    receipt_text: str, *, secret: str | None = None, line_user_id: str | None = None, client: str = "unknown"
) -> dict[str, Any]:
    submission = resident_submission(receipt_text, secret=secret, line_user_id=line_user_id, client=client)
    return payment_view(submission)


def payment_view(submission: Submission) -> dict[str, Any]:
    """What a submission owes and where its payment stands: the resident's payment route, and
    the staff view of the submission (which is never completed unseen unpaid)."""
    found = plan_for(submission)
    intents = _intents(submission.receipt)
    paid = _paid(intents)
    if found is None:
        return {"receipt": submission.receipt, "required": False, "state": "not_required"}
    _form, plan = found
    if paid:
        state = "paid"
    elif rules.payable(plan, submission.status):
        state = "payable"
    else:  # withdrawn or rejected: never payable again
        closed = submission.status in submission_rules.TERMINAL_STATUSES
        state = "closed" if closed else "not_yet_payable"
    if paid and paid.status == rules.REFUNDED:
        state = "refunded"
    return {
        "receipt": submission.receipt,
        "required": True,
        "state": state,
        "amountYen": plan.amount_yen,
        "timing": plan.timing,
        "submissionStatus": submission.status,
        "methods": list(rules.METHODS),
        "live": [intent_view(i) for i in intents if i.status in rules.LIVE_STATUSES],
        "paid": intent_view(paid) if paid else None,
        "held": [_held_view(i) for i in intents if i.paid_at is not None and not _settles(i)],
    }


def _held_view(intent: PaymentIntent) -> dict[str, Any]:
    """Money taken that did not pay the fee (another amount, a second payment, paid after the
    end), as the resident is told of it: it goes back to them, and where that stands."""
    if intent.status == rules.REFUNDED or intent.refund_state == "done":
        refund = "refunded"
    elif intent.refund_state == "requested":
        refund = "refunding"
    else:
        refund = "checking"
    return {
        "paymentId": intent.payment_id,
        "method": intent.method,
        "amountYen": rules.refund_yen(intent.paid_amount, intent.amount),
        "paidAt": _tokyo(intent.paid_at),
        "refund": refund,
    }


def staff_view(intent: PaymentIntent) -> dict[str, Any]:
    return {
        **intent_view(intent),
        "receipt": intent.receipt,
        "formId": intent.form_id,
        "section": intent.section,
        "reviewReasons": list(intent.review_reasons or []),
        "replacedBy": intent.replaced_by,
        # What the provider took (another amount is why some are under review), as the list says.
        "paidAmountYen": int(intent.paid_amount) if intent.paid_amount is not None else None,
        "refund": {
            "state": intent.refund_state,
            "id": rules.refund_id(intent.payment_id) if intent.refund_state else None,
            "amountYen": rules.refund_yen(intent.paid_amount, intent.amount) if intent.refund_state else None,
            "reason": intent.refund_reason,
            "requestedBy": intent.refund_requested_by,
            "approvedBy": intent.refund_approved_by,
            "refundedAt": _tokyo(intent.refunded_at),
        },
        "createdAt": _tokyo(intent.created_at),
        "updatedAt": _tokyo(intent.updated_at),
    }


def staff_payment(payment_id: str, staff: Any) -> dict[str, Any]:
    intent = _staff_intent(payment_id, staff)
    view = staff_view(intent)
    view["log"] = [
        {
            "key": item.entry_key,
            "at": _tokyo(item.at),
            "state": item.state,
            "source": item.source,
            "action": item.action,
            "actor": item.actor_id,
            "from": item.from_status,
            "to": item.to_status,
            "note": item.note,
        }
        for item in store.trail(payment_id)
    ]
    return view


def staff_payments_of(receipt: str, staff: Any) -> list[dict[str, Any]]:
    submission = submission_store.get(receipt)
    if submission is None or submission.section != staff.section:
        raise NotFound(
            "所属の課にこの申請はありません。 / No such submission in your section.",
            code="submission_not_found",
        )
    return [staff_view(intent) for intent in _intents(receipt)]


def receipt_for(
    payment_id: str, secret: str | None, line_user_id: str | None = None, client: str = "unknown"
) -> tuple[PaymentIntent, Submission]:
    """The paid intent and its submission, for the holder of the submission's access code.

    The code is checked first, on the receipt inside the id: without it, no answer may tell
    whether a payment exists. Money under review (the wrong amount, a second payment to go back)
    has no receipt until staff settle it."""
    submission = resident_submission(
        rules.receipt_of(payment_id), secret=secret, line_user_id=line_user_id, client=client
    )
    intent = store.get(payment_id)
    if intent is None or intent.receipt != submission.receipt:
        raise NotFound(_NOT_FOUND, code="payment_not_found")
    if intent.paid_at is not None and not _settles(intent):
        # Money taken that is not the fee: said so, not "not confirmed yet" (the resident paid).
        if intent.status == rules.REFUNDED:
            raise Conflict(Text("error.pay.refunded"), code="payment_refunded")
        raise Conflict(Text("error.pay.under_review"), code="payment_under_review")
    if intent.paid_at is None or intent.status not in (rules.COMPLETED, rules.REFUNDED):
        raise Conflict(Text("error.pay.not_paid"), code="not_paid")
    return intent, submission
