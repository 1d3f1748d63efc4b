"""moto as the local AWS, with DynamoDB's atomicity and its partition-sized queries.

DynamoDB applies each conditional write and transaction atomically; moto's backend does not
lock, so two threads of its HTTP server can both pass the same condition. Serialising the
DynamoDB calls (and only those: SQS long polls must not block everything else) makes the
local stack keep the guarantee the application relies on, so concurrency tests are real.
A Query reads its partition only (`_query_by_partition`) and a transaction backs up the
items it touches rather than whole tables (`_transactions_undo_items_not_tables`), so a
100,000-resident benchmark runs at the speed of what it does, not of the tables' size.
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


def _query_by_partition() -> None:
    """Make moto's base-table Query read the one partition it names, as DynamoDB does.

    moto answers each Query page by sorting every item of the table and filtering on the hash
    key: at 100,000 residents (400,000 send-list entries) that is seconds per page, past the
    clients' read timeout. Here the table's items are replaced, for the length of the call, by
    those of the queried partition; results, order, paging and errors are moto's own. Index
    queries are left alone. Safe because DynamoDB calls are served one at a time (below).
    """
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_by_partition", False):
        return
    original = Table.query

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
        #       scan_index_forward, projection_expressions, index_name, ...)
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        partition = list(self.items.get(hash_key, {}).values())
        self.all_items = lambda: partition  # shadows the method on this instance only
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    query._by_partition = True  # type: ignore[attr-defined]
    Table.query = query


def _transactions_undo_items_not_tables() -> None:
    """Make moto's TransactWriteItems keep a copy of the items it touches, not of whole tables.

    moto backs up every table a transaction touches with a deep copy, once per action, to roll
    back on a failed condition: with thousands of items that is seconds per transaction. Here
    the tables are not copied; the touched items are, and are put back when the transaction is
    refused. What moto accepts, refuses and answers is unchanged.
    """
    import copy

    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "_item_undo", False):
        return

    class _NoTableCopies:
        @staticmethod
        def deepcopy(value: Any, *args: Any) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, *args)

    backend_module.copy = _NoTableCopies  # type: ignore[attr-defined]
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo = []
        for action in transact_items:
            for op in action.values():
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                key = op.get("Key") or op.get("Item") or {}
                if table.hash_key_attr not in key:
                    continue
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
                current = table.items.get(hash_key)
                if table.range_key_attr and current is not None:
                    current = current.get(range_key)
                undo.append((table, hash_key, range_key, copy.deepcopy(current)))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(undo):
                if table.range_key_attr:
                    if before is None:
                        table.items.get(hash_key, {}).pop(range_key, None)
                    else:
                        table.items[hash_key][range_key] = before
                elif before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
            raise

    transact_write_items._item_undo = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items


class LocalAws:
    def __init__(self, host: str = "127.0.0.1", port: int = 4566) -> None:
        _query_by_partition()
        _transactions_undo_items_not_tables()
        app = _DynamoDBOneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
