"""SQLAlchemy side of harness.py: the app's tables as declarative models."""
import datetime as dt
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, Date, DateTime, ForeignKey, Integer, Interval, LargeBinary,
                        Numeric, String, Time, Uuid, create_engine, select, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id = mapped_column(Uuid, primary_key=True)
    name = mapped_column(String(100), nullable=False)
    active = mapped_column(Boolean, nullable=False)
    born = mapped_column(Date)
    joined = mapped_column(DateTime, nullable=False)
    wakes = mapped_column(Time)


class Post(Base):
    __tablename__ = "post"
    id = mapped_column(Integer, primary_key=True)
    author_id = mapped_column(ForeignKey("author.id"), nullable=False)
    title = mapped_column(String(200), nullable=False)
    price = mapped_column(Numeric(10, 2), nullable=False)
    balance = mapped_column(Numeric(20, 4))
    reading = mapped_column(Interval)
    payload = mapped_column(JSON)
    blob = mapped_column(LargeBinary)
    published = mapped_column(DateTime)
    at = mapped_column(Time, nullable=False)


class Event(Base):
    """Empty in the old SQLite file: its encodings come from the app's style."""
    __tablename__ = "event"
    id = mapped_column(Integer, primary_key=True)
    when = mapped_column(DateTime, nullable=False)
    day = mapped_column(Date, nullable=False)
    length = mapped_column(Interval, nullable=False)
    starts = mapped_column(Time, nullable=False)
    ref = mapped_column(Uuid, nullable=False)
    amount = mapped_column(Numeric(18, 6), nullable=False)


def sqlite_url(path):
    return f"sqlite:///{path}"


def pg_url(url):
    return url.replace("postgres://", "postgresql+psycopg://", 1)


def naive(d):
    return d.replace(tzinfo=None) if isinstance(d, dt.datetime) else d


def setup(url, old_only):
    from harness import AUTHORS, EVENTS, OLD_AUTHORS, OLD_POSTS, POSTS
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        # What `alembic upgrade` leaves behind.
        s.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        s.execute(text("INSERT INTO alembic_version VALUES ('1a2b3c4d5e6f')"))
        authors = AUTHORS[:OLD_AUTHORS] if old_only else AUTHORS
        s.add_all(Author(**{k: naive(v) for k, v in a.items()}) for a in authors)
        s.flush()
        for p in POSTS[:OLD_POSTS] if old_only else POSTS:
            row = {k: naive(v) for k, v in p.items() if k != "author"}
            s.add(Post(author_id=AUTHORS[p["author"]]["id"], **row))
        if not old_only:
            s.add_all(Event(**{k: naive(v) for k, v in e.items()}) for e in EVENTS)
        s.commit()


def read(url):
    from harness import normalize
    engine = create_engine(url)
    out = {}
    with Session(engine) as s:
        for model in (Author, Post, Event):
            cols = [c.key for c in model.__table__.columns]
            out[model.__name__] = {str(o.id): {c: normalize(getattr(o, c)) for c in cols}
                                   for o in s.scalars(select(model))}
    return out


def queries(url):
    from harness import U
    engine = create_engine(url)
    with Session(engine) as s:
        def ids(model, *where):
            return sorted(str(i) for i in s.scalars(select(model.id).where(*where)))
        return {
            "joined range": ids(Author, Author.joined >= dt.datetime(2000, 1, 1)),
            "joined equal": ids(Author, Author.joined == dt.datetime(2000, 1, 1)),
            "joined micros equal": ids(Author, Author.joined == dt.datetime(2025, 11, 13, 8, 30, 0, 123456)),
            "born range": ids(Author, Author.born < dt.date(2000, 1, 1)),
            "born equal": ids(Author, Author.born == dt.date(9999, 12, 31)),
            "active": ids(Author, Author.active.is_(True)),
            "wakes equal": ids(Author, Author.wakes == dt.time(12, 30, 15, 500000)),
            "wakes range": ids(Author, Author.wakes > dt.time(12, 0)),
            "uuid equal": ids(Author, Author.id == U[1]),
            "at equal": ids(Post, Post.at == dt.time(12, 30, 15, 500000)),
            "at midnight": ids(Post, Post.at == dt.time(0, 0)),
            "at range": ids(Post, Post.at < dt.time(9, 0)),
            "reading range": ids(Post, Post.reading > dt.timedelta(hours=1)),
            "reading equal": ids(Post, Post.reading == dt.timedelta(0)),
            "price range": ids(Post, Post.price >= Decimal("7.00")),
            "price equal": ids(Post, Post.price == Decimal("12.50")),
            "json key": ids(Post, Post.payload["tag"].as_string() == "a"),
            "json nested": ids(Post, Post.payload[("deep", "a")].as_integer() == 1),
            "published equal": ids(Post, Post.published == dt.datetime(2025, 11, 13, 8, 30)),
            "published range": ids(Post, Post.published > dt.datetime(2025, 11, 13, 8, 30)),
            "event when equal": ids(Event, Event.when == dt.datetime(2025, 11, 16, 9, 0)),
            "event when range": ids(Event, Event.when > dt.datetime(2025, 11, 16, 9, 0)),
            "event length": ids(Event, Event.length < dt.timedelta(minutes=1)),
            "event starts": ids(Event, Event.starts == dt.time(9, 0)),
            "event ref": ids(Event, Event.ref == U[5]),
            "event day": ids(Event, Event.day < dt.date(2000, 1, 1)),
        }
