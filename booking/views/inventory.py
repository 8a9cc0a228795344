"""Inventory pages for the fleet manager: types, units and windows, pools, sites, CSV."""

from __future__ import annotations

from datetime import time

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from booking.db import get_session
from booking.errors import BookingError, NotFound
from booking.forms.common import ActionForm
from booking.forms.inventory import (
    KIND_LABELS,
    SITE_KIND_LABELS,
    UNIT_STATUS_LABELS,
    ImportForm,
    PoolForm,
    SiteForm,
    TypeForm,
    UnitForm,
    WindowForm,
)
from booking.forms.rounds import TruckForm
from booking.models import EquipmentType, Site, SiteKind, UnitStatus
from booking.services import csv_inventory
from booking.services import inventory as service
from booking.services import trucks as trucks_service
from booking.services import users as user_service
from booking.services.access import require_staff
from booking.timeutil import from_local
from booking.views.helpers import current, flash_error

bp = Blueprint("inventory", __name__, url_prefix="/inventory")

# What a page returns: a redirect is werkzeug's Response, of which Flask's is a subclass.
Page = str | tuple[str, int] | BaseResponse


@bp.before_request
@login_required
def _staff_only() -> None:
    """Every inventory page is for managers and admins (the services check again)."""
    require_staff(current())


@bp.context_processor
def _labels() -> dict[str, object]:
    return {
        "status_labels": UNIT_STATUS_LABELS,
        "site_kind_labels": SITE_KIND_LABELS,
        "kind_labels": KIND_LABELS,
    }


@bp.route("/")
def index() -> str:
    """The inventory at a glance, with CSV export and import."""
    session, by = get_session(), current()
    return render_template(
        "inventory/index.html",
        types=service.list_types(session, by=by),
        sites=service.list_sites(session, by=by),
        form=ImportForm(),
        columns=csv_inventory.COLUMNS,
    )


# --- types ------------------------------------------------------------------------------


def _type_form(t: EquipmentType | None) -> TypeForm:
    form = TypeForm(unit_count=len(t.units) if t else 0)
    others = service.list_types(get_session(), by=current())
    form.substitutes.choices = [
        (o.code, f"{o.name} ({o.code})") for o in others if not o.is_pooled and o is not t
    ]
    return form


def _type_data(form: TypeForm) -> service.TypeData:
    return service.TypeData(
        code=form.code.data or "",
        name=form.name.data or "",
        description=form.description.data,
        turnaround_minutes=form.turnaround_minutes.data or 0,
        min_notice_hours=form.min_notice_hours.data or 0,
        max_loan_days=form.max_loan_days.data,
        is_delivered=form.is_delivered.data == "delivered",
        is_pooled=form.is_pooled.data == "pool",
        substitute_codes=tuple(form.substitutes.data or ()),
        load_per_item=form.load_per_item.data,
    )


@bp.route("/types")
def types() -> str:
    """Equipment types."""
    return render_template(
        "inventory/types.html", types=service.list_types(get_session(), by=current())
    )


@bp.route("/types/new", methods=["GET", "POST"])
def type_new() -> Page:
    """Create an equipment type."""
    form = _type_form(None)
    if form.validate_on_submit():
        try:
            t = service.create_type(get_session(), _type_data(form), by=current())
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Type %(code)s created.", code=t.code), "success")
            return redirect(url_for("inventory.types"))
    status = 400 if form.is_submitted() else 200
    return render_template("inventory/type_form.html", form=form, item=None), status


