"""The local stack a bench runs against: free ports, a table prefix of its own, quiet logs."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def local_stack(**env: str) -> Iterator[Any]:
    """Start the embedded stack (moto, the sandboxes) for one run and stop it after; yields it.
    `env` is set besides the stack's own settings (ANNOUNCE_QUIET_HOURS="off"...). The shell's
    LINE channel settings are left out: a bench talks to the LINE sandbox, never LINE."""
    from devstack.env import Ports, local_environ
    from devstack.run import LocalStack

    ports = Ports.free()
    base = {k: v for k, v in os.environ.items() if not k.startswith("LINE_CHANNEL_")}
    os.environ.update(local_environ(ports, base=base))
    os.environ["MADOGUCHI_PREFIX"] = f"madoguchi-bench-{uuid.uuid4().hex[:6]}"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ.update(env)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log, one line per call
    stack = LocalStack(ports)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
