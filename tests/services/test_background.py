"""Follow-up work on one background thread: kicks merge, each run has its own session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking import create_app
from booking.db import Base, Database
from booking.models import Truck
from booking.services import rounds
from booking.services.background import coalescing


@pytest.fixture
def live_app(tmp_path: Any) -> Iterator[SimpleNamespace]:
    """An application on its own SQLite file, so that threads may open sessions."""
    url = f"sqlite:///{tmp_path / 'background.sqlite3'}"
    database = Database(url)
    Base.metadata.create_all(database.engine)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret-key"})
    app.extensions["booking_db"] = database
    yield SimpleNamespace(app=app, database=database)
    for key in [k for k in app.extensions if k.startswith("background_")]:
        app.extensions[key].shutdown()
    database.engine.dispose()


def test_kicks_while_a_run_waits_are_merged_into_it(live_app: SimpleNamespace) -> None:
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def body(session: Session) -> None:
        runs.append(threading.current_thread().name)
        started.set()
        release.wait(timeout=30)
        session.execute(select(1))

    worker = coalescing(live_app.app, "test", body)
    worker.kick()
    assert started.wait(timeout=30)
    # The first run is under way: these three kicks wait as one run.
    for _ in range(3):
        worker.kick()
    release.set()
    worker.shutdown()
    assert len(runs) == 2
    assert all(name.startswith("test") for name in runs)
    assert threading.current_thread().name not in runs


def test_a_crashing_run_is_logged_and_the_next_kick_runs_again(
    live_app: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    first = threading.Event()

    def body(session: Session) -> None:
        calls.append(1)
        first.set()
        raise RuntimeError("boom")

    worker = coalescing(live_app.app, "crashy", body)
    worker.kick()
    assert first.wait(timeout=30)
    worker.kick()
    worker.shutdown()
    assert "background crashy crashed" in caplog.text
    assert calls == [1, 1]


def test_rounds_are_refreshed_on_the_background_thread_after_a_change(
    live_app: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, bool]] = []

    def refresh(session: Session, *, now: Any = None) -> None:
        seen.append((threading.current_thread().name, session is not caller))

    monkeypatch.setattr(rounds, "refresh_coming_days", refresh)
    with live_app.app.app_context(), live_app.database.session() as caller:
        rounds.refresh_after_change(caller)
        assert caller.scalar(select(Truck.id)) is None  # the caller's session is untouched
    live_app.app.extensions["background_rounds"].shutdown()
    assert len(seen) == 1
    thread_name, own_session = seen[0]
    assert thread_name.startswith("rounds") and own_session


def test_rounds_are_refreshed_inline_when_asked(
    live_app: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    monkeypatch.setattr(
        rounds,
        "refresh_coming_days",
        lambda session, *, now=None: seen.append(threading.current_thread().name),
    )
    live_app.app.config["ROUNDS_REFRESH"] = "inline"
    with live_app.app.app_context(), live_app.database.session() as caller:
        rounds.refresh_after_change(caller)
    assert seen == [threading.current_thread().name]
    assert "background_rounds" not in live_app.app.extensions
