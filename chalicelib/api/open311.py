"""Open311 GeoReport v2 read view of reports: services, requests and one request, as JSON.

Public and anonymous, like the forms catalogue: the shapes live in services/open311.py,
which publishes nothing that points at a person. Answers may be cached for a minute.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.errors import ApiBlueprint, json_response

bp = ApiBlueprint(__name__)

CACHE_CONTROL = "public, max-age=60"

# Handlers import the service when they run, to keep it off the webhook's cold start.


@bp.route("/open311/v2/services.json", methods=["GET"])
def open311_services() -> Response:
    from chalicelib.services import open311

    return _answer(open311.services())


@bp.route("/open311/v2/requests.json", methods=["GET"])
def open311_requests() -> Response:
    from chalicelib.services import open311

    return _answer(open311.requests(bp.current_request.query_params))


# API Gateway matches whole path segments only, so `{id}.json` is one parameter ending in ".json".
@bp.route("/open311/v2/requests/{requestFile}", methods=["GET"])
def open311_request(requestFile: str) -> Response:  # camelCase: Chalice passes the URL parameter by its name
    from chalicelib.services import open311

    return _answer(open311.request(requestFile))


def _answer(body: Any) -> Response:
    # Open data: any web page may read it.
    return json_response(body, headers={"Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*"})
