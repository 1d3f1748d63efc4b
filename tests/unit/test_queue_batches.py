"""SQS batches: at most 10 messages and under SQS's 256 KiB per batch, in order, nothing dropped."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters import queues


@given(st.lists(st.integers(0, 60_000), max_size=40))
def test_batches_keep_every_message_in_order_within_both_limits(sizes):
    messages = [(str(i), {"n": i, "pad": "x" * size}) for i, size in enumerate(sizes)]
    batches = queues._batches(messages)
    assert [message for group, _ in batches for message in group] == messages
    for group, bodies in batches:
        assert 1 <= len(group) <= queues.SQS_BATCH_LIMIT
        assert [json.loads(body) for body in bodies] == [body for _, body in group]
        if len(group) > 1:
            assert sum(len(body.encode()) for body in bodies) <= queues.SQS_BATCH_BYTES


def test_a_chunk_of_500_user_ids_with_its_messages_travels_alone_or_in_small_batches():
    user_ids = ["U" + "0123456789abcdef" * 2] * 500
    payload = {"to": user_ids, "messages": [{"type": "text", "text": "あ" * 5000}]}
    batches = queues._batches([(str(i), payload) for i in range(12)])
    assert all(sum(len(b.encode()) for b in bodies) <= queues.SQS_BATCH_BYTES for _, bodies in batches)
    assert sum(len(group) for group, _ in batches) == 12
