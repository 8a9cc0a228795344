"""The Python example of docs/api.md, run against the test application, so it cannot rot.

The example uses ``requests``; a transport adapter hands its calls to the Flask test
client instead of the network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from tests.api.conftest import ApiClient, World

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BASE = "https://pret.test/api/v1"


class FlaskAdapter(requests.adapters.BaseAdapter):
    """Sends a ``requests`` call to a Flask test client."""

    def __init__(self, client: FlaskClient) -> None:
        super().__init__()
        self.client = client

    def send(self, request: requests.PreparedRequest, **_kwargs: Any) -> requests.Response:
        path = request.url.removeprefix("https://pret.test")
        answer = self.client.open(
            path, method=request.method, headers=dict(request.headers), data=request.body
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
        response._content = answer.data
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        return None


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return blocks[-1]


def test_the_documented_example_runs(
    client: FlaskClient,
    tech_api: ApiClient,
    manager_api: ApiClient,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
):
    class Session(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            self.mount("https://pret.test", FlaskAdapter(client))

    monkeypatch.setattr(requests, "Session", Session)
    monkeypatch.setenv("PRET_COMMUN_API", BASE)
    monkeypatch.setenv("PRET_COMMUN_TOKEN", tech_api.token or "")
    namespace: dict[str, Any] = {"__name__": "example"}
    exec(compile(_example(), str(DOC), "exec"), namespace)

    request_id = namespace["submit"](
        "Hôtel de ville de Melun", "minibus", 1, "2030-06-03T08:00", "2030-06-05T18:00", "Fête"
    )
    assert namespace["follow"](request_id, every=0, patience=0)["status"] == "submitted"
    with pytest.raises(RuntimeError, match="whole fleet has 2"):
        namespace["submit"](
            "Hôtel de ville de Melun", "minibus", 5, "2030-06-03T08:00", "2030-06-05T18:00", "x"
        )

    job = manager_api.post("/plans/runs", json={"time_limit_seconds": 5}).json
    plan_id = manager_api.get(f"/jobs/{job['id']}").json["plan_id"]
    assert manager_api.post(f"/plans/{plan_id}/approve").status_code == 200

    assert namespace["follow"](request_id, every=0)["status"] == "approved"
    loans = namespace["approved_loans"]()
    assert [(loan[0], len(loan[3])) for loan in loans] == [(request_id, 1)]
    assert loans[0][3][0] in {"MB-1", "MB-2"}
