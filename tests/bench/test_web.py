"""The web benchmark builds a department's database, measures its pages and reports them."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from bench.web import Counts, main, measure, populate, report, write_section
from booking.db import make_engine
from booking.models import Assignment, LoanRequest, Plan, PlanStatus, RequestStatus

ROWS = (
    "| Availability for a period",
    "| Review page of the proposed plan, data unchanged",
    "| Review page of the proposed plan, just after a request was submitted",
    "| The commune's request list",
    "| Every commune's requests",
    "| Submitting a request",
)


def test_populate_measure_and_report(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    seeded = populate(url, 80)
    assert seeded.requests == 80 and seeded.depots == 8 and seeded.communes >= 200
    assert 0 < seeded.approved < 80 and seeded.proposed_assignments >= 80 - seeded.approved
    engine = make_engine(url)
    with engine.connect() as connection:
        statuses = Counter(
            dict(
                connection.execute(
                    select(LoanRequest.status, func.count()).group_by(LoanRequest.status)
                ).all()
            )
        )
        plans = dict(connection.execute(select(Plan.status, Plan.id)).all())
        assignments = connection.scalar(
            select(func.count()).where(Assignment.plan_id == seeded.proposed_plan_id)
        )
    engine.dispose()
    assert statuses[RequestStatus.APPROVED] == seeded.approved
    assert statuses[RequestStatus.APPROVED] + statuses[RequestStatus.PLANNED] == 80
    assert set(plans) == {PlanStatus.APPROVED, PlanStatus.PROPOSED}
    assert plans[PlanStatus.PROPOSED] == seeded.proposed_plan_id
    assert assignments == seeded.proposed_assignments

    results = measure(url, seeded, Counts(periods=3, renders=2, submits=2))
    lengths = {name: len(timing.times) for name, timing in results.items()}
    assert lengths == {
        "availability": 3,
        "review": 2,
        "review_changed": 2,
        "list": 2,
        "list_all": 1,
        "submit": 2,
    }
    assert all(t.statements > 0 and t.median > 0 for t in results.values())
    # The list follows the two requests sent before the second kind of review render.
    assert f'{seeded.commune_requests + 2} × `id="request-`' in results["list"].detail

    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nOptimiser.\n\n## Calendar feeds\n\nFeeds.\n", encoding="utf-8")
    section = report(
        seeded,
        results,
        command="python -m bench.web --requests 80",
        database="SQLite file database",
        load_before="0.10, 0.20, 0.30",
        load_after="0.40, 0.50, 0.60",
    )
    write_section(path, section)
    write_section(path, section)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nOptimiser.\n\n## Calendar feeds\n\nFeeds.\n")
    assert text.count("## Web application") == 1
    assert "`python -m bench.web --requests 80`" in text and "SQLite 3." in text
    assert "load average 0.10, 0.20, 0.30" in text
    for row in ROWS:
        assert sum(line.startswith(row) for line in text.splitlines()) == 1, row


def test_command_line_writes_its_section(tmp_path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    assert main(["--requests", "40", "--quick", "-o", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert "python -m bench.web --requests 40 --quick" in text
    assert "Database: 40 requests over a year" in text
    assert all(row in text for row in ROWS)
