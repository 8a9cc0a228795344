"""Load and fault benchmark: gunicorn with 4 workers on PostgreSQL, driven by locust.

Builds the department's year of ``bench.web`` (20,000 requests, ~200 communes) in a
PostgreSQL schema of its own, adds a technician with a calendar feed in each of the 50
busiest communes, serves the application with ``gunicorn -w 4`` and a bare Flask
application (``bench.bare``) the same way, then, with locust used as a library:

(a) 50 technicians and the fleet manager, 1-5 s of think time, for 60 s: availability,
    submission, request list, feeds (200 and 304), plan review: p50/p95/p99 and errors;
(b) each endpoint at saturation (users without think time), with the bare endpoint in
    the same run as the reference;
(c) the service time and SQL statements of one availability answer, in process.

Afterwards it checks that no unit is lent twice and that every submission the server
accepted is stored. Writes the "## Load and faults" section of BENCHMARKS.md::

    python -m bench.load [--database-url URL] [--users 50] [--seconds 60] [-o BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import gevent  # noqa: E402  (locust's own dependency; imported before the app for its patching)
from locust import FastHttpUser, between, task  # noqa: E402
from locust.env import Environment  # noqa: E402
from sqlalchemy import func, make_url, select, text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from bench.web import (  # noqa: E402
    CSRF,
    MANAGER_EMAIL,
    PASSWORD,
    Seeded,
    counting,
    machine,
    percentile,
    populate,
)
from booking import create_app  # noqa: E402
from booking.db import get_db  # noqa: E402
from booking.models import FeedKind, LoanRequest, Role, Site, User  # noqa: E402
from booking.services import feeds as feed_service  # noqa: E402
from booking.services.availability import availability  # noqa: E402

SECTION = "## Load and faults"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TITLE = "Bench load"
WORKERS = 4


@dataclass
class World:
    """What the simulated users need: accounts, feeds, the plan to review."""

    seeded: Seeded
    technicians: list[tuple[str, int, str]]  # (e-mail, site id, feed token)
    base_url: str = ""
    bare_url: str = ""


# --- the database ------------------------------------------------------------------------


def schema_url(base: str, schema: str) -> str:
    return (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def build(base: str, schema: str, requests: int) -> tuple[str, World]:
    """A fresh schema with the department's year and 50 technicians with feeds."""
    from booking.db import make_engine

    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = schema_url(base, schema)
    seeded = populate(url, requests)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    database = get_db(app)
    technicians = []
    with app.app_context(), database.session() as session:
        session.execute(text("ANALYZE"))
        busiest = session.execute(
            select(LoanRequest.commune_id, func.count())
            .group_by(LoanRequest.commune_id)
            .order_by(func.count().desc())
            .limit(50)
        ).all()
        # A cheap hash: the benchmark measures the application, not scrypt.
        cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        for n, (commune_id, _count) in enumerate(busiest):
            site_id = session.scalar(
                select(Site.id).where(Site.commune_id == commune_id).order_by(Site.id)
            )
            user = User(
                email=f"tech{n}@load.example",
                name=f"Technicien {n}",
                role=Role.TECHNICIAN,
                commune_id=commune_id,
                password_hash=cheap,
            )
            session.add(user)
            session.commit()
            _feed, token = feed_service.create_feed(
                session, by=user, kind=FeedKind.COMMUNE, target_id=commune_id, name="Commune"
            )
            technicians.append((user.email, int(site_id or 0), token))
    database.engine.dispose()
    return url, World(seeded=seeded, technicians=technicians)


