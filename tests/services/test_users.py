"""Accounts: creation rules, sign-in throttling, disabling and password resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from booking.errors import Conflict, Forbidden, NotFound, TooManyAttempts, ValidationError
from booking.models import AuditEvent, LoginAttempt, Role, User
from booking.services import users
from tests.conftest import DEFAULT_PASSWORD

NOW = datetime(2030, 1, 15, 10, 0, tzinfo=UTC)


def test_create_user_stores_a_hash_and_an_audit_event(db_session, commune, admin):
    user = users.create_user(
        db_session,
        email="  New.Tech@Melun.example ",
        name="New Tech",
        password="s3cret-enough",
        role=Role.TECHNICIAN,
        commune_id=commune.id,
        by=admin,
    )
    assert user.email == "new.tech@melun.example"
    assert user.password_hash != "s3cret-enough"
    assert user.check_password("s3cret-enough")
    assert not user.check_password("s3cret-enougH")
    event = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "user.create", AuditEvent.object_id == user.id
        )
    ).one()
    assert event.actor_id == admin.id
    assert event.after["role"] == "technician"
    assert "password" not in str(event.after)


def test_create_user_lists_every_problem(db_session):
    with pytest.raises(ValidationError) as caught:
        users.create_user(
            db_session, email="not-an-address", name=" ", password="short", role=Role.TECHNICIAN
        )
    fields = [field for field, _message in caught.value.errors]
    assert fields == ["email", "name", "password", "commune_id"]
    assert "at least 8 characters" in caught.value.for_field("password")[0]


def test_create_user_refuses_a_commune_for_managers(db_session, commune):
    with pytest.raises(ValidationError, match="Only technicians"):
        users.create_user(
            db_session,
            email="m@example.org",
            name="M",
            password="long enough",
            role=Role.MANAGER,
            commune_id=commune.id,
        )


def test_create_user_refuses_an_unknown_commune(db_session):
    with pytest.raises(ValidationError, match="Commune 9999 does not exist"):
        users.create_user(
            db_session,
            email="t@example.org",
            name="T",
            password="long enough",
            role=Role.TECHNICIAN,
            commune_id=9999,
        )


def test_create_user_refuses_a_duplicate_email(db_session, manager):
    with pytest.raises(Conflict, match="already exists"):
        users.create_user(
            db_session,
            email=manager.email.upper(),
            name="Twin",
            password="long enough",
            role=Role.MANAGER,
        )


def test_only_admins_create_accounts(db_session, manager):
    with pytest.raises(Forbidden):
        users.create_user(
            db_session,
            email="x@example.org",
            name="X",
            password="long enough",
            role=Role.ADMIN,
            by=manager,
        )


def test_authenticate_accepts_the_right_password(db_session, technician):
    user = users.authenticate(
        db_session, "TECH@melun.example", DEFAULT_PASSWORD, "1.2.3.4", now=NOW
    )
    assert user is technician
    assert user.last_login_at == NOW


@pytest.mark.parametrize(
    ("email", "password"),
    [("tech@melun.example", "wrong password"), ("nobody@example.org", DEFAULT_PASSWORD)],
)
def test_authenticate_refuses_wrong_credentials(db_session, technician, email, password):
    with pytest.raises(users.InvalidCredentials):
        users.authenticate(db_session, email, password, "1.2.3.4", now=NOW)
    attempts = db_session.scalars(select(LoginAttempt)).all()
    assert [(a.email, a.ip) for a in attempts] == [(email, "1.2.3.4")]


def test_authenticate_refuses_disabled_accounts(db_session, technician):
    technician.is_active_account = False
    db_session.commit()
    with pytest.raises(users.InvalidCredentials):
        users.authenticate(db_session, technician.email, DEFAULT_PASSWORD, "1.2.3.4", now=NOW)


def _fail(db_session, email, ip, at):
    with pytest.raises(users.InvalidCredentials):
        users.authenticate(db_session, email, "wrong password", ip, now=at)


def test_throttling_after_five_failures_even_with_the_right_password(db_session, technician):
    for minute in range(5):
        _fail(db_session, technician.email, "1.2.3.4", NOW + timedelta(minutes=minute))
    with pytest.raises(TooManyAttempts, match="Try again in 11 minutes"):
        users.authenticate(
            db_session,
            technician.email,
            DEFAULT_PASSWORD,
            "1.2.3.4",
            now=NOW + timedelta(minutes=4, seconds=30),
        )


def test_throttling_is_per_address_and_per_account(db_session, technician, manager):
    for minute in range(5):
        _fail(db_session, technician.email, "1.2.3.4", NOW + timedelta(minutes=minute))
    later = NOW + timedelta(minutes=6)
    assert users.authenticate(db_session, technician.email, DEFAULT_PASSWORD, "5.6.7.8", now=later)
    assert users.authenticate(db_session, manager.email, DEFAULT_PASSWORD, "1.2.3.4", now=later)


def test_throttling_lifts_when_failures_leave_the_window(db_session, technician):
    for minute in range(5):
        _fail(db_session, technician.email, "1.2.3.4", NOW + timedelta(minutes=minute))
    # The first failure (at NOW) leaves the 15-minute window at NOW + 15 min.
    with pytest.raises(TooManyAttempts, match="in 1 minute\\."):
        users.authenticate(
            db_session,
            technician.email,
            DEFAULT_PASSWORD,
            "1.2.3.4",
            now=NOW + timedelta(minutes=14, seconds=59),
        )
    user = users.authenticate(
        db_session, technician.email, DEFAULT_PASSWORD, "1.2.3.4", now=NOW + timedelta(minutes=15)
    )
    assert user is technician
    remaining = db_session.scalars(
        select(LoginAttempt).where(LoginAttempt.email == technician.email)
    ).all()
    assert remaining == []


def test_four_failures_do_not_throttle(db_session, technician):
    for minute in range(4):
        _fail(db_session, technician.email, "1.2.3.4", NOW + timedelta(minutes=minute))
    assert users.authenticate(
        db_session, technician.email, DEFAULT_PASSWORD, "1.2.3.4", now=NOW + timedelta(minutes=5)
    )


def test_custom_throttle(db_session, technician):
    throttle = users.Throttle(max_failures=2, window=timedelta(minutes=1))
    for second in (0, 10):
        with pytest.raises(users.InvalidCredentials):
            users.authenticate(
                db_session,
                technician.email,
                "bad password",
                "ip",
                now=NOW + timedelta(seconds=second),
                throttle=throttle,
            )
    with pytest.raises(TooManyAttempts, match="in 1 minute\\."):
        users.authenticate(
            db_session,
            technician.email,
            DEFAULT_PASSWORD,
            "ip",
            now=NOW + timedelta(seconds=20),
            throttle=throttle,
        )


def test_disable_and_enable(db_session, admin, technician):
    users.set_user_active(db_session, technician.id, False, by=admin)
    assert not technician.is_active
    users.set_user_active(db_session, technician.id, True, by=admin)
    assert technician.is_active
    actions = db_session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_type == "user", AuditEvent.object_id == technician.id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["user.disable", "user.enable"]


def test_admin_cannot_disable_themselves(db_session, admin):
    with pytest.raises(ValidationError, match="your own account"):
        users.set_user_active(db_session, admin.id, False, by=admin)


def test_disable_unknown_user(db_session, admin):
    with pytest.raises(NotFound):
        users.set_user_active(db_session, 424242, False, by=admin)


def test_manager_cannot_disable(db_session, manager, technician):
    with pytest.raises(Forbidden):
        users.set_user_active(db_session, technician.id, False, by=manager)


def test_reset_password_lifts_throttling(db_session, admin, technician):
    for minute in range(5):
        _fail(db_session, technician.email, "1.2.3.4", NOW + timedelta(minutes=minute))
    users.reset_password(db_session, technician.id, "a brand new one", by=admin)
    user = users.authenticate(
        db_session, technician.email, "a brand new one", "1.2.3.4", now=NOW + timedelta(minutes=6)
    )
    assert user is technician
    assert not user.check_password(DEFAULT_PASSWORD)


def test_reset_password_refuses_short_ones(db_session, admin, technician):
    with pytest.raises(ValidationError, match="at least 8"):
        users.reset_password(db_session, technician.id, "short", by=admin)


def test_set_locale(db_session, technician):
    users.set_locale(db_session, technician, "en", allowed=["fr", "en"])
    assert db_session.get(User, technician.id).locale == "en"
    with pytest.raises(ValidationError, match="Unknown language xx"):
        users.set_locale(db_session, technician, "xx", allowed=["fr", "en"])