@bp.route("/types/<int:type_id>", methods=["GET", "POST"])
def type_edit(type_id: int) -> Page:
    """Edit an equipment type."""
    t = service.get_type(get_session(), type_id, by=current())
    form = _type_form(t)
    if not form.is_submitted():
        form.code.data, form.name.data, form.description.data = t.code, t.name, t.description
        form.turnaround_minutes.data = t.turnaround_minutes
        form.min_notice_hours.data = t.min_notice_hours
        form.max_loan_days.data = t.max_loan_days
        form.is_pooled.data = "pool" if t.is_pooled else "unit"
        form.is_delivered.data = "delivered" if t.is_delivered else "collected"
        form.substitutes.data = [s.code for s in t.substitutes]
        form.load_per_item.data = t.load_per_item
    elif form.validate():
        try:
            service.update_type(get_session(), type_id, _type_data(form), by=current())
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Type %(code)s saved.", code=form.code.data), "success")
            return redirect(url_for("inventory.types"))
    status = 400 if form.is_submitted() else 200
    return render_template("inventory/type_form.html", form=form, item=t), status


# --- units and windows ------------------------------------------------------------------


def _unit_form() -> UnitForm:
    session, by = get_session(), current()
    form = UnitForm()
    form.type_id.choices = [
        (t.id, t.name) for t in service.list_types(session, by=by) if not t.is_pooled
    ]
    form.home_depot_id.choices = [
        (s.id, s.name) for s in service.list_sites(session, by=by, kind=SiteKind.DEPOT)
    ]
    return form


def _unit_data(form: UnitForm) -> service.UnitData:
    return service.UnitData(
        code=form.code.data or "",
        name=form.name.data or "",
        type_id=form.type_id.data,
        home_depot_id=form.home_depot_id.data,
        status=UnitStatus(form.status.data),
        notes=form.notes.data,
    )


@bp.route("/units")
def units() -> str:
    """Units of the unit-tracked types."""
    return render_template(
        "inventory/units.html", units=service.list_units(get_session(), by=current())
    )


@bp.route("/units/new", methods=["GET", "POST"])
def unit_new() -> Page:
    """Create a unit."""
    form = _unit_form()
    if form.validate_on_submit():
        try:
            unit = service.create_unit(get_session(), _unit_data(form), by=current())
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Unit %(code)s created.", code=unit.code), "success")
            return redirect(url_for("inventory.unit_edit", unit_id=unit.id))
    status = 400 if form.is_submitted() else 200
    return render_template("inventory/unit_form.html", form=form, item=None), status


def _render_unit(unit_id: int, form: UnitForm, window_form: WindowForm, status: int) -> Page:
    unit = service.get_unit(get_session(), unit_id, by=current())
    return (
        render_template(
            "inventory/unit_form.html",
            form=form,
            item=unit,
            window_form=window_form,
            action_form=ActionForm(),
        ),
        status,
    )


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
def unit_edit(unit_id: int) -> Page:
    """Edit a unit and list its unavailability windows."""
    unit = service.get_unit(get_session(), unit_id, by=current())
    form = _unit_form()
    if not form.is_submitted():
        form.code.data, form.name.data, form.notes.data = unit.code, unit.name, unit.notes
        form.type_id.data, form.home_depot_id.data = unit.type_id, unit.home_depot_id
        form.status.data = unit.status.value
    elif form.validate():
        try:
            service.update_unit(get_session(), unit_id, _unit_data(form), by=current())
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Unit %(code)s saved.", code=form.code.data), "success")
            return redirect(url_for("inventory.unit_edit", unit_id=unit_id))
    status = 400 if form.is_submitted() else 200
    return _render_unit(unit_id, form, WindowForm(formdata=None), status)


@bp.route("/units/<int:unit_id>/windows", methods=["POST"])
def window_add(unit_id: int) -> Page:
    """Add a maintenance or unavailability window (times are Paris wall-clock)."""
    form = WindowForm()
    if form.validate():
        try:
            service.add_unavailability(
                get_session(),
                unit_id,
                from_local(form.start_dt.data),
                from_local(form.end_dt.data),
                form.reason.data,
                by=current(),
            )
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Window added."), "success")
            return redirect(url_for("inventory.unit_edit", unit_id=unit_id))
    unit_form = _unit_form()
    unit = service.get_unit(get_session(), unit_id, by=current())
    unit_form.process(obj=unit, formdata=None)
    unit_form.status.data = unit.status.value
    return _render_unit(unit_id, unit_form, form, 400)


