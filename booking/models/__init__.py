"""The ORM models; importing this package registers every table on ``Base.metadata``."""

from booking.models.api import ApiRateWindow, ApiToken
from booking.models.audit import AuditEvent
from booking.models.feeds import FeedKind, FeedToken
from booking.models.inventory import (
    EquipmentType,
    Pool,
    Site,
    SiteKind,
    Unavailability,
    Unit,
    UnitStatus,
    type_substitutes,
)
from booking.models.jobs import JobStatus, SolverJob
from booking.models.loans import (
    LOCKED_STATUSES,
    OPEN_STATUSES,
    Condition,
    Handover,
    HandoverKind,
    LoanRequest,
    RequestLine,
    RequestStatus,
)
from booking.models.notifications import Notification, OutboxEmail, OutboxStatus
from booking.models.people import Commune, LoginAttempt, Role, User
from booking.models.plans import (
    Assignment,
    AssignmentDraw,
    AssignmentUnit,
    Plan,
    PlanStatus,
    UnitOccupation,
)
from booking.models.rounds import (
    LOAD_SCALE,
    Round,
    RoundDay,
    RoundDayStatus,
    RoundStop,
    RoundStopLine,
    Truck,
)
from booking.models.series import RequestSeries

__all__ = [
    "LOAD_SCALE",
    "LOCKED_STATUSES",
    "OPEN_STATUSES",
    "ApiRateWindow",
    "ApiToken",
    "Assignment",
    "AssignmentDraw",
    "AssignmentUnit",
    "AuditEvent",
    "Commune",
    "Condition",
    "EquipmentType",
    "FeedKind",
    "FeedToken",
    "Handover",
    "HandoverKind",
    "JobStatus",
    "LoanRequest",
    "LoginAttempt",
    "Notification",
    "OutboxEmail",
    "OutboxStatus",
    "Plan",
    "PlanStatus",
    "Pool",
    "RequestLine",
    "RequestSeries",
    "RequestStatus",
    "Role",
    "Round",
    "RoundDay",
    "RoundDayStatus",
    "RoundStop",
    "RoundStopLine",
    "Site",
    "SiteKind",
    "SolverJob",
    "Truck",
    "Unavailability",
    "Unit",
    "UnitOccupation",
    "UnitStatus",
    "User",
    "type_substitutes",
]
