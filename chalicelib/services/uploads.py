"""Photos and other attachments: presigned uploads in, metadata-free copies for staff out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters import storage
from chalicelib.config import get_settings
from chalicelib.domain import errors as rule
from chalicelib.domain import images
from chalicelib.domain.messages import Text
from chalicelib.domain.submissions import tokyo_iso
from chalicelib.resources import PHOTO_RETENTION_TAG, UPLOAD_STAGING_PREFIX
from chalicelib.store import inbox

MAX_IMAGE_BYTES = 10 * 1024 * 1024
UPLOAD_WINDOW = timedelta(minutes=15)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/heic": "heic"}
# What start() and receive() mint: "up_" and 15 or 20 random bytes in base32.
UPLOAD_ID = re.compile(r"up_[a-z2-7]{24,32}")
# How long a submission or an answer may hold its uploads: longer than any function that stores
# one (the API's 30 s, the LINE worker's 60 s), so only a dead one's claim runs out.
CLAIM_LEASE = timedelta(seconds=90)


def _incoming(upload_id: str) -> str:
    return f"{UPLOAD_STAGING_PREFIX}{upload_id}"


def _new_id() -> str:
    return "up_" + base64.b32encode(os.urandom(15)).decode().lower()


def start(content_type: str) -> dict[str, Any]:
    """A presigned POST for one image: S3 itself refuses another type or more than 10 MB."""
    upload_id = _new_id()
    post = storage.presigned_post(
        _incoming(upload_id), content_type, MAX_IMAGE_BYTES, int(UPLOAD_WINDOW.total_seconds())
    )
    return {
        "uploadId": upload_id,
        "url": post["url"],
        "fields": post["fields"],
        "maxBytes": MAX_IMAGE_BYTES,
        "expiresAt": tokyo_iso(datetime.now(UTC) + UPLOAD_WINDOW),  # Tokyo time, as every answer
    }


def receive(name: str, data: bytes) -> str | None:
    """Keep a photo that reached us another way (a LINE image message) as an upload would be,
    for taken() at submission; its upload id, or None when it is not an image we take.

    The id derives from `name` (the LINE message id), so receiving it again overwrites it; keyed
    by a secret, as message ids are no secret: an id anyone could compute from one would let them
    attach a stranger's photo to their own submission (and take it from the stranger's report).
    """
    content_type = images.sniff(data)
    if content_type is None or len(data) > MAX_IMAGE_BYTES:
        return None
    upload_id = _derived_id(name)
    storage.write(_incoming(upload_id), data, content_type)
    return upload_id


def _derived_id(name: str) -> str:
    """An upload id that is the same each time for `name`, and that nobody can compute from it."""
    key = hmac.new(
        get_settings().line_channel_secret.encode(), b"madoguchi upload id", hashlib.sha256
    ).digest()
    return _id_of(hmac.new(key, name.encode(), hashlib.sha256).digest())


def _id_of(digest: bytes) -> str:
    return "up_" + base64.b32encode(digest[:20]).decode().lower()


@contextmanager
def taken(upload_ids: list[str], pointer: str) -> Iterator[list[tuple[str, bytes, str]]]:
    """The uploads, prepared, for the one submission or answer the `with` body stores them in.

    Each upload is claimed first (the inbox's once-only ledger): two sends naming one upload
    (two tabs, a double tap with two keys) would otherwise both read it and share one stored
    photo, whose retention, started when either closes, deletes the other's. An upload used
    before answers as a missing one (422), one another send holds now 409 (try again shortly).
    An exception out of the body gives the claims back, so the same request may be retried; a
    normal exit keeps them and deletes the originals.
    """
    now = datetime.now(UTC)
    with ExitStack() as claims:
        try:
            outcomes = {
                upload_id: claims.enter_context(inbox.once(f"upload#{upload_id}", now, CLAIM_LEASE))
                for upload_id in dict.fromkeys(upload_ids)
                if UPLOAD_ID.fullmatch(upload_id)  # no claim for a name that is none of ours
            }
        except inbox.Busy:
            raise rule.InProgress(Text("error.in_progress"), code="request_in_progress") from None
        used = {upload_id for upload_id, outcome in outcomes.items() if outcome is inbox.Claim.DONE}
        prepared = _prepare(upload_ids, pointer, used)
        yield prepared
    _discard_originals(prepared)


def accept(data: bytes, seed: str | None = None) -> str:
    """Keep a photo posted with a page itself (JavaScript off) as a presigned upload would be;
    its upload id, derived from `seed` and the photo when given (the same page posted twice
    names the same upload). Checked now, as `taken` will check it again, so the page can say at
    once what is wrong with it (Invalid) while the resident still has it in hand."""
    if len(data) > MAX_IMAGE_BYTES:
        too_large = Text("error.upload.too_large", limit=MAX_IMAGE_BYTES // 2**20)
        raise rule.Invalid(too_large, code="invalid_attachment")
    try:
        _clean, content_type = _cleaned(data)
    except _Refused as refused:
        raise rule.Invalid(refused.problem, code="invalid_attachment") from None
    # The page's once-key is a secret of that page: an id derived from it is as unguessable.
    upload_id = _id_of(hashlib.sha256(f"{seed}:".encode() + data).digest()) if seed else _new_id()
    storage.write(_incoming(upload_id), data, content_type)
    return upload_id


class _Refused(Exception):
    def __init__(self, problem: Text) -> None:
        super().__init__(problem.key)
        self.problem = problem


def _cleaned(data: bytes) -> tuple[bytes, str]:
    """The picture without its metadata, and its type as its bytes say; _Refused otherwise."""
    # The bytes decide, not the declared type: a browser that cannot tell a PNG or HEIC says
    # nothing, and the page then declares JPEG. What is kept is stored under its real type.
    actual = images.sniff(data)
    if actual is None:
        raise _Refused(Text("error.upload.not_image"))
    try:
        return images.strip_metadata(data), actual
    except images.TooManyPixels:
        raise _Refused(
            Text("error.upload.too_many_pixels", megapixels=images.MAX_PIXELS // 1_000_000)
        ) from None
    except images.UnsupportedImage:
        raise _Refused(Text("error.upload.damaged")) from None


def _prepare(upload_ids: list[str], pointer: str, used: Collection[str]) -> list[tuple[str, bytes, str]]:
    """Read each upload, check it is the image it claims to be, strip its metadata (EXIF GPS...).

    Returns (upload id, clean bytes, content type); 422 naming the field for anything wrong,
    an upload in `used` (taken by another submission) as a missing one.
    """
    prepared, problems = [], []
    for index, upload_id in enumerate(upload_ids):
        where = f"{pointer}/{index}"
        missing = {"pointer": where, "message": Text("error.upload.missing", limit=MAX_IMAGE_BYTES // 2**20)}
        # Not one of ours (a page's hidden field tampered with), or another submission's.
        if not UPLOAD_ID.fullmatch(upload_id) or upload_id in used:
            problems.append(missing)
            continue
        try:
            data, _declared = storage.read(_incoming(upload_id), MAX_IMAGE_BYTES)
        except storage.ObjectMissing:
            problems.append(missing)
            continue
        try:
            clean, actual = _cleaned(data)
        except _Refused as refused:
            problems.append({"pointer": where, "message": refused.problem})
            continue
        prepared.append((upload_id, clean, actual))
    if problems:
        raise rule.Invalid(
            Text("error.upload.invalid"),
            code="invalid_attachment",
            details=problems,
        )
    return prepared


def expire_after(keys: list[str], days: int) -> int:
    """Start the retention of stored photos: each is written again tagged with it, and the
    bucket's lifecycle rule for that value (PHOTO_RETENTION_TAG) deletes it that many days later,
    as TTL deletes the submission. A retry starts it again from now. Returns how many were there."""
    return sum(storage.restamp(key, {PHOTO_RETENTION_TAG: str(days)}) for key in keys)


def store(prepared: list[tuple[str, bytes, str]]) -> list[str]:
    """Write the clean copies; returns their keys.

    Named by upload id *and* content, so a stored photo never changes: S3 takes a presigned POST
    again and again until it expires, and an upload id posted again with another picture after a
    submission used it would otherwise have replaced that submission's photo.
    """
    keys = []
    for upload_id, data, content_type in prepared:
        digest = hashlib.sha256(data).hexdigest()[:16]
        key = f"attachments/{upload_id}-{digest}.{EXTENSIONS[content_type]}"
        storage.write(key, data, content_type)
        keys.append(key)
    return keys


def _discard_originals(prepared: list[tuple[str, bytes, str]]) -> None:
    """The originals still carry their metadata: once the clean copies are in use, they go."""
    for upload_id, _, _ in prepared:
        storage.delete(_incoming(upload_id))
