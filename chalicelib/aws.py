"""One botocore session per process, shared by PynamoDB and every AWS client we make.

PynamoDB opens a botocore session per table connection and boto3 another for its
default clients; each reads botocore's data directory and parses the endpoint and
service models again (~30 ms apiece, measured in bench/coldstart.py). Sharing one
session pays that once. Lambda runs one invocation per process at a time, so the
session is never used by two threads at once there.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_lock = threading.RLock()
_session: Any = None


def session() -> Any:
    global _session
    with _lock:
        if _session is None:
            from botocore.session import get_session

            _session = get_session()
        return _session


@cache
def client(service: str) -> Any:
    """A low-level client with short timeouts: an answer in seconds or a retryable failure."""
    import os

    from botocore.config import Config

    from chalicelib.config import get_settings

    # A local endpoint (moto) has no per-bucket DNS names: address buckets by path there.
    addressing = "path" if os.environ.get("AWS_ENDPOINT_URL") else "virtual"
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

    pynamodb.connection.base.get_session = session
