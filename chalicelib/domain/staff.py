"""Who a staff caller is, and what they may do.

Pure Python: the principal is built from already-verified token claims (Cognito ID
token shapes) and checked against a route's needs. Token verification lives in
chalicelib/adapters/staff_tokens.py; HTTP status mapping lives in chalicelib/api/staff.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ROLE_STAFF = "staff"
ROLE_ANNOUNCER = "announcer"
ROLE_SUPERVISOR = "supervisor"
ROLE_ADMIN = "admin"

ROLES = frozenset({ROLE_STAFF, ROLE_ANNOUNCER, ROLE_SUPERVISOR, ROLE_ADMIN})

CLAIM_ID = "sub"
CLAIM_SECTION = "custom:section"
CLAIM_GROUPS = "cognito:groups"


@dataclass(frozen=True)
class StaffPrincipal:
    staff_id: str
    section: str
    roles: frozenset[str]

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)

    def to_dict(self) -> dict[str, Any]:
        return {"staffId": self.staff_id, "section": self.section, "roles": sorted(self.roles)}


class Forbidden(Exception):
    """The caller is authenticated but may not do this; `reason` says why (safe to show)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def principal_from_claims(claims: Mapping[str, Any]) -> StaffPrincipal:
    """The principal that verified claims describe.

    `sub` is the staff id, `custom:section` the section (department), `cognito:groups`
    the roles (absent means no roles). Raises ValueError when the id or section is
    missing or empty, or when a claim has the wrong type.
    """
    staff_id = _non_empty_str(claims.get(CLAIM_ID), CLAIM_ID)
    section = _non_empty_str(claims.get(CLAIM_SECTION), CLAIM_SECTION)
    groups = claims.get(CLAIM_GROUPS)
    if groups is None:
        groups = []
    if isinstance(groups, str) or not isinstance(groups, (list, tuple)):
        raise ValueError(f"claim {CLAIM_GROUPS} must be a list of strings")  # noqa: TRY004 (bad claim = ValueError)
    if not all(isinstance(group, str) and group for group in groups):
        raise ValueError(f"claim {CLAIM_GROUPS} must be a list of non-empty strings")
    return StaffPrincipal(staff_id=staff_id, section=section, roles=frozenset(groups))


def authorize(
    principal: StaffPrincipal,
    *,
    roles: set[str] | frozenset[str] | None = None,
    section: str | None = None,
) -> None:
    """Raise Forbidden unless the principal holds any of `roles` and belongs to `section`.

    `None` means "no requirement". An empty `roles` set can never be satisfied (fails closed).
    There is no implicit role hierarchy: list every role that is allowed.
    """
    if roles is not None and not principal.has_any_role(roles):
        wanted = ", ".join(sorted(roles)) or "(none)"
        raise Forbidden(
            f"この操作には次の役割が必要です: {wanted} / This requires one of the roles: {wanted}."
        )
    if section is not None and principal.section != section:
        raise Forbidden(f"{section} の職員に限られます。 / This is limited to section {section}.")


# An id or a section as the issuer should write it: it goes into audit trails and logs as is.
_CLAIM_TEXT = re.compile(r"[^\x00-\x20\x7f-\x9f\u202a-\u202e\u2066-\u2069]{1,128}")


def _non_empty_str(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"claim {name} is missing or empty")
    if not _CLAIM_TEXT.fullmatch(value):
        raise ValueError(f"claim {name} must be 1-128 characters with no spaces or control characters")
    return value
