"""Read-only inventory: communes, sites, equipment types, units, pools, maintenance windows,
and availability over a window. Same rules as the pages: technicians see their commune
and what the request form offers; units, pools and windows are for staff."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from booking.api import schemas
from booking.api.auth import api_user
from booking.api.blueprint import bp
from booking.db import get_session
from booking.errors import NotFound, ValidationError
from booking.models import Site, User
from booking.services import availability as availability_service
from booking.services import inventory
from booking.services import request_lists as lists
from booking.services.access import STAFF_ROLES

TAG = {"tags": ["Inventory"]}


def _is_staff(user: User) -> bool:
    return user.role in STAFF_ROLES


@bp.route("/communes")
@bp.doc(**TAG, summary="Communes the token's user may act for")
@bp.response(200, schemas.CommuneList)
def communes() -> dict[str, Any]:
    """Every commune for staff; a technician's own."""
    return {"items": lists.requester_choices(get_session(), by=api_user()).communes}


@bp.route("/sites")
@bp.doc(**TAG, summary="Sites: depots and delivery places")
@bp.response(200, schemas.SiteList)
def sites() -> dict[str, Any]:
    """Every site for staff; a technician's commune's active delivery sites."""
    user = api_user()
    session = get_session()
    if _is_staff(user):
        return {"items": inventory.list_sites(session, by=user)}
    return {"items": lists.requester_choices(session, by=user).sites}


@bp.route("/equipment-types")
@bp.doc(**TAG, summary="Equipment types")
@bp.response(200, schemas.EquipmentTypeList)
def equipment_types() -> dict[str, Any]:
    """Every equipment type, by name."""
    return {"items": lists.requester_choices(get_session(), by=api_user()).types}


@bp.route("/units")
@bp.doc(**TAG, summary="Numbered units (staff)")
@bp.response(200, schemas.UnitList)
def units() -> dict[str, Any]:
    """Every unit, by type name then code."""
    return {"items": inventory.list_units(get_session(), by=api_user())}


@bp.route("/units/<int:unit_id>/unavailabilities")
@bp.doc(**TAG, summary="A unit's maintenance windows (staff)")
@bp.response(200, schemas.UnavailabilityList)
def unavailabilities(unit_id: int) -> dict[str, Any]:
    """The windows when the unit cannot be lent, by start."""
    unit = inventory.get_unit(get_session(), unit_id, by=api_user())
    return {"items": sorted(unit.unavailabilities, key=lambda w: (w.start_dt, w.id))}


@bp.route("/pools")
@bp.doc(**TAG, summary="Pooled stock per type and depot (staff)")
@bp.response(200, schemas.PoolList)
def pools() -> dict[str, Any]:
    """Every pool, by type name then depot name."""
    return {"items": inventory.list_pools(get_session(), by=api_user())}


def _site_commune(site_id: int) -> int | None:
    """The commune of a site the user may name (404 otherwise)."""
    user = api_user()
    session = get_session()
    site: Site | None
    if _is_staff(user):
        site = inventory.get_site(session, site_id, by=user)
    else:
        offered = lists.requester_choices(session, by=user).sites
        site = next((s for s in offered if s.id == site_id), None)
    if site is None:
        raise NotFound(_("Site %(id)s does not exist.", id=site_id))
    return site.commune_id


@bp.route("/availability")
@bp.doc(**TAG, summary="What is free over a window, per type")
@bp.arguments(schemas.AvailabilityQuery, location="query", as_kwargs=True)
@bp.response(200, schemas.AvailabilityList)
def availability(**query: Any) -> dict[str, Any]:
    """Stock, planned and requested quantities per type over ``[start, end)``."""
    if query["end"] <= query["start"]:
        raise ValidationError(_("The loan must end after it starts."), field="end")
    site_id = query.get("site_id")
    commune_id = _site_commune(site_id) if site_id is not None else None
    rows = availability_service.availability(
        get_session(),
        by=api_user(),
        start_dt=query["start"],
        end_dt=query["end"],
        type_ids=query.get("type_id"),
        commune_id=commune_id,
        exclude_request_id=query.get("exclude_request_id"),
    )
    quantity = query.get("quantity")
    return {
        "items": [
            row.as_dict() | {"is_enough": None if quantity is None else row.free >= quantity}
            for row in rows
        ]
    }
