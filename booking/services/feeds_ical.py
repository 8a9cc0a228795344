"""Writing feeds as iCalendar (RFC 5545, with the RFC 7986 calendar properties).

What the calendar apps need, beyond the letter of the RFC:

* one VTIMEZONE for Europe/Paris written with yearly RRULEs (Outlook misreads long RDATE
  lists), placed before the events, and declared for every TZID used;
* no METHOD (a subscription is not an invitation) and no UID on the calendar itself;
* a stable UID per loan and per delivery or collection, built from database keys;
* DTSTAMP and LAST-MODIFIED equal to the loan's last change, so that an unchanged feed is
  byte-identical between polls;
* cancelled and tentative events marked in the title too (Outlook ignores STATUS), and
  cancelled ones TRANSPARENT so they never block time.

Every VEVENT is serialised by ``icalendar`` once and kept in memory keyed by all it
contains (:data:`booking.services.feeds_cache.EVENT_CACHE`); a feed is the calendar's
header, also written by ``icalendar``, with the cached events spliced in. Building 5,000
events with ``icalendar`` takes seconds; splicing cached ones takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vDuration

from booking.models import LOAD_SCALE
from booking.services.feeds_cache import EVENT_CACHE
from booking.services.feeds_data import CANCELLED, TENTATIVE, EventData
from booking.timeutil import LOCAL_TZ

PRODID = "-//Prêt Commun//Calendar feeds//FR"
REFRESH = timedelta(hours=1)
END_CALENDAR = b"END:VCALENDAR\r\n"


@dataclass(frozen=True)
class Labels:
    """Words of the feed in its owner's language (hashable: part of the cache key)."""

    cancelled: str
    tentative: str
    delivery: str
    collection: str
    commune: str
    equipment: str
    units: str
    depot: str
    contact: str
    status: str
    confirmed_status: str
    tentative_status: str
    cancelled_status: str
    notes: str
    # "{label}: {value}" (French puts a space before the colon).
    field: str = "{label}: {value}"
    # Stops planned in a truck's round: "Stop {n}", "{n} pallet places".
    truck: str = "Truck"
    stop: str = "Stop {n}"
    load: str = "Load"
    pallet_places: str = "{n} pallet places"
    address: str = "Address"


def paris_timezone() -> Timezone:
    """Europe/Paris as the EU rule since 1996: last Sunday of March and of October."""
    tz = Timezone()
    tz.add("tzid", LOCAL_TZ.key)
    tz.add("x-lic-location", LOCAL_TZ.key)
    summer = TimezoneDaylight()
    summer.add("tzname", "CEST")
    summer.add("tzoffsetfrom", timedelta(hours=1))
    summer.add("tzoffsetto", timedelta(hours=2))
    summer.add("dtstart", datetime(1996, 3, 31, 2, 0))
    summer.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1SU"})
    winter = TimezoneStandard()
    winter.add("tzname", "CET")
    winter.add("tzoffsetfrom", timedelta(hours=2))
    winter.add("tzoffsetto", timedelta(hours=1))
    winter.add("dtstart", datetime(1996, 10, 27, 3, 0))
    winter.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1SU"})
    tz.add_component(summer)
    tz.add_component(winter)
    return tz


