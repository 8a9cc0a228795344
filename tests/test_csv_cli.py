"""``flask import-inventory`` and ``flask export-inventory``."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import AuditEvent, EquipmentType, User


def test_import_then_export(
    runner: FlaskCliRunner, db_session: Session, manager: User, tmp_path: Path
) -> None:
    source = tmp_path / "types.csv"
    source.write_text("code;name;tracking\nchair;Chaise pliante;pool\n", encoding="utf-8-sig")
    result = runner.invoke(args=["import-inventory", "types", str(source), "--user", manager.email])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output
    assert db_session.scalars(select(EquipmentType.code)).all() == ["chair"]
    event = db_session.scalars(select(AuditEvent)).one()
    assert event.actor_id == manager.id

    target = tmp_path / "out.csv"
    result = runner.invoke(args=["export-inventory", "types", str(target), "--user", manager.email])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8-sig").splitlines()[1].startswith("chair;")


def test_import_reports_every_problem_and_imports_nothing(
    runner: FlaskCliRunner, db_session: Session, admin: User, tmp_path: Path
) -> None:
    source = tmp_path / "types.csv"
    source.write_text("code,name,tracking\na,A,unit\nb,B,often\nc,,pool\n", encoding="utf-8")
    result = runner.invoke(args=["import-inventory", "types", str(source), "--user", admin.email])
    assert result.exit_code == 1
    assert "line 3, column tracking" in result.output
    assert "line 4, column name" in result.output
    assert db_session.scalars(select(EquipmentType)).all() == []


def test_technician_and_unknown_user_are_refused(
    runner: FlaskCliRunner, db_session: Session, technician: User, tmp_path: Path
) -> None:
    source = tmp_path / "types.csv"
    source.write_text("code,name,tracking\na,A,unit\n", encoding="utf-8")
    for email in (technician.email, "nobody@example.org"):
        result = runner.invoke(args=["import-inventory", "types", str(source), "--user", email])
        assert result.exit_code == 1
    assert db_session.scalars(select(EquipmentType)).all() == []
