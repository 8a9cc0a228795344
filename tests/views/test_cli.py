"""The ``flask`` commands of the core application."""

from __future__ import annotations

from sqlalchemy import select

from booking.models import Role, User


def test_create_user_with_options(runner, db_session, commune):
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "Tech@Melun.example",
            "--name",
            "Tech",
            "--role",
            "technician",
            "--commune",
            "melun",
            "--password",
            "long enough",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created technician tech@melun.example" in result.output
    user = db_session.scalars(select(User).where(User.email == "tech@melun.example")).one()
    assert user.commune_id == commune.id
    assert user.check_password("long enough")


def test_create_user_prompts_for_the_password(runner, db_session):
    result = runner.invoke(
        args=["create-user", "--email", "boss@agglo.example", "--name", "Boss", "--role", "admin"],
        input="long enough\nlong enough\n",
    )
    assert result.exit_code == 0, result.output
    user = db_session.scalars(select(User).where(User.email == "boss@agglo.example")).one()
    assert user.role is Role.ADMIN
    assert "long enough" not in result.output


def test_create_user_reports_every_problem(runner, db_session):
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "nope",
            "--name",
            "X",
            "--role",
            "technician",
            "--password",
            "short",
        ]
    )
    assert result.exit_code == 1
    assert "email: Enter a valid e-mail address." in result.output
    assert "password: The password must have at least 8 characters." in result.output
    assert "commune_id: A technician must belong to a commune." in result.output
    assert "Traceback" not in result.output
    assert db_session.scalars(select(User)).all() == []


def test_create_user_names_an_unknown_commune(runner, commune):
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "t@example.org",
            "--name",
            "T",
            "--role",
            "technician",
            "--commune",
            "paris",
            "--password",
            "long enough",
        ]
    )
    assert result.exit_code == 1
    assert "no commune with slug 'paris' (known: melun)." in result.output


def test_create_user_refuses_an_unknown_role(runner):
    result = runner.invoke(
        args=["create-user", "--email", "a@b.example", "--name", "A", "--role", "boss"]
    )
    assert result.exit_code == 2
    assert "'boss' is not one of" in result.output


def test_reset_password(runner, db_session, technician):
    result = runner.invoke(
        args=["reset-password", "--email", technician.email, "--password", "another one"]
    )
    assert result.exit_code == 0, result.output
    db_session.refresh(technician)
    assert technician.check_password("another one")


def test_reset_password_of_an_unknown_account(runner):
    result = runner.invoke(
        args=["reset-password", "--email", "ghost@example.org", "--password", "another one"]
    )
    assert result.exit_code == 1
    assert "no account with the e-mail 'ghost@example.org'" in result.output


def test_db_empty(runner, make_commune):
    result = runner.invoke(args=["db-empty"])
    assert result.exit_code == 0, result.output
    make_commune()
    result = runner.invoke(args=["db-empty"])
    assert result.exit_code == 1
    assert "1 communes, 0 users." in result.output
