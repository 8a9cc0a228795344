"""The feed generation: raised by every change a calendar shows, read cheaply by polls."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from booking.db import Base, make_engine, utcnow
from booking.models import Commune, FeedKind, User
from booking.models.feeds import FeedGeneration
from booking.services import feeds
from booking.services.feeds_cache import (
    BodyStore,
    GenerationReader,
    bump_generation,
    current_generation,
)


def test_changes_raise_the_generation_and_bookkeeping_does_not(
    db_session: Session, technician: User, commune: Commune
) -> None:
    start = current_generation(db_session)
    commune.name = "Melun (77)"
    db_session.commit()
    after_edit = current_generation(db_session)
    assert after_edit == start + 1
    technician.last_login_at = utcnow()
    db_session.commit()
    assert current_generation(db_session) == after_edit
    feed, _token = feeds.create_feed(
        db_session, by=technician, kind=FeedKind.COMMUNE, target_id=commune.id, name="A"
    )
    after_create = current_generation(db_session)
    assert after_create == after_edit + 1
    feed.last_used_at = utcnow()
    db_session.commit()
    assert current_generation(db_session) == after_create
    feeds.revoke_feed(db_session, feed.id, by=technician)
    assert current_generation(db_session) == after_create + 1


def test_the_generation_rises_at_commit_and_not_for_rolled_back_work(
    db_session: Session, commune: Commune, make_commune: Callable[..., Commune]
) -> None:
    start = current_generation(db_session)
    nested = db_session.begin_nested()
    commune.name = "Ailleurs"
    db_session.flush()
    # Raised last, at commit: other rows are locked before the generation row.
    assert current_generation(db_session) == start
    nested.rollback()
    assert current_generation(db_session) == start
    make_commune()
    assert current_generation(db_session) == start + 1
    db_session.execute(update(Commune).values(lat=48.0))
    assert current_generation(db_session) == start + 1
    db_session.commit()
    assert current_generation(db_session) == start + 2


def test_reader_sees_each_commit_on_its_own_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'generation.sqlite3'}")
    Base.metadata.create_all(engine)
    reader = GenerationReader()
    assert reader.read(engine) == 0
    factory = sessionmaker(bind=engine)
    for expected in (1, 2):
        with factory() as session:
            bump_generation(session)
            # Not committed yet: a poll must not see it.
            assert reader.read(engine) == expected - 1
            session.commit()
        assert reader.read(engine) == expected
    engine.dispose()


def test_body_store_serves_only_intact_bodies_of_the_right_variant(tmp_path: Path) -> None:
    store = BodyStore(tmp_path / "bodies")
    first, second = b"BEGIN:VCALENDAR\r\none", b"BEGIN:VCALENDAR\r\ntwo"
    etag_one = '"' + hashlib.sha256(first).hexdigest()[:40] + '"'
    etag_two = '"' + hashlib.sha256(second).hexdigest()[:40] + '"'
    where = {"domain": "pret.example", "request_url": "https://pret.example/requests/{id}"}
    assert store.get(7, etag_one, **where) is None
    store.put(7, etag_one, first, **where)
    assert store.get(7, etag_one, **where) == first
    assert store.get(7, etag_one, domain="other.example", request_url="x") is None
    store.put(7, etag_two, second, **where)
    assert store.get(7, etag_two, **where) == second
    assert store.get(7, etag_one, **where) is None  # replaced
    (path,) = (tmp_path / "bodies").glob("7-*.ics")
    path.write_bytes(b"tampered")
    assert store.get(7, etag_two, **where) is None


def test_a_missing_generation_row_is_made_on_the_first_change(
    db_session: Session, make_commune: Callable[..., Commune]
) -> None:
    db_session.execute(FeedGeneration.__table__.delete())
    assert current_generation(db_session) == 0
    make_commune()
    assert current_generation(db_session) == 1
    make_commune()
    assert current_generation(db_session) == 2
