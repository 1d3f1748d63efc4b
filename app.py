"""Chalice app: wiring only. Each route, queue and schedule calls one function in chalicelib.

Nothing heavy is imported here: the LINE webhook's cold start is what LINE waits on.
"""

import gc

# Start-up creates only objects that live as long as the process, so collecting garbage
# while importing is wasted work (~25 ms of the webhook's cold start). Collection comes
# back at the end of this module, with everything loaded so far frozen out of its sight.
gc.disable()

import uuid

from chalice import Chalice, Cron, Rate

from chalicelib.api import (
    announcements,
    consultations,
    forms,
    liff,
    line,
    open311,
    payments,
    responses,
    staff,
    submissions,
)
from chalicelib.api import queue as queue_api
from chalicelib.api.errors import (
    ApiError,
    answer_language,
    as_api_error,
    readable_json,
    with_route_cors,
    without_body,
)
from chalicelib.config import get_settings
from chalicelib.observability import flush_metrics, invocation, traced
from chalicelib.resources import (
    ANNOUNCE_COLLECT,
    ANNOUNCE_PLAN,
    ANNOUNCE_SEND,
    CONSULTATIONS,
    LINE_EVENTS,
    NOTIFICATIONS,
    PAYMENT_EVENTS,
    PAYMENT_NOTICES,
    QUEUE_EVENTS,
)
from chalicelib.web import pages as web_pages

# configure_logs=False: the Powertools logger (same name) is the only handler, so no line is doubled.
app = Chalice(app_name="madoguchi", configure_logs=False)
# A page's post with a photo (JavaScript off): API Gateway passes a body through unchanged only
# as a binary type (base64 to Lambda); as text it would be re-encoded and the photo's bytes lost.
app.api.binary_types.append("multipart/form-data")
app.register_blueprint(line.bp)
app.register_blueprint(forms.bp)
app.register_blueprint(submissions.bp)
app.register_blueprint(open311.bp)
app.register_blueprint(staff.bp)
app.register_blueprint(liff.bp)
app.register_blueprint(announcements.bp)
app.register_blueprint(web_pages.bp)  # resident web pages (/web): Jinja2 loads only when one is asked for
app.register_blueprint(responses.bp)
app.register_blueprint(consultations.bp)
app.register_blueprint(queue_api.bp)
app.register_blueprint(payments.bp)


@app.middleware("http")
def http_observability(event, get_response):
    context = event.context or {}
    # API Gateway's request id; chalice local has none, so make one: every line needs a correlation id.
    request_id = context.get("requestId") or str(uuid.uuid4())
    with invocation(request_id, path=context.get("resourcePath")):
        try:
            response = get_response(event)
        except ApiError as error:
            # Raised past Chalice, which adds a route's CORS headers only to what a view returns.
            # Its message is written here, in the language the caller asked for.
            response = with_route_cors(error.to_response(answer_language(event)), app.routes, context)
        finally:
            flush_metrics()
    response = readable_json(as_api_error(response, answer_language(event)))
    if response.status_code >= 500 and web_pages.is_page(context.get("resourcePath")):
        response = web_pages.failed_page(event) or response  # a resident's page, not the API's JSON
    return without_body(response, event.method)


def background_observability(event, get_response):
    """Workers and jobs: an X-Ray subsegment per invocation, and the metrics written at the end."""
    try:
        return traced(event.context.function_name, lambda: get_response(event))
    finally:
        flush_metrics()


app.register_middleware(background_observability, "sqs")
app.register_middleware(background_observability, "cloudwatch")


# Workers import their modules when they run: the worker pulls in line-bot-sdk.
@app.on_sqs_message(queue=get_settings().name(LINE_EVENTS.name), batch_size=LINE_EVENTS.batch_size)
def line_events_worker(event):
    from chalicelib.workers import line_events

    return line_events.handle_batch(event.to_dict()["Records"])


@app.schedule(Cron("*/5", "*", "*", "*", "?", "*"), name="dlq-watch")
def dlq_watch_job(event):
    from chalicelib.workers import dlq_watch

    return dlq_watch.run()


@app.on_sqs_message(queue=get_settings().name(NOTIFICATIONS.name), batch_size=NOTIFICATIONS.batch_size)
def notifications_worker(event):
    from chalicelib.workers import notifications

    return notifications.handle_batch(event.to_dict()["Records"])


# Weekdays 08:30 in Tokyo is 23:30 UTC the evening before, Sunday to Thursday.
@app.schedule(Cron(30, 23, "?", "*", "SUN-THU", "*"), name="daily-digest")
def daily_digest_job(event):
    from chalicelib.workers import digest

    # The time it was scheduled for, so a delayed or retried run counts for its own day.
    return digest.run(now=event.time)


