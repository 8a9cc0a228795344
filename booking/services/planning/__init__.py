"""Planning: database rows -> ``solver.Problem`` -> stored plan -> approval.

This package is the only part of the application that imports both the models and
``solver``. Its modules import one way, each only from those listed before it, never
from this ``__init__``:

- ``ids``: the problem's time zone and how rows are named in it;
- ``km``: the km each served loan of a stored plan accounts for;
- ``data``: the rows a plan is built from, the windows requests may take, and the
  fingerprint that tells a plan is stale;
- ``reasons``: why a request is unserved, in the reader's language;
- ``problem``: rows -> ``solver.Problem`` (``build_problem``);
- ``run``: the optimiser as a background job, its plan stored as PROPOSED;
- ``approve``: approval and the manager's adjustments (pin, force a unit, decline);
- ``review``: what the planning pages show.

The public API is imported here, so callers write ``planning.approve_plan(...)``.
"""

from booking.services.planning.approve import (
    approve_plan,
    decline_request,
    explain_violation,
    force_unit,
    pin_assignment,
    unpin_assignment,
)
from booking.services.planning.data import (
    current_fingerprint,
    data_fingerprint,
    notice_start,
    plannable_window,
    stale_message,
)
from booking.services.planning.ids import TIMEZONE, request_id_of, request_key
from booking.services.planning.km import loan_km
from booking.services.planning.problem import (
    IdMaps,
    build_problem,
    km_per_served,
    problem_document,
    served_by_priority,
    stored_problem_text,
)
from booking.services.planning.reasons import describe_reason
from booking.services.planning.review import (
    Dashboard,
    Review,
    dashboard,
    get_plan,
    loan_page,
    metrics_rows,
    review_plan,
    shift_minutes,
    unit_choices,
)
from booking.services.planning.run import (
    MAX_TIME_LIMIT,
    MIN_TIME_LIMIT,
    plan_diff,
    plan_now,
    plan_summary,
    propose_plan,
    run_solver_job,
)

__all__ = [
    "MAX_TIME_LIMIT",
    "MIN_TIME_LIMIT",
    "TIMEZONE",
    "Dashboard",
    "IdMaps",
    "Review",
    "approve_plan",
    "build_problem",
    "current_fingerprint",
    "dashboard",
    "data_fingerprint",
    "decline_request",
    "describe_reason",
    "explain_violation",
    "force_unit",
    "get_plan",
    "km_per_served",
    "loan_km",
    "loan_page",
    "metrics_rows",
    "notice_start",
    "pin_assignment",
    "plan_diff",
    "plan_now",
    "plan_summary",
    "plannable_window",
    "problem_document",
    "propose_plan",
    "request_id_of",
    "request_key",
    "review_plan",
    "run_solver_job",
    "served_by_priority",
    "shift_minutes",
    "stale_message",
    "stored_problem_text",
    "unit_choices",
    "unpin_assignment",
]
