// Parse an iCalendar document from stdin with Mozilla's ical.js and print what a calendar
// app would read from it, as JSON: the calendar's properties, its time zones and, for each
// event, its UID, SEQUENCE, STATUS, SUMMARY, DESCRIPTION, LOCATION and its start and end as UTC instants.
import ICAL from "ical.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const text = Buffer.concat(chunks).toString("utf8");

const root = new ICAL.Component(ICAL.parse(text));
const timezones = root.getAllSubcomponents("vtimezone").map((vtz) => {
  const tz = new ICAL.Timezone(vtz);
  ICAL.TimezoneService.register(tz, tz.tzid);
  return {
    tzid: tz.tzid,
    rrules: vtz.getAllSubcomponents().map((c) => String(c.getFirstPropertyValue("rrule"))),
  };
});
const names = root.getAllSubcomponents().map((c) => c.name);
const events = root.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  const startProp = vevent.getFirstProperty("dtstart");
  return {
    uid: event.uid,
    sequence: event.sequence,
    status: vevent.getFirstPropertyValue("status"),
    summary: event.summary,
    description: event.description,
    location: event.location,
    tzid: startProp.getParameter("tzid") || null,
    start: event.startDate.toJSDate().toISOString(),
    end: event.endDate.toJSDate().toISOString(),
    dtstamp: vevent.getFirstPropertyValue("dtstamp").toJSDate().toISOString(),
    geo: vevent.getFirstPropertyValue("geo"),
    url: vevent.getFirstPropertyValue("url"),
  };
});
const props = Object.fromEntries(
  root.getAllProperties().map((p) => [p.name, String(p.getFirstValue())]),
);
process.stdout.write(JSON.stringify({ props, timezones, components: names, events }));
