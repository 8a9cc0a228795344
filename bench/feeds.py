"""Benchmark of the calendar feeds: 5,000 loans in one feed.

Measures, in process (Flask test client, SQLite file):

* the first build (no cache at all);
* a full answer when nothing changed since the feed was last built (target < 200 ms),
  from the body cache, and also with the body cache emptied (another worker, a restart);
* a full answer after one loan changed (target < 1 s);
* a 304 answer.

Then, under ``wrk`` against gunicorn (same workers for both), the rate of 304 answers of
the feed against a bare Flask endpoint, measured in the same run (target: at least half).

Writes the "## Calendar feeds" section of BENCHMARKS.md, keeping the rest of the file::

    python bench/feeds.py [--loans 5000] [--duration 10] [--no-wrk] [-o BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from flask import Flask  # noqa: E402
from sqlalchemy import insert  # noqa: E402

import booking.models  # noqa: E402,F401  (registers every table)
from booking import create_app  # noqa: E402
from booking.db import Base, get_db  # noqa: E402
from booking.models import (  # noqa: E402
    Assignment,
    AssignmentUnit,
    Commune,
    EquipmentType,
    FeedKind,
    LoanRequest,
    Plan,
    PlanStatus,
    RequestLine,
    RequestStatus,
    Role,
    Site,
    SiteKind,
    Unit,
    User,
)
from booking.services import feeds  # noqa: E402
from booking.services.feeds_cache import BODY_CACHE, EVENT_CACHE  # noqa: E402

SECTION = "## Calendar feeds"
UNLIMITED = (10**9, 1)


def feed_app() -> Flask:
    """The application as gunicorn serves it here (``bench.feeds:feed_app()``)."""
    return create_app(
        {
            "DATABASE_URL": os.environ["BENCH_DATABASE_URL"],
            "SECRET_KEY": "bench",
            # The load generator polls one token thousands of times a second.
            "FEED_RATE_LIMIT": UNLIMITED,
            "FEED_CACHE_DIR": os.environ["BENCH_CACHE_DIR"],
        }
    )


def bare_app() -> Flask:
    """A bare Flask endpoint, the yardstick for the 304 rate."""
    app = Flask(__name__)

    @app.route("/ping")
    def ping() -> str:
        return "ok"

    return app


def populate(url: str, loans: int) -> str:
    """Create ``loans`` approved loans over a year and a manager feed; return its token."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    database = get_db(app)
    Base.metadata.create_all(database.engine)
    with database.session() as session:
        communes = [
            Commune(slug=f"commune-{i}", name=f"Commune {i}", lat=48.5, lon=2.6) for i in range(20)
        ]
        session.add_all(communes)
        depot = Site(name="Dépôt", kind=SiteKind.DEPOT, lat=48.54, lon=2.66, address="Vaux")
        session.add(depot)
        sites = [
            Site(
                name=f"Salle {c.name}",
                kind=SiteKind.DELIVERY,
                commune=c,
                address=f"1 place de la Mairie, {c.name}",
                lat=48.5 + i / 100,
                lon=2.6 + i / 100,
            )
            for i, c in enumerate(communes)
        ]
        session.add_all(sites)
        types = [
            EquipmentType(code=f"type-{i}", name=f"Matériel {i}", is_delivered=i % 2 == 0)
            for i in range(10)
        ]
        session.add_all(types)
        units = [
            Unit(code=f"U{i:03d}", name=f"Unité {i}", type=types[i % 10], home_depot=depot)
            for i in range(100)
        ]
        session.add_all(units)
        manager = User(email="manager@bench", name="Manager", role=Role.MANAGER)
        manager.set_password("bench password")
        session.add(manager)
        plan = Plan(
            status=PlanStatus.APPROVED, strategy="cpsat", problem_json={}, problem_sha="0" * 64
        )
        session.add(plan)
        session.commit()
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        stamp = datetime.now(UTC) - timedelta(days=1)
        request_rows, line_rows, assignment_rows, unit_rows = [], [], [], []
        for n in range(1, loans + 1):
            commune = communes[n % 20]
            start = base + timedelta(hours=(n * 7) % (365 * 24))
            end = start + timedelta(days=1 + n % 3)
            unit = units[n % 100]
            request_rows.append(
                {
                    "id": n,
                    "commune_id": commune.id,
                    "site_id": sites[n % 20].id,
                    "title": f"Manifestation {n}",
                    "requested_start_dt": start,
                    "requested_end_dt": end,
                    "priority": 3,
                    "status": RequestStatus.APPROVED,
                    "submitted_by_id": manager.id,
                    "submitted_at": stamp,
                    "updated_at": stamp,
                    "sequence": 1,
                    "version": 1,
                }
            )
            line_rows.append({"id": n, "request_id": n, "type_id": unit.type_id, "quantity": 1})
            assignment_rows.append(
                {
                    "id": n,
                    "plan_id": plan.id,
                    "request_id": n,
                    "is_served": True,
                    "start_dt": start,
                    "end_dt": end,
                }
            )
            unit_rows.append({"assignment_id": n, "line_id": n, "unit_id": unit.id})
        session.execute(insert(LoanRequest), request_rows)
        session.execute(insert(RequestLine), line_rows)
        session.execute(insert(Assignment), assignment_rows)
        session.execute(insert(AssignmentUnit), unit_rows)
        session.commit()
        _feed, token = feeds.create_feed(
            session, by=manager, kind=FeedKind.MANAGER, target_id=None, name="Tout"
        )
    database.engine.dispose()
    return token


