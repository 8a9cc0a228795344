"""No input causes a server error: every route, every role, random and extreme values.

The routes come from the application's ``url_map``; query strings and forms are filled
with the names the views read (``request.args``) and the fields of every form, with
values drawn by hypothesis (plus a fixed list of extreme ones). Each response must be
below 500. The number of examples is kept small so that the sweep runs in about a
minute; ``SWEEP_EXAMPLES`` raises it.
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest
import wtforms
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule

import booking.forms
from tests.conftest import DEFAULT_PASSWORD, DEFAULT_START

VIEWS = Path(booking.forms.__file__).resolve().parents[1] / "views"
EXAMPLES = int(os.environ.get("SWEEP_EXAMPLES", "6"))

EXTREMES = [
    "",
    "0",
    "-1",
    "1",
    str(2**31),
    str(2**63),
    str(10**30),
    "1e309",
    "nan",
    "0001-01-01",
    "0001-01-01T00:00",
    "9999-12-31",
    "9999-12-31T23:59",
    "2030-02-30T25:61",
    "x" * 5000,
    "\x00",
    "<script>",
    "' OR 1=1 --",
    "é" * 50,
]


def _query_names() -> list[str]:
    names: set[str] = set()
    for path in VIEWS.glob("*.py"):
        names |= set(re.findall(r"""args\.get(?:list)?\(\s*["'](\w+)["']""", path.read_text()))
        names |= set(re.findall(r"""_(?:day|page_number)\(\s*["'](\w+)["']""", path.read_text()))
    return sorted(names | {"start", "end", "page", "q", "status", "kind", "type_id"})


def _form_names() -> list[str]:
    names: set[str] = set()
    for module in vars(booking.forms).values():
        if not inspect.ismodule(module):
            continue
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, wtforms.Form):
                for name, value in vars(obj).items():
                    if isinstance(value, wtforms.fields.core.UnboundField):
                        names.add(name)
    for n in range(3):  # request lines are numbered fields
        names |= {f"lines-{n}-type_id", f"lines-{n}-quantity"}
    return sorted(names)


QUERY_NAMES = _query_names()
FORM_NAMES = _form_names()
ROLES = ["anonymous", "technician", "manager", "admin"]

value = st.one_of(
    st.sampled_from(EXTREMES),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat(timespec="minutes")),
    st.text(max_size=30),
)
identifier = st.one_of(
    st.integers(min_value=0, max_value=20), st.sampled_from([2**31, 2**63 - 1, 2**63, 10**25])
)
token = st.one_of(st.text(min_size=1, max_size=60), st.sampled_from(["x" * 300, "a.b", "%00"]))


def _rules(app: Flask) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint != "static"),
        key=lambda r: (r.rule, sorted(r.methods or ())),
    )


@pytest.fixture
def world(app, make_user, make_request, make_unit, make_pool, commune, technician, manager, admin):
    """A little of everything, so that routes with ids find something."""
    unit = make_unit()
    make_pool()
    make_request(commune=commune, lines=[(unit.type, 1)], start=DEFAULT_START)
    return {"technician": technician, "manager": manager, "admin": admin}


def _client(app: Flask, world: dict, role: str) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        client.post("/login", data={"email": world[role].email, "password": DEFAULT_PASSWORD})
    return client


def _url(rule: Rule, draw: st.DrawFn) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if type(converter).__name__ in ("IntegerConverter", "BoundedIntegerConverter"):
            values[name] = str(draw(identifier))
        else:
            values[name] = quote(draw(token), safe="")
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule.rule)


def _check(client: FlaskClient, method: str, url: str, data: dict[str, str]) -> None:
    if method == "GET":
        response = client.get(url, query_string=data)
    else:
        response = client.open(url, method=method, data=data)
    assert response.status_code < 500, (method, url, data, response.data[:300])


@pytest.mark.parametrize("role", ROLES)
def test_extreme_values_everywhere_cause_no_server_error(app, world, role):
    for rule in _rules(app):
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if rule.endpoint == "auth.logout":
                continue
            client = _client(app, world, role)
            url = re.sub(r"<(?:int:)([^<>]+)>", str(2**63), rule.rule)
            url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", "x", url)
            for extreme in EXTREMES:
                names = QUERY_NAMES if method == "GET" else FORM_NAMES
                _check(client, method, url, dict.fromkeys(names, extreme))
                if rule.arguments:
                    one = re.sub(r"<(?:int:)([^<>]+)>", "1", rule.rule)
                    one = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", "x", one)
                    _check(client, method, one, dict.fromkeys(names, extreme))


@pytest.mark.parametrize("role", ROLES)
def test_random_values_cause_no_server_error(app, world, role):
    rules = _rules(app)

    @settings(
        max_examples=EXAMPLES * len(rules),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def sweep(data: st.DataObject) -> None:
        rule = data.draw(st.sampled_from(rules))
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        method = data.draw(st.sampled_from(methods))
        if rule.endpoint == "auth.logout":
            return
        url = _url(rule, data.draw)
        names = QUERY_NAMES if method == "GET" else FORM_NAMES
        chosen = data.draw(st.lists(st.sampled_from(names), max_size=8, unique=True))
        fields = {name: data.draw(value) for name in chosen}
        _check(_client(app, world, role), method, url, fields)

    sweep()
