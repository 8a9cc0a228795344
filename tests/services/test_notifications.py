"""Notifications: in-app messages in each user's language, the e-mail outbox, SMTP delivery.

Delivery is tested against a real SMTP server (aiosmtpd) listening on a free local port.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking import create_app
from booking.db import Base, Database, get_db, utcnow
from booking.models import (
    JobStatus,
    LoanRequest,
    Notification,
    OutboxEmail,
    OutboxStatus,
    Plan,
    RequestStatus,
    Role,
    SiteKind,
    User,
)
from booking.services import planning
from booking.services.notifications import (
    DeliveryReport,
    deliver_outbox,
    get_dispatcher,
    list_notifications,
    mark_all_read,
    mark_read,
    notify,
    unread_count,
)
from booking.services.requests import cancel_request
from tests.conftest import DEFAULT_START
from tests.services import test_planning_concurrency as concurrency

# --- a local SMTP server ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses chosen recipients.

    ``hold``: when set, each message waits for it to be set before it is accepted.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []
        self.refused: set[str] = set()
        self.rcpt_calls: list[str] = []
        self.hold: threading.Event | None = None
        self.holding = threading.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: Any
    ) -> str:
        self.rcpt_calls.append(address)
        if address in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.hold is not None:
            self.holding.set()
            # Blocking the server's loop is fine here: the test releases it from its thread.
            self.hold.wait(timeout=30)
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope, message))  # type: ignore[arg-type]
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, port: int, **kwargs: Any) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port, **kwargs)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def mail_config(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_FROM": "Prêt Commun <pret@agglo.example>",
        "MAIL_MAX_ATTEMPTS": 3,
        "MAIL_TIMEOUT": 10,
        # Tests deliver by hand; the background thread is tested on a database of its own.
        "MAIL_DELIVERY": "off",
        **extra,
    }


@pytest.fixture(autouse=True)
def app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def with_mail(app: Flask) -> dict[str, Any]:
    """Mail configured, towards a port nothing listens on unless a server is started."""
    config = mail_config(free_port())
    app.config.update(config)
    return app.config


def queue(session: Session, users: list[User], text: str = "Hello", **payload: Any) -> None:
    notify(session, users, "request.approved", lambda: text, payload or None)
    session.commit()


def outbox(session: Session) -> list[OutboxEmail]:
    session.expire_all()
    return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


# --- notify -----------------------------------------------------------------------------


def test_notify_writes_each_user_in_their_language(
    app, compiled_translations, db_session, make_user, commune
):
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    french = make_user(commune=commune, locale="fr")
    english = make_user(commune=commune, locale="en")
    default = make_user(commune=commune)

    notify(
        db_session,
        [french, english, default],
        "request.declined",
        lambda: _("Declined: %(title)s. %(reason)s", title="Fête", reason="Plus de minibus."),
        {"request_id": 7},
    )
    db_session.commit()

    notes = {n.user_id: n for n in db_session.scalars(select(Notification))}
    assert notes[french.id].text == "Refusée : Fête. Plus de minibus."
    assert notes[english.id].text == "Declined: Fête. Plus de minibus."
    # No language on the account: the application's default (English in the tests).
    assert notes[default.id].text.startswith("Declined")
    assert {n.kind for n in notes.values()} == {"request.declined"}
    assert all(n.payload == {"request_id": 7} and n.read_at is None for n in notes.values())


def test_no_outbox_rows_without_mail_configured(app, db_session, technician):
    app.config["MAIL_SERVER"] = ""
    queue(db_session, [technician])

    assert db_session.scalars(select(Notification)).one().user_id == technician.id
    assert outbox(db_session) == []


def test_outbox_rows_with_the_notification_when_mail_is_configured(
    with_mail, db_session, technician, make_user, commune
):
    colleague = make_user(commune=commune, email="colleague@melun.example")
    queue(db_session, [technician, colleague], "Approved: Fête.", request_id=3)

    rows = outbox(db_session)
    assert [r.to for r in rows] == ["tech@melun.example", "colleague@melun.example"]
    assert all(r.status is OutboxStatus.PENDING and r.attempts == 0 for r in rows)
    assert rows[0].subject == "[Prêt Commun] Your request is approved"
    assert rows[0].body.startswith("Approved: Fête.\n")


def test_a_rolled_back_change_queues_no_mail(with_mail, db_session, technician):
    notify(db_session, [technician], "request.approved", lambda: "Hello", None)
    db_session.rollback()

    assert outbox(db_session) == []
    assert db_session.scalars(select(Notification)).all() == []


def test_cancelling_tells_each_manager_in_their_language(
    app,
    compiled_translations,
    db_session,
    with_mail,
    make_user,
    make_request,
    technician,
    commune,
):
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    french = make_user(role=Role.MANAGER, locale="fr", email="fr@agglo.example")
    english = make_user(role=Role.MANAGER, locale="en", email="en@agglo.example")
    make_user(role=Role.MANAGER, is_active_account=False)
    loan = make_request(commune=commune)

    cancel_request(db_session, loan.id, by=technician, reason="Rain")

    notes = {n.user_id: n for n in db_session.scalars(select(Notification))}
    assert set(notes) == {french.id, english.id}
    assert notes[french.id].text.startswith("Tech Melun a annulé la demande")
    assert notes[english.id].text.startswith("Tech Melun cancelled request")
    assert notes[english.id].text.endswith("Reason: Rain")
    assert notes[english.id].kind == "request.cancelled"
    assert notes[english.id].payload["request_id"] == loan.id
    assert sorted(r.to for r in outbox(db_session)) == ["en@agglo.example", "fr@agglo.example"]


# --- approving a plan -------------------------------------------------------------------


@pytest.fixture
def fleet(app, make_site, make_type, make_unit, commune, technician):
    app.config["JOB_RUNNER"] = "inline"
    app.extensions.pop("job_runner", None)
    depot = make_site(kind=SiteKind.DEPOT, name="Centre technique")
    minibus = make_type(code="minibus-9", name="Minibus 9 places", turnaround_minutes=60)
    units = [make_unit(code=f"MB-{n}", type=minibus, home_depot=depot) for n in (1, 2)]
    site = make_site(commune=commune, name="Salle des fêtes")
    yield SimpleNamespace(minibus=minibus, units=units, site=site)
    app.extensions.pop("job_runner", None)


def ask(make_request, fleet, commune, title: str, day: int = 0, **params: Any) -> LoanRequest:
    return make_request(
        commune=commune,
        site=fleet.site,
        lines=[(fleet.minibus, 1)],
        start=DEFAULT_START + timedelta(days=day),
        title=title,
        **params,
    )


def approve(db_session: Session, manager: User) -> Plan:
    job = planning.propose_plan(db_session, by=manager, time_limit_seconds=5, strategy="greedy")
    assert job.status is JobStatus.SUCCEEDED, job.message
    planning.approve_plan(db_session, job.plan_id, by=manager)
    plan = db_session.get(Plan, job.plan_id)
    assert plan is not None
    return plan


def notes_of(db_session: Session, user: User) -> list[Notification]:
    return list(
        db_session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


def test_approval_says_what_and_when_and_the_waiting_list_says_why(
    db_session, with_mail, fleet, make_request, commune, manager, technician
):
    ask(make_request, fleet, commune, "Fête", priority=4)
    ask(make_request, fleet, commune, "Marché", priority=3)
    ask(make_request, fleet, commune, "Brocante", priority=1)

    approve(db_session, manager)

    notes = {n.kind: n for n in notes_of(db_session, technician)}
    approved = [n for n in notes_of(db_session, technician) if n.kind == "request.approved"]
    assert len(approved) == 2
    fete = next(n for n in approved if "Fête" in n.text)
    assert fete.text.startswith("Approved: Fête from ")
    assert "Minibus 9 places (MB-" in fete.text
    assert fete.payload["units"] and fete.payload["start"] and fete.payload["end"]
    waiting = notes["request.waiting"]
    assert waiting.text.startswith("On the waiting list: Brocante. ")
    assert waiting.text.endswith("You will be told if equipment becomes free in time.")
    assert waiting.payload["reason"]
    # One e-mail per notification, with the same text.
    rows = outbox(db_session)
    assert len(rows) == 3 and {r.to for r in rows} == {technician.email}
    assert any(r.subject.endswith("Your request is on the waiting list") for r in rows)


def test_a_reapproved_loan_that_did_not_move_is_approved_not_changed(
    db_session, fleet, make_request, commune, manager, technician
):
    loan = ask(make_request, fleet, commune, "Fête")
    approve(db_session, manager)
    # The commune edits its approved request (a note only): it is open again.
    loan.status = RequestStatus.SUBMITTED
    loan.notes = "Près de l'entrée"
    db_session.commit()

    approve(db_session, manager)

    kinds = [n.kind for n in notes_of(db_session, technician)]
    assert kinds == ["request.approved", "request.approved"]


def test_a_loan_moved_to_another_unit_is_notified_as_changed(
    db_session, fleet, make_request, commune, manager, technician
):
    from booking.models import Unavailability

    loan = ask(make_request, fleet, commune, "Fête")
    first = approve(db_session, manager)
    held = next(a for a in first.assignments if a.request_id == loan.id).units[0].unit
    loan.status = RequestStatus.SUBMITTED
    db_session.add(
        Unavailability(
            unit=held,
            start_dt=DEFAULT_START - timedelta(days=1),
            end_dt=DEFAULT_START + timedelta(days=3),
        )
    )
    db_session.commit()

    approve(db_session, manager)

    changed = notes_of(db_session, technician)[-1]
    assert changed.kind == "request.changed"
    other = next(u for u in fleet.units if u.id != held.id)
    assert changed.payload["units"] == [other.code]
    assert changed.payload["previous"]["units"] == [held.code]
    assert f"with Minibus 9 places ({other.code})" in changed.text
    assert f"with Minibus 9 places ({held.code})" in changed.text


# --- delivery ---------------------------------------------------------------------------


def test_delivery_sends_pending_mail_oldest_first(app, with_mail, db_session, smtp, make_user):
    app.config["MAIL_PORT"] = smtp.port
    first = make_user(email="first@example.org")
    second = make_user(email="second@example.org")
    queue(db_session, [first], "First message é")
    queue(db_session, [second], "Second message")

    report = deliver_outbox(db_session, app.config)

    assert (report.sent, report.retried, report.failed, report.error) == (2, 0, 0, None)
    assert [e.rcpt_tos for e, _m in smtp.inbox.messages] == [
        ["first@example.org"],
        ["second@example.org"],
    ]
    envelope, message = smtp.inbox.messages[0]
    assert envelope.mail_from == "pret@agglo.example"
    assert message["To"] == "first@example.org"
    assert message["Subject"] == "[Prêt Commun] Your request is approved"
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n").startswith("First message é\n")
    rows = outbox(db_session)
    assert [r.status for r in rows] == [OutboxStatus.SENT, OutboxStatus.SENT]
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows)
    # Nothing is sent twice.
    assert deliver_outbox(db_session, app.config).sent == 0
    assert len(smtp.inbox.messages) == 2


def test_server_down_keeps_mail_pending_then_delivers_it(app, with_mail, db_session, technician):
    queue(db_session, [technician], "Kept safe")

    report = deliver_outbox(db_session, app.config)

    assert report.sent == 0 and report.retried == 1 and report.error
    (row,) = outbox(db_session)
    assert row.status is OutboxStatus.PENDING
    assert row.attempts == 1 and "Connection" in (row.last_error or "")
    # Down longer than the attempts allow: still kept, the server is at fault, not the message.
    for _attempt in range(app.config["MAIL_MAX_ATTEMPTS"] + 1):
        deliver_outbox(db_session, app.config)
    (row,) = outbox(db_session)
    assert row.status is OutboxStatus.PENDING and row.attempts == 5

    server = SmtpServer(app.config["MAIL_PORT"]).start()
    try:
        report = deliver_outbox(db_session, app.config)
    finally:
        server.stop()

    assert report.sent == 1 and report.error is None
    (row,) = outbox(db_session)
    assert row.status is OutboxStatus.SENT and row.last_error is None
    assert [m["To"] for _e, m in server.inbox.messages] == [technician.email]


def test_a_refused_message_fails_after_the_maximum_attempts(
    app, with_mail, db_session, smtp, make_user
):
    app.config["MAIL_PORT"] = smtp.port
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    smtp.inbox.refused.add("gone@example.org")
    gone = make_user(email="gone@example.org")
    here = make_user(email="here@example.org")
    queue(db_session, [gone])
    queue(db_session, [here])

    first = deliver_outbox(db_session, app.config)

    assert (first.sent, first.retried, first.failed) == (1, 1, 0)
    refused, delivered = outbox(db_session)
    assert refused.status is OutboxStatus.PENDING and refused.attempts == 1
    assert "No such mailbox" in (refused.last_error or "")
    assert delivered.status is OutboxStatus.SENT

    second = deliver_outbox(db_session, app.config)

    assert (second.sent, second.retried, second.failed) == (0, 0, 1)
    refused, _delivered = outbox(db_session)
    assert refused.status is OutboxStatus.FAILED and refused.attempts == 2
    tries = smtp.inbox.rcpt_calls.count("gone@example.org")
    deliver_outbox(db_session, app.config)
    assert smtp.inbox.rcpt_calls.count("gone@example.org") == tries == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_delivery_logs_in_when_a_username_is_set(app, with_mail, db_session, technician):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login,
            auth_data.password,
        ) == (b"pret", b"s3cret")
        # Not handled: the server answers 535 itself on failure.
        return AuthResult(success=ok, handled=False)

    server = SmtpServer(
        app.config["MAIL_PORT"],
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    ).start()
    try:
        queue(db_session, [technician])
        app.config["MAIL_USERNAME"], app.config["MAIL_PASSWORD"] = "pret", "wrong"
        refused = deliver_outbox(db_session, app.config)
        app.config["MAIL_PASSWORD"] = "s3cret"
        accepted = deliver_outbox(db_session, app.config)
    finally:
        server.stop()

    assert refused.sent == 0 and "Authentication" in (refused.error or "")
    assert accepted.sent == 1
    assert len(server.inbox.messages) == 1


def test_nothing_is_sent_when_mail_is_not_configured(app, db_session, technician):
    app.config["MAIL_SERVER"] = ""
    db_session.add(OutboxEmail(to="x@example.org", subject="s", body="b"))
    db_session.commit()

    report = deliver_outbox(db_session, app.config)

    assert report.sent == 0 and report.error is None
    assert outbox(db_session)[0].attempts == 0


def test_send_mail_command(app, runner, with_mail, db_session, smtp, technician):
    queue(db_session, [technician])
    app.config["MAIL_PORT"] = free_port()

    down = runner.invoke(args=["send-mail"])
    app.config["MAIL_PORT"] = smtp.port
    up = runner.invoke(args=["send-mail"])
    app.config["MAIL_SERVER"] = ""
    unconfigured = runner.invoke(args=["send-mail"])

    assert down.exit_code == 1 and "cannot be reached" in down.output
    assert up.exit_code == 0 and "1 sent, 0 to retry, 0 failed." in up.output
    assert unconfigured.exit_code == 1 and "MAIL_SERVER" in unconfigured.output
    assert len(smtp.inbox.messages) == 1


# --- in-app reading ---------------------------------------------------------------------


def test_reading_is_per_user(db_session, technician, other_technician):
    queue(db_session, [technician], "one")
    queue(db_session, [technician], "two")
    queue(db_session, [other_technician], "theirs")

    assert [n.text for n in list_notifications(db_session, by=technician)] == ["two", "one"]
    assert unread_count(db_session, by=technician) == 2
    theirs = list_notifications(db_session, by=other_technician)[0]
    from booking.errors import NotFound

    with pytest.raises(NotFound):
        mark_read(db_session, theirs.id, by=technician)
    mark_read(db_session, list_notifications(db_session, by=technician)[0].id, by=technician)
    assert unread_count(db_session, by=technician) == 1
    assert mark_all_read(db_session, by=technician) == 1
    assert unread_count(db_session, by=technician) == 0
    assert unread_count(db_session, by=other_technician) == 1


# --- delivery in the background after a commit ------------------------------------------


@pytest.fixture
def live_app(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """An application on a database of its own (committed for real), mail on a free port."""
    url = f"sqlite:///{tmp_path / 'mail.sqlite3'}"
    database = Database(url)
    Base.metadata.create_all(database.engine)
    port = free_port()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret-key",
            "BABEL_DEFAULT_LOCALE": "en",
            **mail_config(port, MAIL_DELIVERY="thread"),
        }
    )
    app.extensions["booking_db"] = database
    with database.session() as session:
        user = User(email="tech@melun.example", name="Tech", role=Role.ADMIN, password_hash="x")
        session.add(user)
        session.commit()
        user_id = user.id
    yield SimpleNamespace(app=app, database=database, port=port, user_id=user_id)
    get_dispatcher(app).shutdown()
    database.engine.dispose()


def test_a_commit_that_queued_mail_delivers_it_in_the_background(live_app):
    server = SmtpServer(live_app.port).start()
    server.inbox.hold = threading.Event()
    try:
        with live_app.app.app_context(), get_db(live_app.app).session() as session:
            user = session.get(User, live_app.user_id)
            notify(session, [user], "request.approved", lambda: "Sent after commit", None)
            session.commit()
            # The commit returned while the server still holds the message: no waiting.
            assert server.inbox.holding.wait(timeout=30)
            assert server.inbox.messages == []
            server.inbox.hold.set()
        get_dispatcher(live_app.app).shutdown()
    finally:
        server.inbox.hold.set()
        server.stop()

    assert [m["To"] for _e, m in server.inbox.messages] == ["tech@melun.example"]
    with live_app.database.session() as session:
        row = session.scalars(select(OutboxEmail)).one()
        assert row.status is OutboxStatus.SENT


def test_a_commit_without_mail_starts_no_delivery(live_app):
    with live_app.app.app_context(), get_db(live_app.app).session() as session:
        user = session.get(User, live_app.user_id)
        user.name = "Renamed"
        session.commit()
    assert "background_mail" not in live_app.app.extensions


# --- settings ---------------------------------------------------------------------------


def test_mail_settings_come_from_the_environment(monkeypatch):
    from booking import config

    for name in ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    assert config.mail_settings()["MAIL_SERVER"] == ""
    assert config.mail_settings()["MAIL_PORT"] == 25
    monkeypatch.setenv("MAIL_SERVER", " smtp.agglo.example ")
    monkeypatch.setenv("MAIL_USE_TLS", "yes")
    monkeypatch.setenv("MAIL_USERNAME", "pret")
    monkeypatch.setenv("MAIL_PASSWORD", "s3cret")
    monkeypatch.setenv("MAIL_FROM", "pret@agglo.example")

    settings = config.mail_settings()

    assert settings["MAIL_SERVER"] == "smtp.agglo.example"
    assert settings["MAIL_PORT"] == 587 and settings["MAIL_USE_TLS"] is True
    assert settings["MAIL_USE_SSL"] is False
    assert (settings["MAIL_USERNAME"], settings["MAIL_PASSWORD"]) == ("pret", "s3cret")
    assert settings["MAIL_FROM"] == "pret@agglo.example"
    assert settings["MAIL_DELIVERY"] == "thread"
    monkeypatch.setenv("MAIL_PORT", "2525")
    assert config.mail_settings()["MAIL_PORT"] == 2525


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("MAIL_PORT", "smtp", "MAIL_PORT must be a positive whole number"),
        ("MAIL_PORT", "-1", "MAIL_PORT must be a positive whole number"),
        ("MAIL_USE_TLS", "maybe", "MAIL_USE_TLS must be true or false"),
        ("MAIL_DELIVERY", "celery", "MAIL_DELIVERY must be 'thread' or 'off'"),
        ("MAIL_MAX_ATTEMPTS", "0", "MAIL_MAX_ATTEMPTS must be a positive whole number"),
    ],
)
def test_bad_mail_settings_are_named(monkeypatch, name, value, error):
    from booking import config

    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=error):
        config.mail_settings()


def test_ssl_and_tls_together_are_refused(monkeypatch):
    from booking import config

    monkeypatch.setenv("MAIL_USE_TLS", "1")
    monkeypatch.setenv("MAIL_USE_SSL", "1")
    with pytest.raises(ValueError, match="not both"):
        config.mail_settings()


# --- two senders at once ------------------------------------------------------------------

real_db = concurrency.real_db


def test_two_senders_at_once_send_each_message_once(real_db, with_mail):
    """The background thread and a cron ``flask send-mail`` run together: the message
    the first is sending (held by its server) is not sent again by the second."""
    _url, database = real_db
    with database.session() as session:
        session.add(OutboxEmail(to="tech@melun.example", subject="Approved", body="Once"))
        session.commit()
    first, second = SmtpServer(free_port()).start(), SmtpServer(free_port()).start()
    first.inbox.hold = threading.Event()
    reports: list[DeliveryReport] = []

    def send_through_first() -> None:
        with database.session() as session:
            reports.append(deliver_outbox(session, {**with_mail, "MAIL_PORT": first.port}))

    sender = threading.Thread(target=send_through_first)
    try:
        sender.start()
        assert first.inbox.holding.wait(timeout=30)
        with database.session() as session:
            meanwhile = deliver_outbox(session, {**with_mail, "MAIL_PORT": second.port})
        first.inbox.hold.set()
        sender.join(timeout=30)
    finally:
        first.inbox.hold.set()
        first.stop()
        second.stop()

    assert meanwhile.sent == 0 and second.inbox.messages == []
    assert [r.sent for r in reports] == [1]
    assert [m["To"] for _e, m in first.inbox.messages] == ["tech@melun.example"]
    with database.session() as session:
        row = session.scalars(select(OutboxEmail)).one()
        assert (row.status, row.attempts, row.claimed_until) == (OutboxStatus.SENT, 1, None)


def test_a_claim_left_by_a_sender_that_died_lapses(app, with_mail, db_session, smtp, technician):
    app.config["MAIL_PORT"] = smtp.port
    queue(db_session, [technician], "Claimed by a process that died")
    (row,) = outbox(db_session)
    row.claimed_until = utcnow() + timedelta(minutes=5)
    db_session.commit()

    assert deliver_outbox(db_session, app.config).sent == 0

    row.claimed_until = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert deliver_outbox(db_session, app.config).sent == 1
    assert len(smtp.inbox.messages) == 1
