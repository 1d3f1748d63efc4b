"""The shared botocore session: its loader answers for our services as botocore's would."""

import gc

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import create_loader

from chalicelib import aws


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"])
def test_the_loader_lists_what_botocore_lists_for_our_services(type_name):
    ours = aws.session().get_component("data_loader").list_available_services(type_name)
    botocores = create_loader().list_available_services(type_name)

    assert ours == sorted(aws.SERVICES & set(botocores))


def test_every_service_we_call_gets_a_client_with_botocores_model():
    for service in sorted(aws.SERVICES):
        assert aws.client(service).meta.service_model.service_name == service


def test_a_service_outside_the_list_is_refused_with_a_pointer_to_it():
    with pytest.raises(ValueError, match="chalicelib.aws.SERVICES"):
        aws.client("lambda")
    with pytest.raises(UnknownServiceError):
        aws.session().create_client("lambda", region_name="ap-northeast-1")


def test_garbage_collection_is_back_on_once_the_app_is_loaded():
    import app  # noqa: F401  (gc is disabled while it loads)

    assert gc.isenabled()
