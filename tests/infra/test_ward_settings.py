"""A ward's settings are checked for their shape before synth builds anything (a walkthrough:
a bad alarm address, an origin with a path, an http API URL and /33 ranges all reached the
template, and a bad prefix ended in a jsii traceback that never named it)."""

from __future__ import annotations

import pytest

from infra import ward_settings
from tests.infra.conftest import WARD_CONTEXT


def config_of(context: dict[str, str], stage: str = "prod"):  # noqa: ANN201
    import aws_cdk as cdk

    from infra.app import stage_config

    return stage_config(cdk.App(context=context), stage)


def test_the_wards_documented_settings_are_well_formed():
    assert config_of(WARD_CONTEXT).api_url == WARD_CONTEXT["prod:api_url"]
    assert config_of({}, "dev").prefix == "madoguchi-dev"  # the defaults too


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("alarm_emails", "ops-at-city.katsushika.lg.jp", "is not an email address"),
        ("api_url", "http://api.madoguchi.city.katsushika.lg.jp/", "https://"),
        ("web_origin", "https://www.madoguchi.city.katsushika.lg.jp/web", "no path"),
        ("liff_url", "https://liff.line.me/", "<LIFF id>"),
        ("line_login_channel_id", "abc", "digits only"),
        ("paypay_webhook_cidrs", "1.2.3.0/33, 203.0.113.0/24", "'1.2.3.0/33' is not an address range"),
        ("prefix", "Katsushika_Madoguchi_PROD", "lower-case"),
        ("log_hash_salt", "x", "at least 16"),
        ("ses_sender", "no-reply", "an email address"),
        ("api_url", "https://api.madoguchi.city.katsushika.lg.jp ", "https://"),  # a re-test
        ("api_url", "https://api.madoguchi.city.katsushika.lg.jp:99999", "https://"),
        ("prefix", "xn--madoguchi", "not starting xn--"),
    ],
)
def test_a_malformed_setting_stops_synth_naming_it(name, value, says):
    with pytest.raises(SystemExit) as stopped:
        config_of({**WARD_CONTEXT, f"prod:{name}": value})
    message = str(stopped.value)
    assert f"{name}" in message and says in message and "Traceback" not in message
    assert len(message.splitlines()) == 2  # the heading and this one setting


def test_every_setting_it_checks_is_a_stage_setting():
    from infra.stack import StageConfig

    assert set(ward_settings.CHECKED) <= set(StageConfig.__dataclass_fields__)


def test_a_list_of_alarm_addresses_is_read_as_the_comma_separated_form():
    listed = ["ops@city.example.jp", "duty@city.example.jp"]
    assert config_of({**WARD_CONTEXT, "prod:alarm_emails": listed}).alarm_emails == tuple(listed)


def test_an_origin_written_with_its_roots_slash_is_that_origin():
    """A walkthrough: synth stopped on https://host/, which a browser sends as https://host."""
    config = config_of({**WARD_CONTEXT, "prod:web_origin": "https://forms.city.example.jp/"})
    assert config.web_origin == "https://forms.city.example.jp"


def test_context_given_on_the_command_line_is_read_over_cdk_json():
    """A walkthrough: `python -m infra.app -c prod:alarm_emails=notanemail` passed, unread."""
    from infra.app import context_with, ward_context

    context = context_with(["-c", "prod:alarm_emails=notanemail", "--context", "stage=prod"])
    assert context == {**ward_context(), "prod:alarm_emails": "notanemail", "stage": "prod"}
    with pytest.raises(SystemExit):
        context_with(["-c", "no-equals-sign"])
    with pytest.raises(SystemExit):
        context_with(["--unknown"])
