"""CSV export and import of the inventory: one file per kind (types, units, pools, sites).

An import is all or nothing: every line is checked, and if any line is wrong
nothing is kept and every problem is reported with its line and column. Files
from French Excel are accepted (UTF-8 with a byte-order mark, ';' separators,
decimal commas in coordinates). Existing records are updated, matched by their
key (type and unit code, site name, pool type and depot); others are created.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.errors import BookingError, ValidationError
from booking.models import Commune, EquipmentType, Pool, Site, SiteKind, Unit, UnitStatus, User
from booking.services import inventory
from booking.services.access import require_staff
from booking.services.audit import FORMULA_STARTS, safe_cell
from booking.services.concurrency import conflict_on_concurrent_write
from booking.services.inventory import SiteData, TypeData, UnitData

KINDS = ("types", "units", "pools", "sites")
# French Excel writes ';' because ',' is its decimal separator; tabs come from copy-paste.
DELIMITERS = ",;\t"
EXPORT_DELIMITER = ";"
# An inventory of a few thousand lines is well under a megabyte.
MAX_BYTES = 5_000_000
TRUE_WORDS = frozenset({"1", "yes", "y", "true", "oui", "o", "vrai"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "non", "faux"})


@dataclass(frozen=True)
class Column:
    """A column of a kind's file; a missing optional column keeps existing values."""

    name: str
    required: bool
    help: LazyString


COLUMNS: dict[str, tuple[Column, ...]] = {
    "types": (
        Column("code", True, _l("unique code, e.g. minibus-9")),
        Column("name", True, _l("name shown to users")),
        Column("tracking", True, _l("unit (numbered units) or pool (quantity by depot)")),
        Column("delivered", False, _l("yes if the agglomeration delivers it, no if collected")),
        Column("turnaround_minutes", False, _l("minutes unavailable after each loan")),
        Column("min_notice_hours", False, _l("hours between the request and the loan start")),
        Column("max_loan_days", False, _l("longest loan in days; empty for no limit")),
        Column("substitutes", False, _l("codes of types that may replace it, separated by |")),
        Column("description", False, _l("free text")),
        Column("load_per_item", False, _l("pallet places one item takes on a truck, e.g. 0,5")),
    ),
    "units": (
        Column("code", True, _l("unique code, e.g. MB9-01")),
        Column("name", False, _l("name; defaults to the code")),
        Column("type", True, _l("code of a unit-tracked type")),
        Column("home_depot", True, _l("name of the depot it returns to")),
        Column("status", False, _l("available, maintenance or retired")),
        Column("notes", False, _l("free text")),
    ),
    "pools": (
        Column("type", True, _l("code of a pooled type")),
        Column("depot", True, _l("name of the depot holding the stock")),
        Column("quantity", True, _l("number of items, 0 or more")),
    ),
    "sites": (
        Column("name", True, _l("unique name, e.g. Melun - Hôtel de ville")),
        Column("kind", True, _l("depot or delivery")),
        Column("commune", False, _l("commune slug, required for delivery sites")),
        Column("address", False, _l("postal address")),
        Column("lat", True, _l("latitude in degrees (WGS 84), -90 to 90")),
        Column("lon", True, _l("longitude in degrees (WGS 84), -180 to 180")),
        Column("active", False, _l("yes or no")),
    ),
}


@dataclass(frozen=True)
class CsvProblem:
    """One thing wrong with an uploaded file.

    ``line`` is the line number as a text editor shows it (the header is line 1),
    None for the whole file; ``column`` is None when the problem is the whole line.
    """

    line: int | None
    column: str | None
    message: str


class CsvImportError(ValidationError):
    """The file was rejected; nothing was imported. ``problems`` lists every reason."""

    def __init__(self, problems: list[CsvProblem]) -> None:
        self.problems = problems
        first = problems[0]
        where = _("line %(line)s: ", line=first.line) if first.line else ""
        super().__init__(
            _(
                "The file was not imported (%(n)s problem(s)); first: %(where)s%(message)s",
                n=len(problems),
                where=where,
                message=first.message,
            )
        )


