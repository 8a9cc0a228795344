"""The "API tokens" page: make, list and revoke personal tokens for /api/v1."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from booking.db import get_session
from booking.errors import BookingError
from booking.forms.api_tokens import TokenForm
from booking.forms.common import ActionForm
from booking.services import api_tokens as service
from booking.views.helpers import current, flash_error

bp = Blueprint("api_tokens", __name__, url_prefix="/api-tokens")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every account may have tokens; they act with its role and commune."""


def _render(form: TokenForm, secret: str | None = None, status: int = 200) -> tuple[str, int]:
    tokens = service.list_tokens(get_session(), by=current())
    page = render_template(
        "api/tokens.html", form=form, tokens=tokens, secret=secret, action_form=ActionForm()
    )
    return page, status


@bp.route("/")
def index() -> tuple[str, int]:
    """My tokens, and a form to make one."""
    return _render(TokenForm())


@bp.route("/", methods=["POST"])
def create() -> tuple[str, int]:
    """Make a token and show its secret once."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _render(form, status=400)
    try:
        _token, secret = service.create_token(
            get_session(), by=current(), name=form.name.data or "", read_only=form.read_only.data
        )
    except BookingError as error:
        flash_error(error, form)
        return _render(form, status=400)
    flash(_("Token made: copy it now, it is shown only once."), "success")
    return _render(TokenForm(formdata=None), secret=secret, status=201)


@bp.route("/<int:token_id>/revoke", methods=["POST"])
def revoke(token_id: int) -> Response:
    """Revoke one of my tokens."""
    if ActionForm().validate_on_submit():
        try:
            service.revoke_token(get_session(), token_id, by=current())
            flash(_("The token was revoked."), "success")
        except BookingError as error:
            flash_error(error)
    return redirect(url_for("api_tokens.index"))
