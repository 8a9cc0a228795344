"""The audit log page and its CSV export, through HTTP."""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from booking.models import AuditEvent, Role

T0 = datetime(2030, 6, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def make_event(db_session):
    def make(**params):
        params.setdefault("action", "request.update")
        params.setdefault("object_type", "loan_request")
        params.setdefault("object_id", 1)
        params.setdefault("at", T0)
        event = AuditEvent(**params)
        db_session.add(event)
        db_session.commit()
        return event

    return make


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:]), delimiter=";"))


@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv"])
def test_technicians_are_refused(client, auth, technician, make_event, path):
    make_event(after={"secret": "x"})
    auth.login(technician)
    response = client.get(path)
    assert response.status_code == 403
    assert "secret" not in response.text


@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv"])
def test_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_staff_see_the_menu_link_and_the_page(request, client, auth, role):
    auth.login(request.getfixturevalue(role))
    assert 'href="/audit/"' in client.get("/feeds/").text
    response = client.get("/audit/")
    assert response.status_code == 200
    assert "Audit log" in response.text


def test_technicians_have_no_menu_link(client, auth, technician):
    auth.login(technician)
    assert 'href="/audit/"' not in client.get("/requests/").text


def test_an_account_created_by_http_shows_with_its_values(client, auth, admin, manager, commune):
    auth.login(admin)
    response = client.post(
        "/admin/users",
        data={
            "email": "new@melun.example",
            "name": "Nouvelle Technicienne",
            "role": "technician",
            "password": "long enough",
            "confirm": "long enough",
            "commune_id": commune.id,
        },
    )
    assert response.status_code == 302
    auth.logout()
    auth.login(manager)
    page = html.unescape(client.get("/audit/?action=user.").text)
    assert "user.create" in page
    assert "admin@agglo.example" in page
    assert "new@melun.example" in page
    assert "pbkdf2" not in page and "long enough" not in page


def test_table_shows_only_changed_keys(client, auth, manager, make_event):
    event = make_event(
        actor_id=manager.id,
        before={"priority": 2, "title": "Kept title", "status": "submitted"},
        after={"priority": 3, "title": "Kept title", "status": "submitted"},
    )
    auth.login(manager)
    page = client.get("/audit/").text
    row = page.split(f'id="event-{event.id}"')[1].split("</tr>")[0]
    assert "<dt>priority</dt>" in row
    assert "<del>2</del>" in row and "<ins>3</ins>" in row
    assert "title" not in row and "status" not in row


def test_filters_narrow_the_table(client, auth, manager, make_event):
    plan = make_event(action="plan.approve", object_type="plan", object_id=5)
    request_event = make_event(action="request.submit", object_id=5, actor_id=manager.id)
    old = make_event(action="request.cancel", at=T0 - timedelta(days=10))
    auth.login(manager)

    def shown(query: str) -> set[int]:
        response = client.get(f"/audit/?{query}")
        assert response.status_code == 200
        return {e.id for e in (plan, request_event, old) if f'id="event-{e.id}"' in response.text}

    assert shown("") == {plan.id, request_event.id, old.id}
    assert shown("action=request.") == {request_event.id, old.id}
    assert shown("object_type=plan") == {plan.id}
    assert shown("object_id=5&object_type=loan_request") == {request_event.id}
    assert shown("actor=manager%40agglo") == {request_event.id}
    assert shown("date_from=2030-06-01&date_to=2030-06-03") == {plan.id, request_event.id}
    assert shown("date_to=2030-05-30") == {old.id}