@dataclass(frozen=True)
class ImportResult:
    """What a successful import did."""

    kind: str
    created: int
    updated: int
    unchanged: int


class _CellError(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


# --- reading ----------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04") or b"\x00" in data[:4096]:
        raise CsvImportError(
            [
                CsvProblem(
                    None, None, _("This is not a CSV file (a spreadsheet?): save it as CSV UTF-8.")
                )
            ]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvImportError(
            [
                CsvProblem(
                    line,
                    None,
                    _("The file is not UTF-8 text: save it as 'CSV UTF-8' from your spreadsheet."),
                )
            ]
        ) from exc


def _rows(text: str, kind: str) -> list[tuple[int, dict[str, str]]]:
    """Splits ``text`` into (line, cells by column) and checks the header."""
    lines = text.splitlines()
    header_line = next((line for line in lines if line.strip()), None)
    if header_line is None:
        raise CsvImportError([CsvProblem(None, None, _("The file is empty."))])
    counts = {d: header_line.count(d) for d in DELIMITERS}
    delimiter = max(counts, key=lambda d: counts[d])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = {c.name: c for c in COLUMNS[kind]}
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[CsvProblem] = []
    previous_end = 0
    try:
        for record in reader:
            line, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip().lower().replace(" ", "_") for cell in record]
                problems.extend(_header_problems(header, kind, line))
                if problems:
                    raise CsvImportError(problems)
                continue
            if len(record) > len(header) and any(c.strip() for c in record[len(header) :]):
                problems.append(
                    CsvProblem(
                        line,
                        None,
                        _(
                            "%(n)s cells for %(m)s columns: is a value with a separator "
                            "missing its quotes?",
                            n=len(record),
                            m=len(header),
                        ),
                    )
                )
                continue
            cells = {
                name: (_unquote(record[i].strip()) if i < len(record) else "")
                for i, name in enumerate(header)
                if name in columns
            }
            rows.append((line, cells))
    except csv.Error as exc:
        problems.append(
            CsvProblem(previous_end + 1, None, _("Unreadable CSV: %(error)s", error=exc))
        )
    if problems:
        raise CsvImportError(problems)
    return rows


def _header_problems(header: list[str], kind: str, line: int) -> Iterator[CsvProblem]:
    known = [c.name for c in COLUMNS[kind]]
    for column in COLUMNS[kind]:
        if column.required and column.name not in header:
            yield CsvProblem(line, column.name, _("Missing column %(name)s.", name=column.name))
    seen: set[str] = set()
    for name in header:
        if name in seen:
            yield CsvProblem(line, name, _("Column %(name)s appears twice.", name=name))
        seen.add(name)
        if name and name not in known:
            yield CsvProblem(
                line,
                name,
                _(
                    "Unknown column %(name)s; the columns are: %(known)s.",
                    name=name,
                    known=", ".join(known),
                ),
            )


# --- cells ------------------------------------------------------------------------------


def _text(cells: dict[str, str], column: str, required: bool = False) -> str:
    value = cells.get(column, "")
    if required and not value:
        raise _CellError(column, _("This value is required."))
    return value


def _int(cells: dict[str, str], column: str, minimum: int) -> int | None:
    value = cells.get(column, "")
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise _CellError(column, _("%(value)s is not a whole number.", value=value)) from None
    if number < minimum:
        raise _CellError(
            column, _("%(value)s is below the minimum %(minimum)s.", value=value, minimum=minimum)
        )
    return number


def _degrees(cells: dict[str, str], column: str, limit: int) -> float:
    value = _text(cells, column, required=True)
    try:
        number = float(value.replace(",", "."))  # French decimal comma
    except ValueError:
        raise _CellError(column, _("%(value)s is not a number.", value=value)) from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise _CellError(
            column,
            _("%(value)s is outside -%(limit)s..%(limit)s degrees.", value=value, limit=limit),
        )
    return number


def _number(cells: dict[str, str], column: str) -> float | None:
    value = cells.get(column, "")
    if not value:
        return None
    try:
        number = float(value.replace(",", "."))  # French decimal comma
    except ValueError:
        raise _CellError(column, _("%(value)s is not a number.", value=value)) from None
    if not math.isfinite(number) or number <= 0:
        raise _CellError(column, _("%(value)s must be more than 0.", value=value))
    return number


def _bool(cells: dict[str, str], column: str) -> bool | None:
    value = cells.get(column, "").lower()
    if not value:
        return None
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise _CellError(column, _("%(value)s is neither yes nor no.", value=cells[column]))


def _choice(cells: dict[str, str], column: str, choices: dict[str, Any]) -> Any:
    value = cells.get(column, "").lower()
    if not value:
        return None
    if value not in choices:
        raise _CellError(
            column,
            _(
                "%(value)s is not one of: %(choices)s.",
                value=cells[column],
                choices=", ".join(dict.fromkeys(choices)),
            ),
        )
    return choices[value]


TRACKING = {"unit": False, "pool": True}
SITE_KINDS = {"depot": SiteKind.DEPOT, "delivery": SiteKind.DELIVERY}
STATUSES = {s.value: s for s in UnitStatus}


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


# --- import -----------------------------------------------------------------------------


def _required_choice(cells: dict[str, str], column: str, choices: dict[str, Any]) -> Any:
    value = _choice(cells, column, choices)
    if value is None:
        raise _CellError(column, _("This value is required."))
    return value


def _parse_type(cells: dict[str, str], current: EquipmentType | None) -> TypeData:
    base = (
        TypeData(
            code=current.code,
            name=current.name,
            turnaround_minutes=current.turnaround_minutes,
            min_notice_hours=current.min_notice_hours,
            max_loan_days=current.max_loan_days,
            is_delivered=current.is_delivered,
            is_pooled=current.is_pooled,
            substitute_codes=tuple(s.code for s in current.substitutes),
            description=current.description,
            load_per_item=current.load_per_item,
        )
        if current
        else TypeData(code="", name="")
    )
    substitutes = base.substitute_codes
    if "substitutes" in cells:
        substitutes = tuple(cells["substitutes"].replace("|", " ").replace(",", " ").split())
    return replace(
        base,
        code=_text(cells, "code", required=True),
        name=_text(cells, "name", required=True),
        is_pooled=_required_choice(cells, "tracking", TRACKING),
        is_delivered=_pick(_bool(cells, "delivered"), base.is_delivered),
        turnaround_minutes=_pick(_int(cells, "turnaround_minutes", 0), base.turnaround_minutes),
        min_notice_hours=_pick(_int(cells, "min_notice_hours", 0), base.min_notice_hours),
        max_loan_days=(
            _int(cells, "max_loan_days", 1) if "max_loan_days" in cells else base.max_loan_days
        ),
        substitute_codes=substitutes,
        description=cells.get("description", base.description),
        load_per_item=(
            _number(cells, "load_per_item") if "load_per_item" in cells else base.load_per_item
        ),
    )


def _depot_by_name(session: Session) -> dict[str, Site]:
    return {
        s.name.lower(): s for s in session.scalars(select(Site).where(Site.kind == SiteKind.DEPOT))
    }


def import_csv(
    session: Session, kind: str, data: bytes, *, by: User, commit: bool = True
) -> ImportResult:
    """Imports one kind of inventory from CSV bytes, all or nothing.

    Every line goes through the same services as the forms (with their audit
    events). On success the whole file is committed at once (only flushed with
    ``commit=False``). On any problem the session is rolled back, so nothing of the
    file remains (nor anything else left uncommitted in the session), and every
    problem found is reported.

    Raises:
        Forbidden: ``by`` is not a manager or an admin.
        ValidationError: ``kind`` is not one of ``KINDS``.
        CsvImportError: the file is too large or unreadable, or some lines are wrong.
        Conflict: another transaction changed the inventory at the same moment.
    """
    require_staff(by)
    if kind not in KINDS:
        raise ValidationError(_("Unknown kind of inventory file: %(kind)s.", kind=kind))
    if len(data) > MAX_BYTES:
        raise CsvImportError(
            [CsvProblem(None, None, _("The file is larger than %(n)d MB.", n=MAX_BYTES // 10**6))]
        )
    rows = _rows(_decode(data), kind)
    importer = {
        "types": _import_types,
        "units": _import_units,
        "pools": _import_pools,
        "sites": _import_sites,
    }[kind]
    problems: list[CsvProblem] = []
    counts = _Counts()
    importer(session, by, rows, problems, counts)
    if problems:
        session.rollback()
        raise CsvImportError(sorted(problems, key=lambda p: (p.line or 0, p.column or "")))
    with conflict_on_concurrent_write(session):
        if commit:
            session.commit()
        else:
            session.flush()
    return ImportResult(kind, counts.created, counts.updated, counts.unchanged)


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, created: bool, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        if created:
            self.created += 1
        elif before != after:
            self.updated += 1
        else:
            self.unchanged += 1


Rows = list[tuple[int, dict[str, str]]]


def _parse_all(
    rows: Rows,
    key_columns: tuple[str, ...],
    parse: Callable[[dict[str, str]], Any],
    problems: list[CsvProblem],
) -> list[tuple[int, Any]]:
    """Parses every row, reporting cell errors and repeated keys; returns (line, value).

    Keys compare case-insensitively; a repeated key is reported on its later line, in
    the last key column.
    """
    seen: dict[str, int] = {}
    parsed = []
    for line, cells in rows:
        try:
            value = parse(cells)
        except _CellError as exc:
            problems.append(CsvProblem(line, exc.column, exc.message))
            continue
        key = " / ".join(cells[c] for c in key_columns)
        first = seen.setdefault(key.lower(), line)
        if first != line:
            problems.append(
                CsvProblem(
                    line,
                    key_columns[-1],
                    _("Duplicate: %(key)s is already on line %(first)s.", key=key, first=first),
                )
            )
            continue
        parsed.append((line, value))
    return parsed


# Service field names that differ from the CSV column they come from.
FIELD_COLUMNS = {
    "is_pooled": "tracking",
    "type_id": "type",
    "home_depot_id": "home_depot",
    "depot_id": "depot",
    "commune_id": "commune",
}


def _apply(line: int, problems: list[CsvProblem], call: Callable[[], Any]) -> Any:
    """Runs one service call, turning its errors into problems of ``line``."""
    try:
        return call()
    except ValidationError as exc:
        for field, message in exc.errors:
            problems.append(CsvProblem(line, FIELD_COLUMNS.get(field or "", field), message))
    except BookingError as exc:
        problems.append(CsvProblem(line, None, str(exc)))
    return None


def _create_or_update(
    session: Session,
    by: User,
    parsed: list[tuple[int, Any]],
    problems: list[CsvProblem],
    counts: _Counts,
    *,
    create: Callable[..., Any],
    update: Callable[..., Any],
    snapshot: Callable[[Any], Any],
) -> None:
    """Creates the new records and updates the known ones, line by line.

    ``parsed`` holds (line, (current record or None, parsed data)); the service calls
    don't commit, so the caller's transaction stays all or nothing.
    """
    for line, (current, data) in parsed:
        before = snapshot(current) if current else None
        if current is None:
            call = partial(create, session, data, by=by, commit=False)
        else:
            call = partial(update, session, current.id, data, by=by, commit=False)
        record = _apply(line, problems, call)
        if record is not None:
            counts.count(current is None, before, snapshot(record))


def _import_types(
    session: Session, by: User, rows: Rows, problems: list[CsvProblem], counts: _Counts
) -> None:
    existing = {t.code: t for t in session.scalars(select(EquipmentType))}
    file_codes = {cells.get("code", "") for _line, cells in rows}

    def parse(cells: dict[str, str]) -> tuple[EquipmentType | None, TypeData]:
        current = existing.get(cells.get("code", ""))
        data = _parse_type(cells, current)
        unknown = [c for c in data.substitute_codes if c not in existing and c not in file_codes]
        if unknown:
            raise _CellError(
                "substitutes", _("Unknown type(s): %(codes)s.", codes=", ".join(unknown))
            )
        return current, data

    parsed = _parse_all(rows, ("code",), parse, problems)
    if problems:
        return
    # New types first, without substitutes, so that a type may name as substitute
    # a type defined further down the file.
    ids: dict[int, int] = {}
    for line, (current, data) in parsed:
        if current is None:
            bare = replace(data, substitute_codes=())
            t = _apply(
                line,
                problems,
                partial(inventory.create_type, session, bare, by=by, commit=False),
            )
            if t is not None:
                ids[line] = t.id
                counts.created += 1
    for line, (current, data) in parsed:
        type_id = current.id if current else ids.get(line)
        if type_id is None or (current is None and not data.substitute_codes):
            continue
        before = inventory.type_snapshot(current) if current else None
        t = _apply(
            line,
            problems,
            partial(inventory.update_type, session, type_id, data, by=by, commit=False),
        )
        if t is not None and current is not None:
            counts.count(False, before, inventory.type_snapshot(t))


def _import_units(
    session: Session, by: User, rows: Rows, problems: list[CsvProblem], counts: _Counts
) -> None:
    existing = {u.code: u for u in session.scalars(select(Unit))}
    types = {t.code: t for t in session.scalars(select(EquipmentType))}
    depots = _depot_by_name(session)

    def parse(cells: dict[str, str]) -> tuple[Unit | None, UnitData]:
        code = _text(cells, "code", required=True)
        current = existing.get(code)
        type_code = _text(cells, "type", required=True)
        t = types.get(type_code)
        if t is None:
            raise _CellError("type", _("Unknown type %(code)s.", code=type_code))
        if t.is_pooled:
            raise _CellError(
                "type", _("%(code)s is pooled: give its quantities in pools.csv.", code=type_code)
            )
        depot_name = _text(cells, "home_depot", required=True)
        depot = depots.get(depot_name.lower())
        if depot is None:
            raise _CellError("home_depot", _("Unknown depot %(name)s.", name=depot_name))
        status = _choice(cells, "status", STATUSES)
        return current, UnitData(
            code=code,
            name=cells.get("name") or (current.name if current else code),
            type_id=t.id,
            home_depot_id=depot.id,
            status=status or (current.status if current else UnitStatus.AVAILABLE),
            notes=cells.get("notes", current.notes if current else None),
        )

    parsed = _parse_all(rows, ("code",), parse, problems)
    if problems:
        return
    _create_or_update(
        session,
        by,
        parsed,
        problems,
        counts,
        create=inventory.create_unit,
        update=inventory.update_unit,
        snapshot=inventory.unit_snapshot,
    )


def _import_pools(
    session: Session, by: User, rows: Rows, problems: list[CsvProblem], counts: _Counts
) -> None:
    types = {t.code: t for t in session.scalars(select(EquipmentType))}
    depots = _depot_by_name(session)
    existing = {(p.type_id, p.depot_id): p.quantity for p in session.scalars(select(Pool))}

    def parse(cells: dict[str, str]) -> tuple[int, int, int]:
        type_code = _text(cells, "type", required=True)
        t = types.get(type_code)
        if t is None:
            raise _CellError("type", _("Unknown type %(code)s.", code=type_code))
        if not t.is_pooled:
            raise _CellError(
                "type",
                _("%(code)s is tracked by unit: list its units in units.csv.", code=type_code),
            )
        depot_name = _text(cells, "depot", required=True)
        depot = depots.get(depot_name.lower())
        if depot is None:
            raise _CellError("depot", _("Unknown depot %(name)s.", name=depot_name))
        quantity = _int(cells, "quantity", 0)
        if quantity is None:
            raise _CellError("quantity", _("This value is required."))
        return t.id, depot.id, quantity

    parsed = _parse_all(rows, ("type", "depot"), parse, problems)
    if problems:
        return
    for line, (type_id, depot_id, quantity) in parsed:
        before = existing.get((type_id, depot_id))
        if (
            _apply(
                line,
                problems,
                partial(
                    inventory.set_pool_quantity,
                    session,
                    type_id,
                    depot_id,
                    quantity,
                    by=by,
                    commit=False,
                ),
            )
            is not None
        ):
            counts.count(before is None, {"q": before}, {"q": quantity})


def _import_sites(
    session: Session, by: User, rows: Rows, problems: list[CsvProblem], counts: _Counts
) -> None:
    existing = {s.name.lower(): s for s in session.scalars(select(Site))}
    communes = {c.slug: c for c in session.scalars(select(Commune))}

    def parse(cells: dict[str, str]) -> tuple[Site | None, SiteData]:
        name = _text(cells, "name", required=True)
        current = existing.get(name.lower())
        kind = _required_choice(cells, "kind", SITE_KINDS)
        commune_id = current.commune_id if current else None
        if "commune" in cells:
            slug = cells["commune"]
            commune_id = None
            if slug:
                if slug not in communes:
                    raise _CellError("commune", _("Unknown commune %(slug)s.", slug=slug))
                commune_id = communes[slug].id
        if kind is SiteKind.DELIVERY and commune_id is None:
            raise _CellError("commune", _("A delivery site needs a commune."))
        return current, SiteData(
            name=name,
            kind=kind,
            lat=_degrees(cells, "lat", 90),
            lon=_degrees(cells, "lon", 180),
            commune_id=commune_id,
            address=cells.get("address", current.address if current else None),
            is_active=_pick(_bool(cells, "active"), current.is_active if current else True),
        )

    parsed = _parse_all(rows, ("name",), parse, problems)
    if problems:
        return
    _create_or_update(
        session,
        by,
        parsed,
        problems,
        counts,
        create=inventory.create_site,
        update=inventory.update_site,
        snapshot=inventory.site_snapshot,
    )


# --- export -----------------------------------------------------------------------------


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _export_rows(session: Session, by: User, kind: str) -> Iterator[list[Any]]:
    if kind == "types":
        for t in inventory.list_types(session, by=by):
            yield [
                t.code,
                t.name,
                "pool" if t.is_pooled else "unit",
                _yes_no(t.is_delivered),
                t.turnaround_minutes,
                t.min_notice_hours,
                "" if t.max_loan_days is None else t.max_loan_days,
                "|".join(sorted(s.code for s in t.substitutes)),
                t.description or "",
                "" if t.load_per_item is None else t.load_per_item,
            ]
    elif kind == "units":
        for u in inventory.list_units(session, by=by):
            yield [u.code, u.name, u.type.code, u.home_depot.name, u.status.value, u.notes or ""]
    elif kind == "pools":
        for p in inventory.list_pools(session, by=by):
            yield [p.type.code, p.depot.name, p.quantity]
    else:
        for s in inventory.list_sites(session, by=by):
            yield [
                s.name,
                s.kind.value,
                s.commune.slug if s.commune else "",
                s.address or "",
                s.lat,
                s.lon,
                _yes_no(s.is_active),
            ]


def _unquote(cell: str) -> str:
    """A cell as exported: the quote ``safe_cell`` put before a formula character goes."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def _inert(row: list[Any]) -> list[Any]:
    """Text cells a spreadsheet would run as formulas get a leading quote (numbers stay)."""
    return [safe_cell(cell) if isinstance(cell, str) else cell for cell in row]


def export_csv(session: Session, kind: str, *, by: User) -> bytes:
    """One kind of inventory as CSV bytes that ``import_csv`` reads back unchanged.

    UTF-8 with a byte-order mark and ';' separators, so that Excel in French opens
    it directly; coordinates keep their decimal point so no precision is lost. Text that
    a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) starts with a
    quote, which the import removes.

    Raises:
        PermissionDenied: ``by`` is not a manager.
        ValidationError: ``kind`` is not one of ``KINDS``.
    """
    require_staff(by)
    if kind not in KINDS:
        raise ValidationError(_("Unknown kind of inventory file: %(kind)s.", kind=kind))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=EXPORT_DELIMITER, lineterminator="\r\n")
    writer.writerow([c.name for c in COLUMNS[kind]])
    writer.writerows(_inert(row) for row in _export_rows(session, by, kind))
    return out.getvalue().encode("utf-8-sig")