# --- the servers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(app: str, env: dict[str, str]) -> Iterator[str]:
    """``gunicorn -w 4 APP`` on a free port; yields its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--access-logfile",
            "/dev/null",
            app,
        ],
        cwd=REPO,
        env={**os.environ, **env},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Ready once the workers answer (each imports the application and OR-Tools).
        deadline = time.monotonic() + 180
        answered = 0
        while time.monotonic() < deadline and answered < 3 * WORKERS:
            try:
                with urllib.request.urlopen(base + "/", timeout=30):
                    answered += 1
            except urllib.error.HTTPError:
                answered += 1
            except OSError:
                time.sleep(0.5)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


# --- the users ---------------------------------------------------------------------------

STATUS: Counter[int] = Counter()
SUBMITTED: list[str] = []


def _token(page: str) -> str:
    found = CSRF.search(page)
    return found.group(1) if found else ""


def _local(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%dT%H:%M")


class Visitor(FastHttpUser):
    """Signs in through the form; counts every status."""

    abstract = True
    world: World
    email = ""

    def sign_in(self, email: str) -> None:
        page = self.client.get("/login", name="sign-in").text or ""
        self.client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": _token(page)},
            name="sign-in",
        )

    def count(self, response: Any) -> None:
        STATUS[response.status_code] += 1


class Technician(Visitor):
    """A commune's technician: looks at availability, lists, submits, syncs a calendar."""

    wait_time = between(1, 5)
    weight = 50

    def on_start(self) -> None:
        self.rng = random.Random()
        self.email, self.site_id, self.feed = self.rng.choice(self.world.technicians)
        self.sign_in(self.email)
        self.etag = ""

    def _period(self) -> tuple[datetime, datetime]:
        h_start, h_end = self.world.seeded.horizon
        start = h_start + timedelta(hours=self.rng.randrange(0, int((h_end - h_start).days * 24)))
        return start, start + timedelta(hours=self.rng.randrange(2, 7 * 24))

    @task(5)
    def availability(self) -> None:
        start, end = self._period()
        with self.client.get(
            f"/requests/availability?start={_local(start)}&end={_local(end)}",
            name="availability",
            catch_response=True,
        ) as response:
            self.count(response)

    @task(2)
    def request_list(self) -> None:
        with self.client.get("/requests/", name="request list", catch_response=True) as r:
            self.count(r)

    @task(1)
    def feed_full(self) -> None:
        with self.client.get(
            f"/feeds/{self.feed}.ics", name="feed 200", catch_response=True
        ) as response:
            self.count(response)
            self.etag = response.headers.get("ETag", "") or self.etag

    @task(3)
    def feed_unchanged(self) -> None:
        if not self.etag:
            return self.feed_full()
        with self.client.get(
            f"/feeds/{self.feed}.ics",
            headers={"If-None-Match": self.etag},
            name="feed 304",
            catch_response=True,
        ) as response:
            self.count(response)
            if response.status_code == 304:
                response.success()
        return None

    @task(1)
    def submit(self) -> None:
        page = self.client.get("/requests/new", name="request form").text or ""
        start, _end = self._period()
        title = f"{TITLE} {self.rng.randrange(10**9)}"
        with self.client.post(
            "/requests/new",
            data={
                "csrf_token": _token(page),
                "site_id": str(self.site_id),
                "title": title,
                "start_dt": _local(start),
                "end_dt": _local(start + timedelta(days=1)),
                "flex_days_before": "0",
                "flex_days_after": "1",
                "lines-0-type_id": str(self.rng.choice(self.world.seeded.type_ids)),
                "lines-0-quantity": "1",
                "priority": "2",
                "submit": "Send",
            },
            name="submission",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            self.count(response)
            if response.status_code == 302:
                SUBMITTED.append(title)
                response.success()
            elif response.status_code < 500:
                # A refusal (e.g. not enough stock) is an answer, not an error.
                response.success()


class Manager(Visitor):
    """The fleet manager reviewing the proposed plan."""

    wait_time = between(1, 5)
    weight = 1

    def on_start(self) -> None:
        self.sign_in(MANAGER_EMAIL)

    @task
    def review(self) -> None:
        with self.client.get(
            f"/planning/plans/{self.world.seeded.proposed_plan_id}",
            name="plan review",
            catch_response=True,
        ) as response:
            self.count(response)


def run_users(
    world: World, base_url: str, classes: list[type], users: int, seconds: float
) -> Environment:
    """Run ``users`` of ``classes`` against ``base_url`` for ``seconds``."""
    for cls in classes:
        cls.world = world
        cls.host = base_url
    environment = Environment(user_classes=classes, host=base_url)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=max(users / 5, 1))
    gevent.sleep(seconds)
    runner.quit()
    return environment


def saturate(world: World, base_url: str, name: str, path: str, **kwargs: Any) -> float:
    """Requests per second one endpoint answers with 16 users without think time."""
    headers = kwargs.get("headers", {})
    needs_sign_in = kwargs.get("sign_in", True)

    class Hammer(Visitor):
        wait_time = between(0, 0)

        def on_start(self) -> None:
            if needs_sign_in:
                self.sign_in(world.technicians[0][0])

        @task
        def hit(self) -> None:
            with self.client.get(path, headers=headers, name=name, catch_response=True) as r:
                self.count(r)
                if r.status_code in (200, 304):
                    r.success()

    environment = run_users(world, base_url, [Hammer], 16, kwargs.get("seconds", 10))
    stats = environment.stats.get(name, "GET")
    # Over the time the endpoint was hit, signing in and spawning left out.
    if not stats.num_reqs_per_sec:
        return 0.0
    first, last = min(stats.num_reqs_per_sec), max(stats.num_reqs_per_sec)
    return float(stats.num_requests / max(last - first + 1, 1))


# --- checks ------------------------------------------------------------------------------


