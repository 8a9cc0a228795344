"""``flask`` commands: init-db, create-user, reset-password, db-empty.

The demo data (``booking.demo``), the CSV inventory files (``booking.csv_io``) and the
API tokens (``booking.api.cli``) add their own commands with their ``register_cli(app)``.
"""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from sqlalchemy import func, inspect, select

from booking import csv_io, demo, migrate
from booking.api import cli as api_cli
from booking.db import get_session
from booking.errors import BookingError
from booking.models import Commune, Role, User
from booking.services import users as user_service


@click.command("init-db")
def init_db_command() -> None:
    """Create or upgrade the database schema (alembic upgrade head)."""
    migrate.upgrade(current_app.config["DATABASE_URL"])
    click.echo("Database schema is up to date.")


@click.command("db-empty")
def db_empty_command() -> None:
    """Exit with status 0 when the database holds no commune and no user, 1 otherwise."""
    session = get_session()
    tables = set(inspect(session.get_bind()).get_table_names())
    if not {"communes", "users"} <= tables:
        click.echo("The schema is missing: run `flask init-db` first.", err=True)
        sys.exit(2)
    communes = session.scalar(select(func.count(Commune.id))) or 0
    users = session.scalar(select(func.count(User.id))) or 0
    click.echo(f"{communes} communes, {users} users.")
    sys.exit(0 if communes == 0 and users == 0 else 1)


def _fail(error: BookingError) -> None:
    from booking.errors import ValidationError

    if isinstance(error, ValidationError):
        for field, message in error.errors:
            click.echo(f"Error: {field + ': ' if field else ''}{message}", err=True)
    else:
        click.echo(f"Error: {error.message}", err=True)
    sys.exit(1)


@click.command("create-user")
@click.option("--email", required=True, help="Sign-in e-mail address.")
@click.option("--name", required=True, help="Display name.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    required=True,
    help="technician, manager or admin.",
)
@click.option("--commune", "commune_slug", help="Commune slug (technicians only).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given.",
)
def create_user_command(
    email: str, name: str, role: str, commune_slug: str | None, password: str
) -> None:
    """Create an account."""
    session = get_session()
    commune_id = None
    if commune_slug:
        commune_id = session.scalar(select(Commune.id).where(Commune.slug == commune_slug))
        if commune_id is None:
            known = ", ".join(session.scalars(select(Commune.slug).order_by(Commune.slug)))
            click.echo(
                f"Error: no commune with slug {commune_slug!r}"
                + (f" (known: {known})." if known else " (there are no communes yet)."),
                err=True,
            )
            sys.exit(1)
    try:
        user = user_service.create_user(
            session,
            email=email,
            name=name,
            password=password,
            role=Role(role),
            commune_id=commune_id,
        )
    except BookingError as error:
        _fail(error)
        return
    click.echo(f"Created {user.role.value} {user.email} (id {user.id}).")


@click.command("reset-password")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def reset_password_command(email: str, password: str) -> None:
    """Set a new password for an account and lift its sign-in throttling."""
    session = get_session()
    user_id = session.scalar(
        select(User.id).where(User.email == user_service.normalise_email(email))
    )
    if user_id is None:
        click.echo(f"Error: no account with the e-mail {email!r}.", err=True)
        sys.exit(1)
    try:
        user_service.reset_password(session, user_id, password, by=None)
    except BookingError as error:
        _fail(error)
        return
    click.echo(f"Password of {email} changed.")


def init_app(app: Flask) -> None:
    for command in (
        init_db_command,
        db_empty_command,
        create_user_command,
        reset_password_command,
    ):
        app.cli.add_command(command)
    demo.register_cli(app)
    csv_io.register_cli(app)
    api_cli.register_cli(app)
