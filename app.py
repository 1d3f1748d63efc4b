"""Chalice app: wiring only. Each route, queue and schedule calls one function in chalicelib.

Nothing heavy is imported here: the LINE webhook's cold start is what LINE waits on.
"""

import gc

# Start-up creates only objects that live as long as the process, so collecting garbage
# while importing is wasted work (~25 ms of the webhook's cold start). Collection comes
# back at the end of this module, with everything loaded so far frozen out of its sight.
gc.disable()

import uuid

from chalice import Chalice, Cron

from chalicelib.api import forms, liff, line, open311, staff, submissions
from chalicelib.api.errors import ApiError, as_api_error, with_route_cors
from chalicelib.config import get_settings
from chalicelib.observability import flush_metrics, invocation, traced
from chalicelib.resources import LINE_EVENTS, NOTIFICATIONS

# configure_logs=False: the Powertools logger (same name) is the only handler, so no line is doubled.
app = Chalice(app_name="madoguchi", configure_logs=False)
app.register_blueprint(line.bp)
app.register_blueprint(forms.bp)
app.register_blueprint(submissions.bp)
app.register_blueprint(open311.bp)
app.register_blueprint(staff.bp)
app.register_blueprint(liff.bp)


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
            response = with_route_cors(error.to_response(), app.routes, context)
        finally:
            flush_metrics()
    return as_api_error(response)


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


# End of start-up (see the top): what is loaded now stays, so later collections skip it.
gc.freeze()
gc.enable()
