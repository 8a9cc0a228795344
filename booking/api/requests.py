"""Loan requests: list, submit, read, replace, cancel; the services check every rule."""

from __future__ import annotations

from typing import Any

from booking.api import schemas
from booking.api.auth import api_user
from booking.api.blueprint import bp
from booking.db import get_session
from booking.errors import ValidationError
from booking.models import LoanRequest
from booking.services import request_lists as lists
from booking.services import request_rules as rules
from booking.services import requests as service

TAG = {"tags": ["Requests"]}


def _details(data: dict[str, Any], commune_id: int | None) -> dict[str, Any]:
    """The service's keyword arguments from a loaded :class:`RequestInSchema`.

    Raises:
        ValidationError: listing every rule broken, when a date is missing (the services
            need both dates; the rules report the missing ones with the rest).
    """
    details = {
        "site_id": data.get("site_id"),
        "start_dt": data.get("start_dt"),
        "end_dt": data.get("end_dt"),
        "flex_days_before": data["flex_days_before"],
        "flex_days_after": data["flex_days_after"],
        "lines": [(line["type_id"], line["quantity"]) for line in data["lines"]],
        "priority": data["priority"],
        "priority_reason": data.get("priority_reason"),
        "notes": data.get("notes"),
    }
    if details["start_dt"] is None or details["end_dt"] is None:
        problems = rules.validate_request(
            get_session(),
            by=api_user(),
            commune_id=commune_id,
            **{k: v for k, v in details.items() if k != "notes"},
        )
        raise ValidationError(errors=problems)
    return details


class _Detail:
    """A request with what the plans give it, as :class:`RequestDetailSchema` reads it."""

    def __init__(self, loan: LoanRequest, outcome: lists.RequestOutcome | None) -> None:
        self.loan = loan
        self.outcome = outcome

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loan, name)


def _with_outcome(loan: LoanRequest) -> _Detail:
    return _Detail(loan, lists.request_outcome(get_session(), loan, by=api_user()))


@bp.route("/requests")
@bp.etag
@bp.doc(**TAG, summary="List requests, soonest first")
@bp.arguments(schemas.RequestQuery, location="query", as_kwargs=True)
@bp.response(200, schemas.RequestPage)
def list_requests(**query: Any) -> dict[str, Any]:
    """The requests the user may see (a technician: their commune's), a page at a time.

    Ordered by requested start, then id, so pages are stable; a page beyond the last
    gives the last page.
    """
    statuses = query.get("status")
    filters = lists.RequestFilters(
        commune_id=query.get("commune_id"),
        status=statuses or None,
        date_from=query.get("date_from"),
        date_to=query.get("date_to"),
    )
    loans, pager = lists.page_of_requests(
        get_session(),
        by=api_user(),
        filters=filters,
        page=query["page"],
        per_page=query["per_page"],
    )
    return {
        "items": loans,
        "page": pager.page,
        "per_page": pager.per_page,
        "pages": pager.pages,
        "total": pager.total,
    }


@bp.route("/requests", methods=["POST"])
@bp.doc(**TAG, summary="Submit a request")
@bp.arguments(schemas.RequestInSchema)
@bp.response(201, schemas.RequestDetailSchema)
def create_request(data: dict[str, Any]) -> tuple[_Detail, int, dict[str, str]]:
    """Ask for equipment; every broken rule is listed in one 422 answer."""
    user = api_user()
    commune_id = data.get("commune_id")
    if commune_id is None and user.commune_id is not None:
        commune_id = user.commune_id
    loan = service.submit_request(
        get_session(),
        by=user,
        commune_id=commune_id or 0,
        title=data.get("title") or "",
        **_details(data, commune_id),
    )
    location = f"{bp.url_prefix}/requests/{loan.id}"
    return _with_outcome(loan), 201, {"Location": location}


@bp.route("/requests/<int:request_id>")
@bp.etag
@bp.doc(**TAG, summary="Read a request and what the plan gives it")
@bp.response(200, schemas.RequestDetailSchema)
def get_request(request_id: int) -> _Detail:
    """One request; another commune's is reported missing (404)."""
    return _with_outcome(service.get_request(get_session(), request_id, by=api_user()))


@bp.route("/requests/<int:request_id>", methods=["PUT"])
@bp.doc(**TAG, summary="Replace a request no plan has approved yet")
@bp.arguments(schemas.RequestUpdateSchema)
@bp.response(200, schemas.RequestDetailSchema)
def update_request(data: dict[str, Any], request_id: int) -> _Detail:
    """Change every detail at once; ``version`` guards against concurrent changes (409)."""
    session = get_session()
    current = service.get_request(session, request_id, by=api_user())
    loan = service.update_request(
        session,
        request_id,
        by=api_user(),
        title=data.get("title"),
        expected_version=data.get("version"),
        **_details(data, current.commune_id),
    )
    return _with_outcome(loan)


@bp.route("/requests/<int:request_id>/cancel", methods=["POST"])
@bp.doc(**TAG, summary="Cancel a request before its equipment is handed over")
@bp.arguments(schemas.CancelSchema)
@bp.response(200, schemas.RequestDetailSchema)
def cancel_request(data: dict[str, Any], request_id: int) -> _Detail:
    """Withdraw the request; the managers are told."""
    loan = service.cancel_request(
        get_session(), request_id, by=api_user(), reason=data.get("reason")
    )
    return _with_outcome(loan)
