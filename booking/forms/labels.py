"""The choice of labels to print (read from the query string)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SubmitField

from booking.services.labels import LabelFilter, LabelKind

KIND_LABELS = {
    LabelKind.ALL: _l("Units and pooled stock"),
    LabelKind.UNITS: _l("Units only"),
    LabelKind.POOLS: _l("Pooled stock only"),
}


class LabelFilterForm(FlaskForm):
    """Which labels to print (no CSRF: reading changes nothing)."""

    class Meta:
        csrf = False

    kind = SelectField(
        _l("Labels"),
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        default=LabelKind.ALL.value,
    )
    type_id = SelectField(_l("Equipment type"), coerce=int, default=0)
    depot_id = SelectField(_l("Depot"), coerce=int, default=0)
    submit = SubmitField(_l("Show the labels"))

    def to_filter(self) -> LabelFilter:
        """The validated choice."""
        return LabelFilter(
            kind=LabelKind(self.kind.data or LabelKind.ALL.value),
            type_id=self.type_id.data or 0,
            depot_id=self.depot_id.data or 0,
        )
