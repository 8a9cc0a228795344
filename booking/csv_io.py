"""``flask import-inventory`` and ``flask export-inventory``: the inventory CSV files from a shell.

The same import as the inventory page (all or nothing, one report line per
problem), acting as a named manager or admin so that the audit trail says who.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from booking.db import get_session
from booking.errors import BookingError
from booking.models import User
from booking.services import csv_inventory
from booking.services.users import normalise_email

KIND = click.Choice(csv_inventory.KINDS)
USER = click.option(
    "--user", "email", required=True, help="E-mail of the manager or admin acting (audit trail)."
)


def _user_by_email(email: str) -> User:
    user = get_session().scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        click.echo(f"Error: no account with the e-mail {email!r}.", err=True)
        sys.exit(1)
    return user


@click.command("import-inventory")
@click.argument("kind", type=KIND)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@USER
def import_inventory_command(kind: str, path: Path, email: str) -> None:
    """Import KIND (types, units, pools or sites) from the CSV file PATH, all or nothing."""
    try:
        result = csv_inventory.import_csv(
            get_session(), kind, path.read_bytes(), by=_user_by_email(email)
        )
    except csv_inventory.CsvImportError as error:
        click.echo(f"Nothing imported from {path}:", err=True)
        for problem in error.problems:
            where = f"line {problem.line}" if problem.line else "file"
            column = f", column {problem.column}" if problem.column else ""
            click.echo(f"  {where}{column}: {problem.message}", err=True)
        sys.exit(1)
    except BookingError as error:
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(1)
    click.echo(
        f"Imported {path}: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )


@click.command("export-inventory")
@click.argument("kind", type=KIND)
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@USER
def export_inventory_command(kind: str, path: Path, email: str) -> None:
    """Write KIND (types, units, pools or sites) to the CSV file PATH."""
    try:
        data = csv_inventory.export_csv(get_session(), kind, by=_user_by_email(email))
    except BookingError as error:
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(1)
    path.write_bytes(data)
    click.echo(f"Wrote {path}.")


def register_cli(app: Flask) -> None:
    """Add the inventory CSV commands to the application's commands."""
    app.cli.add_command(import_inventory_command)
    app.cli.add_command(export_inventory_command)
