"""Hand-overs: the items of an approved loan, check-out and check-in."""

from __future__ import annotations

from typing import Any

from booking.api import schemas_planning as schemas
from booking.api.auth import api_user
from booking.api.blueprint import bp
from booking.db import get_session
from booking.services import handovers as service

TAG = {"tags": ["Hand-overs"]}


def _reports(items: list[dict[str, Any]]) -> dict[str, service.ItemReport]:
    return {
        item["key"]: service.ItemReport(
            condition=item["condition"],
            damage=item.get("damage"),
            missing_quantity=item["missing_quantity"],
        )
        for item in items
    }


@bp.route("/requests/<int:request_id>/handover")
@bp.doc(**TAG, summary="The items a loan hands over, and its hand-overs so far")
@bp.response(200, schemas.LoanSchema)
def get_handover(request_id: int) -> service.Loan:
    """The served window and items (keys to report on) of a request."""
    session = get_session()
    loan = service.get_loan(session, request_id, by=api_user())
    return service.loan_items(session, loan)


@bp.route("/requests/<int:request_id>/check-out", methods=["POST"])
@bp.doc(**TAG, summary="Record that the equipment left")
@bp.arguments(schemas.CheckOutSchema)
@bp.response(201, schemas.HandoverRowList)
def check_out(data: dict[str, Any], request_id: int) -> tuple[dict[str, Any], int]:
    """Check out an approved loan: who took it, in what state."""
    rows = service.check_out(
        get_session(),
        request_id,
        by=api_user(),
        taken_by=data["taken_by"],
        at=data.get("at"),
        reports=_reports(data["items"]),
        notes=data.get("notes"),
    )
    return {"items": rows}, 201


@bp.route("/requests/<int:request_id>/check-in", methods=["POST"])
@bp.doc(**TAG, summary="Record that the equipment came back")
@bp.arguments(schemas.CheckInSchema)
@bp.response(201, schemas.CheckInResultSchema)
def check_in(data: dict[str, Any], request_id: int) -> tuple[service.CheckInResult, int]:
    """Check in a handed-over loan: state, missing items, units sent to maintenance."""
    result = service.check_in(
        get_session(),
        request_id,
        by=api_user(),
        at=data.get("at"),
        reports=_reports(data["items"]),
        notes=data.get("notes"),
        send_to_maintenance=data["send_to_maintenance"],
        maintenance_until=data.get("maintenance_until"),
    )
    return result, 201