def timed(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time in ms of ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def in_process(url: str, token: str, cache_dir: Path) -> dict[str, Any]:
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "FEED_RATE_LIMIT": UNLIMITED,
            "FEED_CACHE_DIR": str(cache_dir),
        }
    )
    client = app.test_client()
    path = f"/feeds/{token}.ics"
    EVENT_CACHE.clear()
    BODY_CACHE.clear()
    cold, response = timed(lambda: client.get(path), 1)
    assert response.status_code == 200, response.status_code
    body = response.data
    events = body.count(b"BEGIN:VEVENT")
    etag = response.headers["ETag"]
    unchanged, response = timed(lambda: client.get(path), 7)
    assert response.data == body

    def other_worker() -> Any:
        BODY_CACHE.clear()
        return client.get(path)

    unchanged_other_worker, response = timed(other_worker, 5)
    assert response.data == body

    def rebuilt() -> Any:
        BODY_CACHE.clear()
        shutil.rmtree(cache_dir, ignore_errors=True)
        return client.get(path)

    unchanged_no_body_cache, response = timed(rebuilt, 5)
    assert response.data == body
    not_modified, response = timed(lambda: client.get(path, headers={"If-None-Match": etag}), 20)
    assert response.status_code == 304

    database = get_db(app)
    counter = iter(range(1, 1000))

    def change_one_loan() -> Any:
        with database.session() as session:
            assignment = session.get(Assignment, 42)
            assert assignment is not None and assignment.end_dt is not None
            assignment.end_dt = assignment.end_dt + timedelta(minutes=next(counter))
            session.commit()
        start = time.perf_counter()
        result = client.get(path)
        return (time.perf_counter() - start) * 1000, result

    changes = [change_one_loan() for _ in range(5)]
    after_change = statistics.median(ms for ms, _r in changes)
    assert all(r.status_code == 200 and r.data != body for _ms, r in changes)
    database.engine.dispose()
    return {
        "events": events,
        "bytes": len(body),
        "cold_ms": cold,
        "unchanged_ms": unchanged,
        "unchanged_other_worker_ms": unchanged_other_worker,
        "unchanged_no_body_cache_ms": unchanged_no_body_cache,
        "after_change_ms": after_change,
        "not_modified_ms": not_modified,
        "etag": etag,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(target: str, env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not start for {target}")


def _wrk(url: str, duration: int, headers: list[str]) -> tuple[float, dict[str, int]]:
    command = ["wrk", "-t2", "-c16", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rate, {"non_2xx_3xx": int(non_2xx.group(1)) if non_2xx else 0}


def load_test(url: str, token: str, cache_dir: Path, duration: int, workers: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": url,
        "BENCH_CACHE_DIR": str(cache_dir),
        "PYTHONPATH": str(REPO),
    }
    feed_server, feed_base = _serve("bench.feeds:feed_app()", env, workers)
    bare_server, bare_base = _serve("bench.feeds:bare_app()", env, workers)
    try:
        feed_url = f"{feed_base}/feeds/{token}.ics"
        # Each worker builds the body once; then only validators are checked.
        etag = ""
        for _ in range(workers * 2):
            headers = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-D", "-", feed_url],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            etag = re.search(r"(?im)^etag: (.+?)\r?$", headers).group(1)  # type: ignore[union-attr]
        check = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                f"If-None-Match: {etag}",
                feed_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert check == "304", check
        bare_rate, _ = _wrk(f"{bare_base}/ping", duration, [])
        feed_rate, errors = _wrk(feed_url, duration, [f"If-None-Match: {etag}"])
        assert errors["non_2xx_3xx"] == 0, errors
    finally:
        for server in (feed_server, bare_server):
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return {"bare_rps": bare_rate, "feed_304_rps": feed_rate, "workers": workers}


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({model}), shared with other people's work while measured "
        f"(load average {load}); Python {platform.python_version()}, SQLite file database"
    )


def report(results: dict[str, Any], loads: dict[str, Any] | None, loans: int) -> str:
    r = results
    lines = [
        SECTION,
        "",
        f"Written by `python bench/feeds.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
        f"Machine: {machine()}.",
        "",
        f"One manager feed of {r['events']} events ({loans} approved loans, "
        f"{r['bytes'] / 1e6:.1f} MB), served by the Flask test client in process; medians.",
        "",
        "| Answer | Time | Target |",
        "|---|---:|---:|",
        f"| First build, no cache | {r['cold_ms']:.0f} ms | — |",
        f"| Full answer, nothing changed (body in memory) | {r['unchanged_ms']:.1f} ms "
        "| < 200 ms |",
        f"| Full answer, nothing changed, another worker (body on disk) | "
        f"{r['unchanged_other_worker_ms']:.1f} ms | < 200 ms |",
        f"| Full answer, nothing changed, no stored body (rebuilt from cached events) | "
        f"{r['unchanged_no_body_cache_ms']:.0f} ms | — |",
        f"| Full answer after one loan changed | {r['after_change_ms']:.0f} ms | < 1 s |",
        f"| 304 (If-None-Match) | {r['not_modified_ms']:.2f} ms | — |",
        "",
    ]
    if loads:
        ratio = loads["feed_304_rps"] / loads["bare_rps"]
        lines += [
            f"Load: `wrk -t2 -c16` for the same duration against gunicorn "
            f"({loads['workers']} sync workers) serving the application and, in the same run, "
            'a bare Flask endpoint returning "ok"; the feed requests carry the current ETag.',
            "",
            "| Endpoint | Requests/s |",
            "|---|---:|",
            f"| Bare Flask endpoint | {loads['bare_rps']:.0f} |",
            f"| Feed, 304 answers | {loads['feed_304_rps']:.0f} |",
            f"| Ratio (target ≥ 0.5) | {ratio:.2f} |",
            "",
        ]
    lines += [
        "How: a feed's watermark row keeps its ETag and Last-Modified for the feed generation "
        "(a counter raised in the same transaction as any change a calendar shows) and the "
        "UTC day. A conditional poll is answered by a small WSGI middleware before the "
        "cookie session, CSRF and language selection, from validators remembered per token "
        "and one read of the generation on a connection held by the worker. Bodies are kept "
        "in memory and on disk under their ETag; events are serialised once and cached by "
        "their whole content, so after a change only the changed events go through "
        "icalendar. See the docstrings of booking/services/feeds.py and "
        "booking/views/feeds.py.",
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace the section in ``path`` (or append it), keeping everything else."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=5000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--no-wrk", action="store_true", help="skip the load test")
    parser.add_argument("-o", "--output", default=str(REPO / "BENCHMARKS.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'feeds.sqlite3'}"
        token = populate(url, args.loans)
        cache_dir = Path(folder) / "feed-cache"
        results = in_process(url, token, cache_dir)
        print({k: v for k, v in results.items() if k != "etag"}, file=sys.stderr)
        loads = None
        if not args.no_wrk:
            loads = load_test(url, token, cache_dir, args.duration, args.workers)
            print(loads, file=sys.stderr)
    write_section(Path(args.output), report(results, loads, args.loans))
    print(f"wrote the calendar feeds section of {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