@bp.route("/windows/<int:window_id>/delete", methods=["POST"])
def window_remove(window_id: int) -> Page:
    """Remove an unavailability window."""
    form = ActionForm()
    if not form.validate():
        flash(_("The form has expired; try again."), "error")
        return redirect(url_for("inventory.units"))
    unit = service.remove_unavailability(get_session(), window_id, by=current())
    flash(_("Window removed."), "success")
    return redirect(url_for("inventory.unit_edit", unit_id=unit.id))


# --- pools ------------------------------------------------------------------------------


def _pool_form() -> PoolForm:
    session, by = get_session(), current()
    form = PoolForm()
    form.type_id.choices = [
        (t.id, t.name) for t in service.list_types(session, by=by) if t.is_pooled
    ]
    form.depot_id.choices = [
        (s.id, s.name) for s in service.list_sites(session, by=by, kind=SiteKind.DEPOT)
    ]
    return form


@bp.route("/pools", methods=["GET", "POST"])
def pools() -> Page:
    """Pooled stock by type and depot, with a form to set a quantity."""
    form = _pool_form()
    if form.validate_on_submit():
        try:
            service.set_pool_quantity(
                get_session(),
                form.type_id.data,
                form.depot_id.data,
                form.quantity.data,
                by=current(),
            )
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Quantity saved."), "success")
            return redirect(url_for("inventory.pools"))
    status = 400 if form.is_submitted() else 200
    pool_list = service.list_pools(get_session(), by=current())
    return render_template("inventory/pools.html", pools=pool_list, form=form), status


# --- sites ------------------------------------------------------------------------------


def _site_form() -> SiteForm:
    form = SiteForm()
    communes = user_service.list_communes(get_session())
    form.commune_id.choices = [(0, "—")] + [(c.id, c.name) for c in communes]
    return form


def _site_data(form: SiteForm) -> service.SiteData:
    return service.SiteData(
        name=form.name.data or "",
        kind=SiteKind(form.kind.data),
        lat=form.lat.data,
        lon=form.lon.data,
        commune_id=form.commune_id.data or None,
        address=form.address.data,
        is_active=bool(form.is_active.data),
    )


@bp.route("/sites")
def sites() -> str:
    """Depots and delivery sites."""
    return render_template(
        "inventory/sites.html", sites=service.list_sites(get_session(), by=current())
    )


@bp.route("/sites/new", methods=["GET", "POST"])
def site_new() -> Page:
    """Create a site."""
    form = _site_form()
    if form.validate_on_submit():
        try:
            site = service.create_site(get_session(), _site_data(form), by=current())
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Site %(name)s created.", name=site.name), "success")
            return redirect(url_for("inventory.sites"))
    status = 400 if form.is_submitted() else 200
    return render_template("inventory/site_form.html", form=form, item=None), status


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
def site_edit(site_id: int) -> Page:
    """Edit a site."""
    site: Site = service.get_site(get_session(), site_id, by=current())
    form = _site_form()
    if not form.is_submitted():
        form.name.data, form.kind.data = site.name, site.kind.value
        form.commune_id.data = site.commune_id or 0
        form.address.data, form.lat.data, form.lon.data = site.address, site.lat, site.lon
        form.is_active.data = site.is_active
    elif form.validate():
        try:
            service.update_site(get_session(), site_id, _site_data(form), by=current())
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Site %(name)s saved.", name=form.name.data), "success")
            return redirect(url_for("inventory.sites"))
    status = 400 if form.is_submitted() else 200
    return render_template("inventory/site_form.html", form=form, item=site), status


# --- CSV --------------------------------------------------------------------------------


