"""Open311 GeoReport v2 read view of reports: services, requests and one request, as JSON.

Public and anonymous, like the forms catalogue: the shapes live in services/open311.py,
which publishes nothing that points at a person. Answers may be cached for a minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

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

    params: Mapping[str, str] = bp.current_request.query_params or {}
    listing = open311.requests(params)
    if listing.next_cursor is None:
        return _answer(listing.requests)
    # The body stays GeoReport's bare list: the next page is a link (RFC 8288), relative to this
    # path, with the same filters and the cursor in place of the page number.
    query = {name: value for name, value in params.items() if name not in ("page", "cursor")}
    link = f'<requests.json?{urlencode({**query, "cursor": listing.next_cursor})}>; rel="next"'
    return _answer(listing.requests, {"Link": link, "Access-Control-Expose-Headers": "Link"})


# API Gateway matches whole path segments only, so `{id}.json` is one parameter ending in ".json".
@bp.route("/open311/v2/requests/{requestFile}", methods=["GET"])
def open311_request(requestFile: str) -> Response:  # camelCase: Chalice passes the URL parameter by its name
    from chalicelib.services import open311

    return _answer(open311.request(requestFile))


def _answer(body: Any, headers: dict[str, str] | None = None) -> Response:
    # Open data: any web page may read it.
    return json_response(
        body,
        headers={"Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*", **(headers or {})},
    )
