"""One clear line instead of a traceback, for the helpers a newcomer runs beside `make run`.

`make fire`, `make richmenu` and `make token` need the local stack; started without it, or
with an argument that names nothing, they say so in one line on stderr and exit non-zero.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterable
from typing import NoReturn, TypeVar

T = TypeVar("T")

START_IT = "start it with `make run` in another terminal"


def fail(message: str, code: int = 1) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(code)


def listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def require_stack(what: str, port: int, variable: str) -> None:
    """Fail unless something listens where the local stack's `what` should be."""
    if not listening(port):
        fail(f"no local stack: nothing answers on 127.0.0.1:{port} ({what}, {variable}); {START_IT}")


def require_choice(kind: str, value: str | None, choices: Iterable[str], usage: str) -> str:
    known = sorted(choices)
    if not value:
        fail(f"usage: {usage} ({kind}: {', '.join(known)})", 2)
    if value not in known:
        fail(f"unknown {kind} {value!r}; use one of: {', '.join(known)}", 2)
    return value


def one_line(action: Callable[[], T], doing: str) -> T:
    """Run `action`; any error becomes one line naming what was being done (exit 1)."""
    try:
        return action()
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception as error:
        detail = str(error).splitlines()[0] if str(error) else ""
        fail(f"{doing} failed: {type(error).__name__}{': ' + detail if detail else ''}")