def after_checks(url: str) -> tuple[int, int]:
    """Pairs of approved loans of one unit whose times (turnaround included) overlap, and
    submissions the server accepted (302) that are not stored."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    database = get_db(app)
    with database.session() as session:
        count = session.scalar(
            text(
                "WITH held AS (SELECT au.unit_id, a.request_id, a.start_dt, a.end_dt "
                "+ make_interval(mins => t.turnaround_minutes) AS until "
                "FROM assignment_units au JOIN assignments a ON a.id = au.assignment_id "
                "JOIN plans p ON p.id = a.plan_id JOIN loan_requests r ON r.id = a.request_id "
                "JOIN units u ON u.id = au.unit_id JOIN equipment_types t ON t.id = u.type_id "
                "WHERE p.status = 'APPROVED' AND a.is_served "
                "AND r.status IN ('APPROVED', 'HANDED_OVER')) "
                "SELECT count(*) FROM held x JOIN held y ON x.unit_id = y.unit_id "
                "AND x.request_id < y.request_id AND x.start_dt < y.until "
                "AND y.start_dt < x.until"
            )
        )
        stored = set(
            session.scalars(select(LoanRequest.title).where(LoanRequest.title.like(f"{TITLE}%")))
        )
    database.engine.dispose()
    return int(count or 0), len(set(SUBMITTED) - stored)


def one_availability(url: str, world: World, answers: int = 200) -> tuple[float, float, int]:
    """Median and 95th percentile (ms) and statements of the availability service."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    database = get_db(app)
    rng = random.Random(7)
    times: list[float] = []
    statements = 0
    with app.app_context(), database.session() as session:
        user = session.scalar(select(User).where(User.email == world.technicians[0][0]))
        assert user is not None
        h_start, _h_end = world.seeded.horizon
        for n in range(answers + 20):
            start = h_start + timedelta(hours=rng.randrange(0, 360 * 24))
            end = start + timedelta(hours=rng.randrange(2, 7 * 24))
            with counting(database.engine) as seen:
                clock = time.perf_counter()
                availability(session, by=user, start_dt=start, end_dt=end)
                elapsed = (time.perf_counter() - clock) * 1000
            if n >= 20:  # after the statement caches are warm
                times.append(elapsed)
                statements = len(seen)
    database.engine.dispose()
    return statistics.median(times), percentile(times, 0.95), statements


# --- the report --------------------------------------------------------------------------


