"""The resources the code defines, read from the code: PynamoDB MODELS, QUEUES, BUCKETS, SCHEDULE_GROUP.

Plain data, no CDK here, so the tests can compare the template with the same reading. Lists are
looked up on their modules at call time (not imported by value), so a model or queue added in
chalicelib reaches the template with no change in infra/.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # S, N or B


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: Key
    range_key: Key | None
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableDef:
    resource: str  # the table name without the stage prefix, e.g. "submissions"
    model: str
    hash_key: Key
    range_key: Key | None
    ttl_attribute: str | None
    indexes: tuple[Index, ...] = field(default_factory=tuple)
    local_indexes: tuple[Index, ...] = field(default_factory=tuple)


def _keys(key_schema: list[dict[str, str]], types: dict[str, str]) -> tuple[Key, Key | None]:
    by_type = {entry["KeyType"]: entry["AttributeName"] for entry in key_schema}
    hash_name, range_name = by_type["HASH"], by_type.get("RANGE")
    return Key(hash_name, types[hash_name]), Key(range_name, types[range_name]) if range_name else None


def _index(schema: dict[str, Any], types: dict[str, str]) -> Index:
    hash_key, range_key = _keys(schema["key_schema"], types)
    projection = schema["projection"]
    return Index(
        name=schema["index_name"],
        hash_key=hash_key,
        range_key=range_key,
        projection=projection["ProjectionType"],
        non_key_attributes=tuple(projection.get("NonKeyAttributes", ())),
    )


def table_def(model: Any, prefix: str) -> TableDef:
    """One PynamoDB model as a table definition (`prefix` is the one its Meta.table_name carries)."""
    from pynamodb.attributes import TTLAttribute

    schema = model._get_schema()
    types = {entry["AttributeName"]: entry["AttributeType"] for entry in schema["attribute_definitions"]}
    hash_key, range_key = _keys(schema["key_schema"], types)
    ttl = [attr.attr_name for attr in model.get_attributes().values() if isinstance(attr, TTLAttribute)]
    if len(ttl) > 1:
        raise ValueError(f"{model.__name__} has more than one TTLAttribute; DynamoDB allows one")
    table_name: str = model.Meta.table_name
    if not table_name.startswith(prefix + "-"):
        raise ValueError(f"{model.__name__}: table {table_name!r} is not named by Settings.name()")
    return TableDef(
        resource=table_name[len(prefix) + 1 :],
        model=model.__name__,
        hash_key=hash_key,
        range_key=range_key,
        ttl_attribute=ttl[0] if ttl else None,
        indexes=tuple(_index(index, types) for index in schema.get("global_secondary_indexes", ())),
        local_indexes=tuple(_index(index, types) for index in schema.get("local_secondary_indexes", ())),
    )


def tables() -> list[TableDef]:
    from chalicelib.config import get_settings
    from chalicelib.store import models

    prefix = get_settings().prefix
    return [table_def(model, prefix) for model in models.MODELS]


def queues() -> list[Any]:
    from chalicelib import resources

    return list(resources.QUEUES)


def buckets() -> list[str]:
    from chalicelib import resources

    return list(resources.BUCKETS)


def metric_alarms() -> tuple[list[Any], str, str]:
    """The alarms on the app's own metrics, and the namespace and service those metrics carry."""
    from chalicelib import resources

    return list(resources.METRIC_ALARMS), resources.METRICS_NAMESPACE, resources.METRICS_SERVICE


def versioned_buckets() -> tuple[tuple[str, ...], int]:
    """The buckets that keep replaced and deleted objects, and for how many days."""
    from chalicelib import resources

    return resources.VERSIONED_BUCKETS, resources.NONCURRENT_VERSION_DAYS


def schedule_group() -> str:
    from chalicelib import resources

    return resources.SCHEDULE_GROUP


def attachments_bucket() -> str:
    from chalicelib import resources

    return resources.ATTACHMENTS_BUCKET


def photo_retentions() -> tuple[str, list[int]]:
    """The tag a closed submission's photos carry and every value it may have (one rule each)."""
    from chalicelib import resources
    from chalicelib.domain.forms import retentions

    return resources.PHOTO_RETENTION_TAG, sorted(retentions())


def upload_staging_prefix() -> str:
    from chalicelib import resources

    return getattr(resources, "UPLOAD_STAGING_PREFIX", "incoming/")


def names_example(value: str) -> bool:
    """Whether an address, a URL, a domain or a list of them names an example host (RFC 2606:
    a host with the label "example", as the shipped data and the README's examples have)."""
    for piece in re.split(r"[\s,]+", value.strip()):
        host = urlsplit(piece).hostname if "://" in piece else piece.rsplit("@", 1)[-1]
        if "example" in (host or "").lower().split("."):
            return True
    return False


def example_addresses() -> list[str]:
    """The ward data that still names an example address: each section's digest recipients and
    each consultation's meeting link, by file, where the ward's own belong before residents use
    a stage."""
    from chalicelib.domain.consultations import catalogue
    from chalicelib.domain.forms import sections
    from chalicelib.domain.ward import DATA_DIR

    digests = [
        sid for sid, section in sections().items() if names_example(",".join(section["digestRecipients"]))
    ]
    links = [service.id for service in catalogue().values() if names_example(service.meeting_link_template)]
    sources = json.loads((DATA_DIR / "queue.json").read_text(encoding="utf-8"))["sources"]
    registered = [source["id"] for source in sources if names_example(source.get("registeredUrl", ""))]
    loopback = [
        source["id"]
        for source in sources
        if source.get("allowedNetworks")
        and all(ipaddress.ip_network(net).is_loopback for net in source["allowedNetworks"])
    ]
    return [
        *([f"chalicelib/data/sections.json digestRecipients of {', '.join(digests)}"] if digests else []),
        *([f"chalicelib/data/consultations.json meetingLinkTemplate of {', '.join(links)}"] if links else []),
        *([f"chalicelib/data/queue.json registeredUrl of {', '.join(registered)}"] if registered else []),
        *(
            [f"chalicelib/data/queue.json allowedNetworks of {', '.join(loopback)} (this machine only)"]
            if loopback
            else []
        ),
    ]


def ward_name_en() -> str:
    """The ward's English name (ward data), as staff emails' sender name."""
    from chalicelib.domain.ward import ward_name

    return ward_name("en")
