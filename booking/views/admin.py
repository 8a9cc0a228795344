"""Account management for administrators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from booking.db import get_session
from booking.errors import BookingError
from booking.forms.admin import PasswordResetForm, UserCreateForm
from booking.forms.common import ActionForm
from booking.models import Role
from booking.services import users as user_service
from booking.services.access import require_role
from booking.views.helpers import current, flash_error

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _create_form() -> UserCreateForm:
    form = UserCreateForm()
    communes = user_service.list_communes(get_session())
    form.commune_id.choices = [SelectChoice(0, "—")] + [
        SelectChoice(c.id, c.name) for c in communes
    ]
    return form


def _render(form: UserCreateForm, status: int = 200) -> tuple[str, int]:
    users = user_service.list_users(get_session(), by=current())
    return (
        render_template(
            "admin/users.html",
            users=users,
            form=form,
            action_form=ActionForm(),
            reset_form=PasswordResetForm(),
        ),
        status,
    )


@bp.route("/users")
@login_required
def users() -> tuple[str, int]:
    """List the accounts, with a form to create one."""
    require_role(current(), Role.ADMIN)
    return _render(_create_form())


@bp.route("/users", methods=["POST"])
@login_required
def create_user() -> Response | tuple[str, int]:
    """Create an account."""
    require_role(current(), Role.ADMIN)
    form = _create_form()
    if not form.validate_on_submit():
        return _render(form, 400)
    try:
        user = user_service.create_user(
            get_session(),
            email=form.email.data or "",
            name=form.name.data or "",
            password=form.password.data or "",
            role=Role(form.role.data),
            commune_id=form.commune_id.data or None,
            by=current(),
        )
    except BookingError as error:
        flash_error(error, form)
        return _render(form, error.status_code)
    flash(_("Account %(email)s created.", email=user.email), "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@login_required
def disable_user(user_id: int) -> Response:
    """Disable an account: its owner can no longer sign in."""
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@login_required
def enable_user(user_id: int) -> Response:
    """Enable an account again."""
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool) -> Response:
    require_role(current(), Role.ADMIN)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("admin.users"))
    try:
        user = user_service.set_user_active(get_session(), user_id, active, by=current())
    except BookingError as error:
        if error.status_code == 404:
            raise
        flash_error(error)
    else:
        if active:
            flash(_("Account %(email)s enabled.", email=user.email), "success")
        else:
            flash(_("Account %(email)s disabled.", email=user.email), "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@login_required
def reset_password(user_id: int) -> Response:
    """Set a new password for an account."""
    require_role(current(), Role.ADMIN)
    form = PasswordResetForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "error")
        return redirect(url_for("admin.users"))
    try:
        user = user_service.reset_password(
            get_session(), user_id, form.password.data or "", by=current()
        )
    except BookingError as error:
        if error.status_code == 404:
            raise
        flash_error(error)
    else:
        flash(_("New password set for %(email)s.", email=user.email), "success")
    return redirect(url_for("admin.users"))
