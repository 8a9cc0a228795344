"""Authorisation helpers: what each role may see, in Python and in SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.errors import Forbidden, NotFound
from booking.models import LoanRequest, Role
from booking.services.access import (
    can_access_commune,
    commune_filter,
    get_in_commune,
    require_commune_access,
    require_role,
    require_staff,
)


def test_require_role_accepts_listed_roles(manager, admin):
    assert require_role(manager, Role.MANAGER, Role.ADMIN) is manager
    assert require_role(admin, Role.ADMIN) is admin


def test_require_role_refuses_other_roles(technician):
    with pytest.raises(Forbidden):
        require_role(technician, Role.MANAGER)
    with pytest.raises(Forbidden):
        require_staff(technician)


def test_require_role_refuses_missing_and_disabled_users(db_session, manager):
    with pytest.raises(Forbidden):
        require_role(None)
    manager.is_active_account = False
    db_session.commit()
    with pytest.raises(Forbidden):
        require_role(manager, Role.MANAGER)


def test_technician_reaches_only_their_commune(technician, commune, other_commune):
    assert can_access_commune(technician, commune.id)
    assert not can_access_commune(technician, other_commune.id)
    assert not can_access_commune(technician, None)
    require_commune_access(technician, commune.id)
    with pytest.raises(Forbidden):
        require_commune_access(technician, other_commune.id)


@pytest.mark.parametrize("role_fixture", ["manager", "admin"])
def test_staff_reach_every_commune(request, role_fixture, commune, other_commune):
    user = request.getfixturevalue(role_fixture)
    assert can_access_commune(user, commune.id)
    assert can_access_commune(user, other_commune.id)


def test_commune_filter_limits_queries(
    db_session, make_request, technician, other_technician, manager, commune, other_commune
):
    mine = make_request(commune=commune)
    theirs = make_request(commune=other_commune)

    def visible(user):
        query = select(LoanRequest.id).where(commune_filter(user, LoanRequest.commune_id))
        return set(db_session.scalars(query))

    assert visible(technician) == {mine.id}
    assert visible(other_technician) == {theirs.id}
    assert {mine.id, theirs.id} <= visible(manager)


def test_commune_filter_hides_everything_from_disabled_users(db_session, make_request, manager):
    make_request()
    manager.is_active_account = False
    db_session.commit()
    query = select(LoanRequest.id).where(commune_filter(manager, LoanRequest.commune_id))
    assert db_session.scalars(query).all() == []


def test_get_in_commune(db_session, make_request, technician, commune, other_commune):
    mine = make_request(commune=commune)
    theirs = make_request(commune=other_commune)
    assert get_in_commune(db_session, LoanRequest, mine.id, technician) is mine
    with pytest.raises(Forbidden):
        get_in_commune(db_session, LoanRequest, theirs.id, technician)
    with pytest.raises(NotFound, match="does not exist"):
        get_in_commune(db_session, LoanRequest, theirs.id + 1000, technician)