# Weekdays 10:00 in Tokyo (01:00 UTC): one reminder to residents who have not answered "needs info".
@app.schedule(Cron(0, 1, "?", "*", "MON-FRI", "*"), name="needs-info-reminders")
def needs_info_reminders_job(event):
    from chalicelib.workers import responses

    return responses.run(now=event.time)


# Announcements: start a send, read one send list into chunks, send one chunk (services/fanout.py).
@app.on_sqs_message(queue=get_settings().name(ANNOUNCE_PLAN.name), batch_size=ANNOUNCE_PLAN.batch_size)
def announce_plan_worker(event):
    from chalicelib.workers import announcements as worker

    return worker.handle_plan_batch(event.to_dict()["Records"])


@app.on_sqs_message(queue=get_settings().name(ANNOUNCE_COLLECT.name), batch_size=ANNOUNCE_COLLECT.batch_size)
def announce_collect_worker(event):
    from chalicelib.workers import announcements as worker

    return worker.handle_collect_batch(event.to_dict()["Records"])


@app.on_sqs_message(queue=get_settings().name(ANNOUNCE_SEND.name), batch_size=ANNOUNCE_SEND.batch_size)
def announce_send_worker(event):
    from chalicelib.workers import announcements as worker

    return worker.handle_send_batch(event.to_dict()["Records"])


# Starts scheduled sends whose time has come and watches running ones. In AWS an EventBridge
# Scheduler one-time schedule is the precise trigger and this is the safety net; locally,
# where nothing fires those schedules, it is the trigger.
@app.schedule(Rate(1, unit=Rate.MINUTES), name="announce-due")
def announce_due_job(event):
    from chalicelib.workers import announcements as worker

    return worker.run_due(now=event.time)


# Consultation bookings: follow-up of each change, reminders and meeting links (one-time schedules).
@app.on_sqs_message(queue=get_settings().name(CONSULTATIONS.name), batch_size=CONSULTATIONS.batch_size)
def consultations_worker(event):
    from chalicelib.workers import consultations as worker

    return worker.handle_batch(event.to_dict()["Records"])


# Window queues (issue 14): ticket events applied per line; the night closes the day.
@app.on_sqs_message(queue=get_settings().name(QUEUE_EVENTS.name), batch_size=QUEUE_EVENTS.batch_size)
def queue_events_worker(event):
    from chalicelib.workers import queue as worker

    return worker.handle_batch(event.to_dict()["Records"])


# 23:30 in Tokyo (14:30 UTC), every day: close out, hourly history, profiles, open data.
@app.schedule(Cron(30, 14, "*", "*", "?", "*"), name="queue-nightly")
def queue_nightly_job(event):
    from chalicelib.workers import queue as worker

    return worker.run_nightly(now=event.time)


# Payments (issue 13): a provider webhook's hint -> ask the provider; a paid fee -> the receipt;
# the sweep asks about intents waiting over a minute and expires old ones; the nightly
# reconciliation runs at 02:00 Tokyo (17:00 UTC), after PayPay's 00:15 cancel cut-off.
@app.on_sqs_message(queue=get_settings().name(PAYMENT_EVENTS.name), batch_size=PAYMENT_EVENTS.batch_size)
def payment_events_worker(event):
    from chalicelib.workers import payments as worker

    return worker.handle_events_batch(event.to_dict()["Records"])


@app.on_sqs_message(queue=get_settings().name(PAYMENT_NOTICES.name), batch_size=PAYMENT_NOTICES.batch_size)
def payment_notices_worker(event):
    from chalicelib.workers import payments as worker

    return worker.handle_notices_batch(event.to_dict()["Records"])


@app.schedule(Rate(1, unit=Rate.MINUTES), name="payments-sweep")
def payments_sweep_job(event):
    from chalicelib.workers import payments as worker

    return worker.run_sweep(event.time)


@app.schedule(Cron(0, 17, "*", "*", "?", "*"), name="payments-reconcile")
def payments_reconcile_job(event):
    from chalicelib.workers import payments as worker

    return worker.run_reconcile(event.time)


# Submissions left unpaid past their form's days to pay are withdrawn (live intents ended at the
# provider first; the resident told once): daily at 09:00 Tokyo (00:00 UTC), so the message
# arrives in the morning.
@app.schedule(Cron(0, 0, "*", "*", "?", "*"), name="payments-unpaid")
def payments_unpaid_job(event):
    from chalicelib.workers import payments as worker

    return worker.run_withdrawals(event.time)


# End of start-up (see the top): what is loaded now stays, so later collections skip it.
gc.freeze()
gc.enable()