def _row(environment: Environment, name: str, method: str = "GET") -> str:
    s = environment.stats.get(name, method)
    if not s.num_requests:
        return f"| {name} | 0 | — | — | — | — |"
    return (
        f"| {name} | {s.num_requests} | {s.get_response_time_percentile(0.5):.0f} ms | "
        f"{s.get_response_time_percentile(0.95):.0f} ms | "
        f"{s.get_response_time_percentile(0.99):.0f} ms | {s.num_failures} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--schema", default="bench_load")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--saturation-seconds", type=float, default=10)
    parser.add_argument("-o", "--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    clock = time.perf_counter()
    url, world = build(args.database_url, args.schema, args.requests)
    built = time.perf_counter() - clock
    print(f"built in {built:.0f} s", flush=True)
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-load",
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "JOB_RUNNER": "inline",
        "MAIL_DELIVERY": "off",
        "LOG_LEVEL": "WARNING",
        "FLASK_FEED_RATE_LIMIT": "[1000000, 60]",
        "FLASK_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
    }
    with gunicorn("wsgi:app", env) as base, gunicorn("bench.bare:app", {}) as bare:
        STATUS.clear()
        mixed = run_users(world, base, [Technician, Manager], args.users + 1, args.seconds)
        mixed_status = dict(STATUS)
        print("mixed load done", mixed_status, flush=True)
        feed = world.technicians[0][2]
        with urllib.request.urlopen(f"{base}/feeds/{feed}.ics") as probe:
            etag = probe.headers.get("ETag", "")
        h_start = world.seeded.horizon[0]
        period = f"start={_local(h_start + timedelta(days=150))}&end=" + _local(
            h_start + timedelta(days=152)
        )
        seconds = args.saturation_seconds
        STATUS.clear()
        saturation = {
            "bare endpoint (`/`)": saturate(
                world, bare, "bare", "/", sign_in=False, seconds=seconds
            ),
            "bare 304 (`/feed`, If-None-Match)": saturate(
                world,
                bare,
                "bare 304",
                "/feed",
                headers={"If-None-Match": '"bare-1"'},
                sign_in=False,
                seconds=seconds,
            ),
            "feed 304": saturate(
                world,
                base,
                "feed 304",
                f"/feeds/{feed}.ics",
                headers={"If-None-Match": etag},
                sign_in=False,
                seconds=seconds,
            ),
            "feed 200": saturate(
                world, base, "feed 200", f"/feeds/{feed}.ics", sign_in=False, seconds=seconds
            ),
            "availability": saturate(
                world, base, "availability", f"/requests/availability?{period}", seconds=seconds
            ),
            "request list": saturate(world, base, "request list", "/requests/", seconds=seconds),
            "health": saturate(world, base, "health", "/healthz", sign_in=False, seconds=seconds),
        }
        saturation_status = dict(STATUS)
        print("saturation done", saturation, flush=True)
    lent_twice, lost = after_checks(url)
    median, p95, statements = one_availability(url, world)
    load_after = os.getloadavg()

    server_errors = sum(n for code, n in mixed_status.items() if code >= 500) + sum(
        n for code, n in saturation_status.items() if code >= 500
    )
    availability_p95 = mixed.stats.get("availability", "GET").get_response_time_percentile(0.95)
    ratio = saturation["feed 304"] / max(saturation["bare 304 (`/feed`, If-None-Match)"], 1e-9)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    import locust

    lines = [
        SECTION,
        "",
        f"Written by `python -m bench.load` on {now}. Machine: {machine()}; PostgreSQL at "
        f"`{make_url(args.database_url).set(password=None).render_as_string()}`, schema "
        f"`{args.schema}`; gunicorn with {WORKERS} sync workers; load from locust "
        f"{locust.__version__} used as a library (FastHttpUser), in the same machine. The "
        f"machine was shared with other people's work (load average "
        f"{', '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{', '.join(f'{x:.2f}' for x in load_after)} after): times are indicative.",
        "",
        f"Database: the `bench.web` department year ({world.seeded.requests} requests, "
        f"{world.seeded.communes} communes, {world.seeded.units} units, {world.seeded.pools} "
        f"pools; {world.seeded.approved} approved loans, a proposed plan of "
        f"{world.seeded.proposed_assignments} assignments), built in {built:.0f} s, plus "
        f"{len(world.technicians)} technicians with a calendar feed each.",
        "",
        f"### (a) {args.users} technicians and the fleet manager, 1–5 s think time, "
        f"{args.seconds:.0f} s",
        "",
        "| Answer | Requests | p50 | p95 | p99 | Failures |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            _row(mixed, name)
            for name in (
                "availability",
                "request list",
                "feed 200",
                "feed 304",
                "request form",
                "plan review",
                "sign-in",
            )
        ),
        _row(mixed, "submission", "POST"),
        "",
        f"HTTP statuses: {dict(sorted(mixed_status.items()))}.",
        "",
        f"### (b) Saturation: 16 users without think time, {seconds:.0f} s per endpoint",
        "",
        "| Endpoint | Answers per second |",
        "|---|---:|",
        *(f"| {name} | {rate:.0f} |" for name, rate in saturation.items()),
        "",
        f"HTTP statuses: {dict(sorted(saturation_status.items()))}.",
        "",
        "### (c) One availability answer on PostgreSQL, in process (service only)",
        "",
        f"Median {median:.1f} ms, 95th percentile {p95:.1f} ms, {statements} SQL statements "
        "(200 random periods of 2 h to 7 days, statement caches warm).",
        "",
        "### Targets and checks",
        "",
        "| Target | Figure | Met |",
        "|---|---|:-:|",
        f"| No 5xx | {server_errors} | {'yes' if server_errors == 0 else 'no'} |",
        f"| Availability p95 < 100 ms with {args.users} users | {availability_p95:.0f} ms | "
        f"{'yes' if availability_p95 < 100 else 'no'} |",
        f"| One availability answer on PostgreSQL ≤ 10 ms | {median:.1f} ms median | "
        f"{'yes' if median <= 10 else 'no'} |",
        f"| 304 feed rate ≥ 0.8 × bare 304 endpoint | {ratio:.2f} × | "
        f"{'yes' if ratio >= 0.8 else 'no'} |",
        f"| No unit lent twice | {lent_twice} overlapping pairs | "
        f"{'yes' if lent_twice == 0 else 'no'} |",
        f"| No lost submission | {len(SUBMITTED)} accepted, {lost} missing | "
        f"{'yes' if lost == 0 else 'no'} |",
        "",
        "Faults are tested in the suite, not here: a PostgreSQL connection terminated under "
        "the application (tests/services/test_db_faults.py: the next request succeeds, the "
        "error page is the full one), the broker down when a run is asked "
        "(tests/services/test_job_leases.py: a clear message, the job stored as failed, "
        "nothing else changed), a Celery worker killed mid-solve "
        "(tests/services/test_celery_worker.py).",
        "",
    ]
    section = "\n".join(lines)
    text_before = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text_before):
        updated = pattern.sub(lambda _m: section, text_before, count=1)
    else:
        updated = text_before.rstrip("\n") + "\n\n" + section
    args.output.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
