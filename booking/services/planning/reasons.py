"""Why a request is unserved, in the reader's language.

The solver explains an unserved request as a structured ``solver.explain.Reason``; plans
store it as ``Reason.to_dict()``. This module words it through gettext (French by
default), naming types and requests as people know them rather than by their ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.i18n import local_datetime
from booking.models import EquipmentType, LoanRequest
from booking.services.planning.ids import request_id_of

MAX_NAMED = 4  # requests named before "and N more"


def _when(value: str | None) -> str:
    if not value:
        return "?"
    return local_datetime(datetime.fromisoformat(value), "short")


def _type_name(session: Session, code: str | None, names: Mapping[str, str] | None) -> str:
    if not code:
        return _("equipment")
    if names is not None:
        return names.get(code) or code
    name = session.scalar(select(EquipmentType.name).where(EquipmentType.code == code))
    return name or code


def _requests(session: Session, keys: list[str]) -> str:
    labels = []
    for key in keys[:MAX_NAMED]:
        request_id = request_id_of(key)
        loan = session.get(LoanRequest, request_id) if request_id is not None else None
        if loan is None:
            labels.append(key)
        else:
            labels.append(f"n° {loan.id} {loan.title} ({loan.commune.name})")
    text = ", ".join(labels)
    if len(keys) > MAX_NAMED:
        text += " " + _("and %(n)s more", n=len(keys) - MAX_NAMED)
    return text


def describe_reason(
    session: Session,
    reason: dict[str, Any] | None,
    *,
    type_names: Mapping[str, str] | None = None,
) -> str:
    """One sentence, in the current language, saying why a request is unserved.

    Args:
        session: the database session.
        reason: the stored reason (``solver.explain.Reason.to_dict()``).
        type_names: equipment type names by code, to word many reasons without a query
            each (default: read from the database).
    """
    if not reason:
        return _("No reason was recorded.")
    kind = reason.get("kind")
    if kind is None:
        # Only the solver's English line was available.
        return str(reason.get("text") or _("No reason was recorded."))
    values = {
        "type": _type_name(session, reason.get("type_id"), type_names),
        "start": _when(reason.get("period_start")),
        "end": _when(reason.get("period_end")),
        "asked": reason.get("asked", 0),
        "stock": reason.get("stock", 0),
        "short": reason.get("short_by", 0),
        "blocking": _requests(session, list(reason.get("blocking_ids") or [])),
        "blocking_value": reason.get("blocking_value", 0),
        "own_value": reason.get("own_value", 0),
        "types": ", ".join(_type_name(session, t, type_names) for t in reason.get("types") or []),
    }
    if kind == "NO_SUCH_EQUIPMENT":
        text = _("There is no %(type)s in the inventory, nor any substitute.", **values)
    elif kind == "EXCEEDS_STOCK":
        text = _("%(asked)s × %(type)s asked, but the whole stock is %(stock)s.", **values)
    elif kind == "OUTSIDE_HORIZON":
        text = _("The requested dates lie outside the planning period.")
    elif kind == "MAINTENANCE":
        text = _("Every %(type)s is in maintenance from %(start)s to %(end)s.", **values)
    elif kind == "BUSY":
        text = ngettext(
            "%(type)s: %(num)s missing from %(start)s to %(end)s, held by %(blocking)s.",
            "%(type)s: %(num)s missing from %(start)s to %(end)s, held by %(blocking)s.",
            int(values["short"] or 1),
            **values,
        )
    elif kind == "TRAVEL":
        text = _(
            "%(type)s: a unit is free, but cannot get there in time from %(start)s to "
            "%(end)s (turnaround and travel after %(blocking)s).",
            **values,
        )
    elif kind == "COMBINATION":
        text = _(
            "Each item could be lent alone, but %(types)s are never free together at one time.",
            **values,
        )
    elif kind == "LOWER_PRIORITY_TRADEOFF":
        text = _(
            "Serving it would displace %(blocking)s, worth more (priority value "
            "%(blocking_value)s against %(own_value)s).",
            **values,
        )
    elif kind == "NOT_SELECTED":
        text = _(
            "It fits beside the other loans, but the optimiser left it out: run it again with "
            "a longer time limit."
        )
    else:
        text = str(reason.get("text") or kind)
    if reason.get("shifts_tried") and kind in {"MAINTENANCE", "BUSY", "TRAVEL", "COMBINATION"}:
        text += " " + _("No date shift inside its window helps.")
    return text