def calendar_header(name: str, description: str) -> bytes:
    """The calendar's properties and its VTIMEZONE, without the closing line."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("description", description)
    cal.add("x-wr-caldesc", description)
    cal.add("x-wr-timezone", LOCAL_TZ.key)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))
    cal.add_component(paris_timezone())
    text: bytes = cal.to_ical()
    assert text.endswith(END_CALENDAR)
    return text[: -len(END_CALENDAR)]


def uid(event: EventData, domain: str) -> str:
    """A UID that only depends on database keys: the loan, and the delivery or collection."""
    return f"pret-commun-{event.kind}-{event.loan_id}@{domain}"


def summary(event: EventData, labels: Labels) -> str:
    items = ", ".join(f"{qty} × {name}" for name, qty in event.lines)
    if event.kind == "loan":
        text = f"{event.title or items} · {event.commune}"
        if event.title and items:
            text += f" ({items})"
    else:
        what = labels.delivery if event.kind == "delivery" else labels.collection
        text = f"{what} · {event.commune} · {event.site}"
        if event.position:
            # Calendar apps list events by time: the number keeps the round's order visible.
            text = f"{event.position}. {text}"
        if items:
            text += f" ({items})"
    if event.status == CANCELLED:
        return f"{labels.cancelled} {text}"
    if event.status == TENTATIVE:
        return f"{labels.tentative} {text}"
    return text


def description(event: EventData, labels: Labels) -> str:
    status = {
        CANCELLED: labels.cancelled_status,
        TENTATIVE: labels.tentative_status,
    }.get(event.status, labels.confirmed_status)
    rows = [event.title] if event.title else []
    field = labels.field.format
    rows.append(field(label=labels.commune, value=event.commune))
    if event.truck:
        place = f"{event.site}, {event.address}" if event.address else event.site
        rows.append(field(label=labels.truck, value=event.truck))
        rows.append(labels.stop.format(n=event.position))
        rows.append(field(label=labels.address, value=place))
        load = f"{event.load / LOAD_SCALE:g}"
        rows.append(field(label=labels.load, value=labels.pallet_places.format(n=load)))
    if event.lines:
        items = ", ".join(f"{qty} × {name}" for name, qty in event.lines)
        rows.append(field(label=labels.equipment, value=items))
    units = [f"{name} ({code})" for name, code in event.units]
    units += [f"{qty} × {name} ({depot})" for name, qty, depot in event.draws]
    if units:
        rows.append(field(label=labels.units, value=", ".join(units)))
    if event.depots:
        rows.append(field(label=labels.depot, value=", ".join(event.depots)))
    if event.contact:
        rows.append(field(label=labels.contact, value=event.contact))
    rows.append(field(label=labels.status, value=status))
    if event.notes:
        rows.append(field(label=labels.notes, value=event.notes))
    return "\n".join(rows)


def render_event(event: EventData, labels: Labels, *, domain: str, request_url: str) -> bytes:
    """One VEVENT as folded CRLF bytes, written by ``icalendar``.

    Args:
        event: what the event says.
        labels: words in the feed's language.
        domain: the right-hand side of UIDs.
        request_url: the request page, with ``{id}`` standing for the request id.
    """
    vevent = Event()
    vevent.add("uid", uid(event, domain))
    vevent.add("dtstamp", event.stamp_dt)
    vevent.add("last-modified", event.stamp_dt)
    vevent.add("created", event.created_dt.replace(microsecond=0))
    vevent.add("sequence", event.sequence)
    vevent.add("dtstart", event.start_dt.astimezone(LOCAL_TZ))
    vevent.add("dtend", event.end_dt.astimezone(LOCAL_TZ))
    vevent.add("summary", summary(event, labels))
    vevent.add("description", description(event, labels))
    location = event.site if not event.address else f"{event.site}, {event.address}"
    vevent.add("location", location)
    vevent.add("geo", (round(event.lat, 6), round(event.lon, 6)))
    vevent.add("url", request_url.format(id=event.loan_id))
    vevent.add("status", event.status)
    vevent.add("transp", "TRANSPARENT" if event.status == CANCELLED else "OPAQUE")
    vevent.add("class", "PUBLIC")
    return bytes(vevent.to_ical())


def render_calendar(
    events: Iterable[EventData],
    labels: Labels,
    *,
    name: str,
    calendar_description: str,
    domain: str,
    request_url: str,
) -> bytes:
    """The whole feed: header, VTIMEZONE, events in the given order, closing line.

    Events already written in the same language, UID domain and URL come from
    :data:`EVENT_CACHE`, keyed by the event itself (all it contains).
    """
    context = (labels, domain, request_url)
    written: dict[EventData, bytes] | None = EVENT_CACHE.get(context)
    if written is None:
        written = {}
        EVENT_CACHE.put(context, written)
    parts = [calendar_header(name, calendar_description)]
    for event in events:
        text = written.get(event)
        if text is None:
            if len(written) >= EVENT_CACHE.limit:
                written.clear()
            text = written[event] = render_event(
                event, labels, domain=domain, request_url=request_url
            )
        parts.append(text)
    parts.append(END_CALENDAR)
    return b"".join(parts)


def labels_from(words: Mapping[str, str]) -> Labels:
    """Build :class:`Labels` from a mapping of field name to translated word."""
    return Labels(**words)
