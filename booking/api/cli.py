"""``flask create-api-token``: issue a personal API token from the command line."""

from __future__ import annotations

import sys

import click
from flask import Flask
from sqlalchemy import select

from booking.db import get_session
from booking.errors import BookingError
from booking.models import User
from booking.services import api_tokens
from booking.services.users import normalise_email


@click.command("create-api-token")
@click.option("--email", required=True, help="The account the token acts for.")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--read-only", is_flag=True, help="Refuse every request that changes something.")
def create_api_token_command(email: str, name: str, read_only: bool) -> None:
    """Make an API token and print it (it is shown only once)."""
    session = get_session()
    user = session.scalars(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        click.echo(f"Error: no account with the e-mail {email!r}.", err=True)
        sys.exit(1)
    try:
        token, secret = api_tokens.create_token(session, by=user, name=name, read_only=read_only)
    except BookingError as error:
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(1)
    mode = "read-only" if token.is_read_only else "read-write"
    click.echo(f"Created {mode} API token {token.id} for {user.email}. Keep it secret:")
    click.echo(secret)


def register_cli(app: Flask) -> None:
    app.cli.add_command(create_api_token_command)
