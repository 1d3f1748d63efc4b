"""Test set-up shared by every suite.

The local environment is set before anything imports chalicelib (settings and table
names are read at import), on free ports so a running `make run` is never disturbed.
The integration stack (moto, LINE sandbox, dev issuer) starts once per session, only
when a test asks for it.
"""

from __future__ import annotations

import os
import uuid

import pytest

from devstack.env import Ports, local_environ

PORTS = Ports.free()
# The tests' own secrets, whatever the shell has: a test signs with the secret it verifies with.
_environ = {k: v for k, v in os.environ.items() if not k.startswith("LINE_CHANNEL_")}
os.environ.update(local_environ(PORTS, base=_environ))
os.environ["MADOGUCHI_PREFIX"] = f"madoguchi-test-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def local_stack():
    from devstack.run import LocalStack

    stack = LocalStack(PORTS)
    stack.start()
    yield stack
    stack.stop()
