"""Staff principal and authorization rules (pure domain, no I/O)."""

from __future__ import annotations

import pytest

from chalicelib.domain.staff import (
    ROLE_ADMIN,
    ROLE_ANNOUNCER,
    ROLE_STAFF,
    ROLE_SUPERVISOR,
    Forbidden,
    StaffPrincipal,
    authorize,
    principal_from_claims,
)


def claims(**overrides):
    base = {
        "sub": "3f1c-staff",
        "custom:section": "kusei",
        "cognito:groups": [ROLE_STAFF, ROLE_ANNOUNCER],
        "token_use": "id",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def principal(roles=(ROLE_STAFF,), section="kusei"):
    return StaffPrincipal(staff_id="s-1", section=section, roles=frozenset(roles))


class TestPrincipalFromClaims:
    def test_cognito_claims_become_a_principal(self):
        result = principal_from_claims(claims())
        assert result == StaffPrincipal("3f1c-staff", "kusei", frozenset({ROLE_STAFF, ROLE_ANNOUNCER}))

    def test_to_dict_sorts_roles(self):
        result = principal_from_claims(claims(**{"cognito:groups": ["supervisor", "admin", "staff"]}))
        assert result.to_dict() == {
            "staffId": "3f1c-staff",
            "section": "kusei",
            "roles": ["admin", "staff", "supervisor"],
        }

    def test_no_groups_means_no_roles(self):
        assert principal_from_claims(claims(**{"cognito:groups": None})).roles == frozenset()

    def test_duplicate_groups_collapse(self):
        result = principal_from_claims(claims(**{"cognito:groups": ["staff", "staff"]}))
        assert result.roles == frozenset({"staff"})

    @pytest.mark.parametrize("section", [None, "", "   ", 7, ["kusei"]])
    def test_missing_or_bad_section_is_rejected(self, section):
        bad = claims()
        if section is None:
            del bad["custom:section"]
        else:
            bad["custom:section"] = section
        with pytest.raises(ValueError, match="custom:section"):
            principal_from_claims(bad)

    @pytest.mark.parametrize("sub", [None, "", 42])
    def test_missing_or_bad_sub_is_rejected(self, sub):
        bad = claims()
        if sub is None:
            del bad["sub"]
        else:
            bad["sub"] = sub
        with pytest.raises(ValueError, match="sub"):
            principal_from_claims(bad)

    @pytest.mark.parametrize("groups", ["staff", {"staff": 1}, [1], ["staff", ""], 3])
    def test_groups_must_be_a_list_of_strings(self, groups):
        with pytest.raises(ValueError, match="cognito:groups"):
            principal_from_claims(claims(**{"cognito:groups": groups}))

    def test_principal_is_immutable(self):
        result = principal_from_claims(claims())
        with pytest.raises(AttributeError):
            result.section = "other"  # type: ignore[misc]


class TestAuthorize:
    def test_no_requirements_allows_any_staff_member(self):
        assert authorize(principal(roles=())) is None

    def test_any_of_the_roles_is_enough(self):
        authorize(principal(roles=(ROLE_ANNOUNCER,)), roles={ROLE_ANNOUNCER, ROLE_SUPERVISOR})
        authorize(principal(roles=(ROLE_STAFF, ROLE_SUPERVISOR)), roles={ROLE_ANNOUNCER, ROLE_SUPERVISOR})

    def test_missing_role_is_forbidden_with_a_reason(self):
        with pytest.raises(Forbidden) as raised:
            authorize(principal(roles=(ROLE_STAFF,)), roles={ROLE_SUPERVISOR, ROLE_ANNOUNCER})
        assert raised.value.reason.endswith(" / This requires one of the roles: announcer, supervisor.")

    def test_no_implicit_hierarchy_admin_is_not_announcer(self):
        with pytest.raises(Forbidden):
            authorize(principal(roles=(ROLE_ADMIN,)), roles={ROLE_ANNOUNCER})

    def test_empty_role_set_fails_closed(self):
        with pytest.raises(Forbidden):
            authorize(principal(roles=(ROLE_ADMIN, ROLE_STAFF)), roles=set())

    def test_same_section_is_allowed(self):
        authorize(principal(section="kusei"), section="kusei")

    def test_other_section_is_forbidden(self):
        with pytest.raises(Forbidden) as raised:
            authorize(principal(section="kusei"), section="doboku")
        assert "doboku" in raised.value.reason

    def test_section_match_is_exact(self):
        with pytest.raises(Forbidden):
            authorize(principal(section="Kusei"), section="kusei")

    def test_role_and_section_are_both_required(self):
        supervisor_elsewhere = principal(roles=(ROLE_SUPERVISOR,), section="doboku")
        with pytest.raises(Forbidden):
            authorize(supervisor_elsewhere, roles={ROLE_SUPERVISOR}, section="kusei")
        staff_here = principal(roles=(ROLE_STAFF,), section="kusei")
        with pytest.raises(Forbidden):
            authorize(staff_here, roles={ROLE_SUPERVISOR}, section="kusei")
        authorize(
            principal(roles=(ROLE_SUPERVISOR,), section="kusei"), roles={ROLE_SUPERVISOR}, section="kusei"
        )

    def test_forbidden_is_not_a_value_error(self):
        # The API maps Forbidden to 403; it must not be confused with bad claims.
        assert not issubclass(Forbidden, ValueError)


@pytest.mark.parametrize("odd", ["kocho ", " kocho", "ko\ncho", "ko\u202echo", "x" * 129, "ko cho", "\u3000"])
def test_an_id_or_section_claim_nobody_would_issue_is_refused(odd):
    from chalicelib.domain.staff import principal_from_claims

    with pytest.raises(ValueError, match="custom:section"):
        principal_from_claims({"sub": "s-1", "custom:section": odd})
    with pytest.raises(ValueError, match="sub"):
        principal_from_claims({"sub": odd, "custom:section": "kocho"})
    assert (
        principal_from_claims({"sub": "b7c1-42", "custom:section": "koseki-jumin"}).section == "koseki-jumin"
    )
