"""Random JSON thrown at the submission route never gets a 5xx (property-based, over the local stack)."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.forms import catalogue

FORM_IDS = [form.id for form in catalogue()]
EXAMPLES = {form.id: form.example for form in catalogue()}

# Values JSON can carry (json.dumps writes inf as "Infinity", which is not JSON: a 400, tested apart).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)


@st.composite
def mutated_examples(draw):
    """A form's own example with some fields replaced by random values, dropped or added."""
    form_id = draw(st.sampled_from(FORM_IDS))
    document = copy.deepcopy(EXAMPLES[form_id])
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(sorted(document) or ["x"]))
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            document[key] = draw(json_values)
        elif action == "drop":
            document.pop(key, None)
        else:
            document[draw(st.text(max_size=8))] = draw(json_values)
    return form_id, document


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(case=mutated_examples())
def test_mutated_examples_never_cause_a_5xx(client, case):
    form_id, document = case
    response = client.http.post(
        f"/forms/{form_id}/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.body
    assert response.status_code in (201, 422), response.body


@SETTINGS
@given(form_id=st.sampled_from([*FORM_IDS, "missing"]), document=json_values)
def test_any_json_never_causes_a_5xx(client, form_id, document):
    response = client.http.post(
        f"/forms/{form_id}/submissions",
        body=json.dumps(document),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.body


@SETTINGS
@given(body=st.binary(max_size=200))
def test_any_bytes_never_cause_a_5xx(client, body):
    response = client.http.post(
        "/forms/opinion/submissions", body=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.body
