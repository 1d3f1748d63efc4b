"""One botocore session per process, shared by PynamoDB and every AWS client we make.

PynamoDB opens a botocore session per table connection and boto3 another for its
default clients; each reads botocore's data directory and parses the endpoint and
service models again (~30 ms apiece, measured in bench/coldstart.py). Sharing one
session pays that once. Lambda runs one invocation per process at a time, so the
session is never used by two threads at once there.

The session's loader knows which services we call. botocore's own loader, before it
loads any model, lists every service directory it ships (400+) to check that the name
exists, once per kind of model: ~24 ms of the webhook's first request, in a Lambda too.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from botocore.loaders import Loader
    from botocore.session import Session

# Every AWS service madoguchi calls (PynamoDB's DynamoDB included); client() refuses others.
SERVICES = frozenset({"dynamodb", "s3", "scheduler", "ses", "sqs"})

_lock = threading.RLock()
_session: Session | None = None


def session() -> Session:
    global _session
    with _lock:
        if _session is None:
            from botocore.session import get_session

            _session = get_session()
            _session.register_component("data_loader", _loader(_session))
        return _session


def _loader(botocore_session: Session) -> Loader:
    import os

    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import Loader

    class OurServicesLoader(Loader):
        def list_available_services(self, type_name: str) -> list[str]:
            # Ours only, and only those botocore has this kind of model for, as it would answer.
            return sorted(name for name in SERVICES if self._has_model(name, type_name))

        def _has_model(self, service: str, type_name: str) -> bool:
            try:
                return bool(self.list_api_versions(service, type_name))
            except DataNotFoundError:
                return False

    # What botocore.loaders.create_loader does with the session's data_path.
    data_path = botocore_session.get_config_variable("data_path")
    paths = (
        [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
        if data_path
        else None
    )
    return OurServicesLoader(extra_search_paths=paths)


@cache
def client(service: str) -> Any:
    """A low-level client with short timeouts: an answer in seconds or a retryable failure."""
    import os

    if service not in SERVICES:
        raise ValueError(f"{service!r} is not in chalicelib.aws.SERVICES: add it there")

    from botocore.config import Config

    from chalicelib.config import get_settings

    # A local endpoint (moto) has no per-bucket DNS names: address buckets by path there.
    addressing: Literal["path", "virtual"] = "path" if os.environ.get("AWS_ENDPOINT_URL") else "virtual"
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
        signature_version="s3v4" if service == "s3" else None,
        s3={"addressing_style": addressing},
    )
    with _lock:
        return session().create_client(service, region_name=get_settings().region, config=config)


def share_session_with_pynamodb() -> None:
    """Make PynamoDB's connections use the shared session instead of opening their own."""
    import pynamodb.connection.base

    # A replacement on purpose: PynamoDB calls get_session() with no arguments, which ours takes.
    pynamodb.connection.base.get_session = session  # type: ignore[assignment]