def test_filter_by_commune(client, auth, manager, commune, other_commune, make_request, make_event):
    own = make_event(object_id=make_request(commune=commune).id)
    make_event(object_id=make_request(commune=other_commune).id)
    auth.login(manager)
    text = client.get(f"/audit/?commune_id={commune.id}").text
    assert text.count('id="event-') == 1 and f'id="event-{own.id}"' in text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=31/12/2030", "Give the date as YYYY-MM-DD, for example 2030-06-03."),
        ("date_to=2030-02-30", "Give the date as YYYY-MM-DD, for example 2030-06-03."),
        ("date_from=2030-06-05&date_to=2030-06-01", "The end date is before the start date."),
        ("object_id=abc", "Give a whole number, such as 12."),
        ("object_id=0", "Number must be between 1 and"),
        ("commune_id=999999", "Commune 999999 does not exist."),
    ],
)
def test_bad_filters_get_a_clear_message(client, auth, manager, make_event, query, message):
    make_event()
    auth.login(manager)
    for path in ("/audit/", "/audit/export.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert response.mimetype == "text/html"
        assert message in html.unescape(response.text)
        assert 'id="audit-filters"' in response.text


def test_a_bad_page_number_gets_a_clear_message(client, auth, manager):
    auth.login(manager)
    response = client.get("/audit/?page=-2")
    assert response.status_code == 400
    assert "The page is a whole number from 1." in response.text
    # The export has no pages: the number is ignored.
    assert client.get("/audit/export.csv?page=-2").status_code == 200


def test_pages_keep_the_filters(client, auth, manager, make_event):
    events = [make_event(at=T0 + timedelta(seconds=i)) for i in range(55)]
    make_event(action="plan.approve", object_type="plan")
    auth.login(manager)
    first = client.get("/audit/?action=request.").text
    assert "Page 1 of 2" in first
    assert f'id="event-{events[-1].id}"' in first and f'id="event-{events[4].id}"' not in first
    link = html.unescape(first.split('rel="next" href="')[1].split('"')[0])
    assert parse_qs(urlsplit(link).query) == {"action": ["request."], "page": ["2"]}
    second = client.get(link).text
    assert "Page 2 of 2" in second
    shown = {e.id for e in events if f'id="event-{e.id}"' in second}
    assert shown == {e.id for e in events[:5]}


def test_export_link_keeps_the_filters_and_the_csv_parses(client, auth, manager, make_event):
    keep = make_event(
        action="plan.approve",
        object_type="plan",
        object_id=9,
        actor_id=manager.id,
        at=datetime(2030, 1, 15, 9, 30, tzinfo=UTC),
        before={"status": "proposed"},
        after={"status": "approved", "declined": [3, 4]},
    )
    make_event(action="request.submit")
    auth.login(manager)
    page = client.get("/audit/?action=plan.&page=1").text
    link = html.unescape(page.split('id="audit-export" href="')[1].split('"')[0])
    assert urlsplit(link).path == "/audit/export.csv"
    assert parse_qs(urlsplit(link).query) == {"action": ["plan."]}
    response = client.get(link)
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = _rows(response)
    assert rows == [
        {
            "id": str(keep.id),
            "at": "2030-01-15T10:30:00+01:00",
            "actor_email": "manager@agglo.example",
            "action": "plan.approve",
            "object_type": "plan",
            "object_id": "9",
            "before": '{"status":"proposed"}',
            "after": '{"declined":[3,4],"status":"approved"}',
        }
    ]


def test_export_defuses_formulas(client, auth, manager, make_user, make_event):
    author = make_user(role=Role.MANAGER, email="=cmd@example.org")
    make_event(actor_id=author.id, action="@SUM(A1)", object_type="+plan", after={"x": 1})
    make_event(action="-2+3", object_type='=HYPERLINK("http://x")')
    auth.login(manager)
    rows = _rows(client.get("/audit/export.csv"))
    cells = [row[column] for row in rows for column in ("actor_email", "action", "object_type")]
    assert all(not cell or cell[0] not in "=+-@" for cell in cells)
    assert rows[1]["actor_email"] == "'=cmd@example.org"
    assert rows[1]["action"] == "'@SUM(A1)"
    assert rows[0]["object_type"] == '\'=HYPERLINK("http://x")'


def test_filter_form_works_with_csrf_on(csrf_enabled, client, manager, make_event):
    login_page = client.get("/login").text
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/login",
        data={"email": manager.email, "password": "correct horse battery", "csrf_token": token},
    )
    event = make_event(action="plan.pin", object_type="plan")
    response = client.get("/audit/?action=plan.")
    assert response.status_code == 200
    assert f'id="event-{event.id}"' in response.text
    assert (
        'name="csrf_token"' not in response.text.split('id="audit-filters"')[1].split("</form>")[0]
    )
