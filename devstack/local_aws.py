"""moto as the local AWS, with DynamoDB's atomicity.

DynamoDB applies each conditional write and transaction atomically; moto's backend does not
lock, so two threads of its HTTP server can both pass the same condition. Serialising the
DynamoDB calls (and only those: SQS long polls must not block everything else) makes the
local stack keep the guarantee the application relies on, so concurrency tests are real.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class _DynamoDBOneAtATime:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            # Consume the whole answer inside the lock: the write happens while it is produced.
            return list(self._app(environ, start_response))


class LocalAws:
    def __init__(self, host: str = "127.0.0.1", port: int = 4566) -> None:
        app = _DynamoDBOneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