@bp.route("/export/<kind>.csv")
def export_csv(kind: str) -> Response:
    """Download one kind of inventory as CSV."""
    if kind not in csv_inventory.KINDS:
        raise NotFound(_("There is no %(kind)s export.", kind=kind))
    data = csv_inventory.export_csv(get_session(), kind, by=current())
    return Response(
        data,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


@bp.route("/import", methods=["GET", "POST"])
def import_csv() -> Page:
    """Upload a CSV file of one kind; all of it is imported, or nothing."""
    form = ImportForm()
    problems: list[csv_inventory.CsvProblem] = []
    if form.validate_on_submit():
        try:
            result = csv_inventory.import_csv(
                get_session(), form.kind.data, form.file.data.read(), by=current()
            )
        except csv_inventory.CsvImportError as error:
            problems = error.problems
            flash(_("Nothing was imported: correct the file and upload it again."), "error")
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(
                _(
                    "Import done: %(created)d created, %(updated)d updated, "
                    "%(unchanged)d unchanged.",
                    created=result.created,
                    updated=result.updated,
                    unchanged=result.unchanged,
                ),
                "success",
            )
            return redirect(url_for("inventory.index"))
    status = 400 if form.is_submitted() else 200
    return (
        render_template(
            "inventory/import.html", form=form, problems=problems, columns=csv_inventory.COLUMNS
        ),
        status,
    )


# --- trucks -----------------------------------------------------------------------------


def _truck_form() -> TruckForm:
    form = TruckForm()
    depots = service.list_sites(get_session(), by=current(), kind=SiteKind.DEPOT)
    form.depot_id.choices = [(d.id, d.name) for d in depots]
    return form


def _truck_data(form: TruckForm) -> trucks_service.TruckData:
    return trucks_service.TruckData(
        name=form.name.data or "",
        depot_id=form.depot_id.data or 0,
        capacity=form.capacity.data or 0,
        day_start=form.day_start.data or time(0),
        day_end=form.day_end.data or time(0),
        break_start=form.break_start.data,
        break_minutes=form.break_minutes.data or 0,
        cost_per_km=form.cost_per_km.data if form.cost_per_km.data is not None else 1.0,
        is_active=bool(form.is_active.data),
    )


@bp.route("/trucks")
def trucks() -> str:
    """Trucks, with their depot, capacity and driver's day."""
    return render_template(
        "inventory/trucks.html", trucks=trucks_service.list_trucks(get_session(), by=current())
    )


@bp.route("/trucks/new", methods=["GET", "POST"])
def truck_new() -> Page:
    """Add a truck."""
    form = _truck_form()
    if form.validate_on_submit():
        try:
            truck = trucks_service.create_truck(get_session(), _truck_data(form), by=current())
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Truck %(name)s added.", name=truck.name), "success")
            return redirect(url_for("inventory.trucks"))
    status = 400 if form.is_submitted() else 200
    return render_template("inventory/truck_form.html", form=form, item=None), status


@bp.route("/trucks/<int:truck_id>", methods=["GET", "POST"])
def truck_edit(truck_id: int) -> Page:
    """Edit a truck."""
    truck = trucks_service.get_truck(get_session(), truck_id, by=current())
    form = _truck_form()
    if not form.is_submitted():
        form.name.data, form.depot_id.data = truck.name, truck.depot_id
        form.capacity.data, form.cost_per_km.data = truck.capacity, truck.cost_per_km
        form.day_start.data, form.day_end.data = truck.day_start, truck.day_end
        form.break_start.data, form.break_minutes.data = truck.break_start, truck.break_minutes
        form.is_active.data = truck.is_active
    elif form.validate():
        try:
            trucks_service.update_truck(get_session(), truck_id, _truck_data(form), by=current())
        except BookingError as error:
            flash_error(error, form)
        else:
            flash(_("Truck %(name)s saved.", name=form.name.data), "success")
            return redirect(url_for("inventory.trucks"))
    status = 400 if form.is_submitted() else 200
    return render_template("inventory/truck_form.html", form=form, item=truck), status
