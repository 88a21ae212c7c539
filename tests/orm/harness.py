"""Drives a real ORM for tests/integration/orm.rs.

    harness.py ORM setup-sqlite FILE     schema + the rows written before the migration
    harness.py ORM setup-pg URL          schema + every row (old and new) in PostgreSQL
    harness.py ORM reference FILE        every row written by the ORM into a fresh SQLite file
    harness.py ORM check FILE URL REF    the rolled-back FILE read through the ORM: every
                                         object as in PostgreSQL (and as the ORM itself would
                                         have stored it, REF), queries with PostgreSQL's answers

ORM is django or sqlalchemy. `check` prints a JSON summary and exits 1 with the
differences when there are any.
"""
import datetime as dt
import json
import sqlite3
import subprocess
import sys
import uuid
from decimal import Decimal

UTC = dt.timezone.utc
U = [uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % (1 << 128) | 1) for i in range(1, 8)]

# Old rows: the app wrote them to SQLite before the migration (they are in
# PostgreSQL too). New rows: written to PostgreSQL after it.
AUTHORS = [
    dict(id=U[0], name="Ada", active=True, born=dt.date(1, 1, 1),
         joined=dt.datetime(2025, 11, 13, 8, 30, 0, 123456, tzinfo=UTC), wakes=dt.time(6, 30)),
    dict(id=U[1], name="Bob", active=False, born=dt.date(9999, 12, 31),
         joined=dt.datetime(2000, 1, 1, tzinfo=UTC), wakes=dt.time(12, 30, 15, 500000)),
    dict(id=U[2], name="Cy", active=True, born=None,
         joined=dt.datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC), wakes=None),
    dict(id=U[3], name="Dee é", active=False, born=dt.date(2024, 2, 29),
         joined=dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
         wakes=dt.time(23, 59, 59, 999999)),
]
OLD_AUTHORS = 2
POSTS = [
    dict(id=1, author=0, title="first", price=Decimal("12.50"), balance=Decimal("1234567890123456.1234"),
         reading=dt.timedelta(days=1, hours=1, minutes=2, seconds=3, microseconds=500000),
         payload={"k": [1, 2, {"x": "é"}], "n": None, "tag": "a"}, blob=b"\x00\xff\x10",
         published=dt.datetime(2025, 11, 13, 8, 30, tzinfo=UTC), at=dt.time(12, 30, 15, 500000)),
    dict(id=2, author=1, title="second", price=Decimal("7.00"), balance=Decimal("0.1000"),
         reading=dt.timedelta(0), payload={"tag": "b", "deep": {"a": 1}}, blob=b"",
         published=None, at=dt.time(0, 0)),
    dict(id=3, author=2, title="third", price=Decimal("-0.01"), balance=None,
         reading=dt.timedelta(days=-1, seconds=5), payload=[1, "two", 3.5], blob=None,
         published=dt.datetime(2025, 11, 14, 0, 0, 0, 1, tzinfo=UTC), at=dt.time(23, 59, 59, 999999)),
    dict(id=4, author=3, title="fourth", price=Decimal("99999999.99"),
         balance=Decimal("8765432109876543.2109"), reading=None, payload=None, blob=b"x" * 40,
         published=dt.datetime(2025, 11, 15, 12, 0, 0, 250000, tzinfo=UTC), at=dt.time(8, 0, 0, 1)),
]
OLD_POSTS = 1
EVENTS = [
    dict(id=1, when=dt.datetime(2025, 11, 16, 9, 0, tzinfo=UTC), day=dt.date(2025, 11, 16),
         length=dt.timedelta(minutes=90), starts=dt.time(9, 0), ref=U[4], amount=Decimal("123456789012.123456")),
    dict(id=2, when=dt.datetime(2025, 11, 16, 9, 0, 0, 500, tzinfo=UTC), day=dt.date(1, 1, 1),
         length=dt.timedelta(microseconds=1), starts=dt.time(9, 0, 0, 500), ref=U[5], amount=Decimal("0.000001")),
]
# Columns whose SQLite form the ORM itself makes lossy (a wide decimal is a
# double): compared with what the ORM stores, and with PostgreSQL approximately.
APPROX = {"balance", "amount"}


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def normalize(v):
    if isinstance(v, (bytes, memoryview)):
        return bytes(v).hex()
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        v = v.astimezone(UTC).replace(tzinfo=None)
    if isinstance(v, (dt.datetime, dt.date, dt.time, dt.timedelta, uuid.UUID)):
        return repr(v)
    if isinstance(v, Decimal):
        return str(v.normalize()) if v == v else "NaN"
    return v


def close(a, b):
    try:
        return abs(Decimal(a) - Decimal(b)) <= abs(Decimal(b)) * Decimal("1e-14") + Decimal("1e-12")
    except Exception:
        return a == b


def compare_rows(name, got, pg, ref, problems):
    if set(got) != set(pg):
        problems.append(f"{name}: keys {sorted(map(str, got))} in SQLite, {sorted(map(str, pg))} in PostgreSQL")
        return
    for key, row in got.items():
        for col, v in row.items():
            p, r = pg[key][col], ref[key][col]
            if v != r:
                problems.append(f"{name} {key} {col}: rolled back {v!r}, the ORM stores {r!r}")
            if v != p and not (col in APPROX and close(v, p)):
                problems.append(f"{name} {key} {col}: SQLite {v!r}, PostgreSQL {p!r}")


def as_json(v):
    """JSON text compares as what it means: ORMs escape non-ASCII, jsonb does not."""
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.dumps(json.loads(v), sort_keys=True)
        except ValueError:
            return v
    return v


def raw_rows(path):
    """Every stored value with its SQLite type: the ORM's own encodings, byte for byte."""
    con = sqlite3.connect(path)
    out = {}
    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite%' "
                            "AND name NOT LIKE '\\_pg2sqlite%' ESCAPE '\\' AND name NOT IN "
                            "('django_migrations', 'alembic_version')"):
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
        sel = ", ".join(f"typeof(\"{c}\"), CASE typeof(\"{c}\") WHEN 'text' THEN \"{c}\" "
                        f"ELSE quote(\"{c}\") END" for c in cols)
        rows = con.execute(f'SELECT {sel} FROM "{t}"').fetchall()
        out[t] = sorted(tuple(as_json(v) for v in r) for r in rows)
    con.close()
    return out


def compare_raw(path, ref, problems):
    got, want = raw_rows(path), raw_rows(ref)
    for t in want:
        if got.get(t) != want[t]:
            g, w = got.get(t, []), want[t]
            diff = [(a, b) for a, b in zip(g, w) if a != b][:2]
            problems.append(f"stored form of {t} differs from the ORM's own: {diff or (len(g), len(w))}")


def main():
    orm, cmd, *args = sys.argv[1:]
    app = __import__(f"{orm}_driver")
    if cmd == "setup-sqlite":
        app.setup(app.sqlite_url(args[0]), old_only=True)
    elif cmd == "setup-pg":
        app.setup(app.pg_url(args[0]), old_only=False)
    elif cmd == "reference":
        app.setup(app.sqlite_url(args[0]), old_only=False)
    elif cmd == "dump":
        # One database per process: an ORM's settings are global.
        kind, where = args
        db = app.sqlite_url(where) if kind == "sqlite" else app.pg_url(where)
        print(json.dumps({"objects": app.read(db), "queries": app.queries(db)}))
    elif cmd == "check":
        path, url, ref = args
        problems = []

        def dump(kind, where):
            r = subprocess.run([sys.executable, __file__, orm, "dump", kind, where],
                               capture_output=True, text=True)
            if r.returncode != 0:
                fail(f"reading {where} through {orm} failed:\n{r.stderr}")
            return json.loads(r.stdout)

        mine, theirs, own = dump("sqlite", path), dump("pg", url), dump("sqlite", ref)
        got, pg, want = mine["objects"], theirs["objects"], own["objects"]
        for name in pg:
            compare_rows(name, got[name], pg[name], want[name], problems)
        answers, pg_answers = mine["queries"], theirs["queries"]
        for q, a in pg_answers.items():
            if answers[q] != a:
                problems.append(f"query {q}: SQLite {answers[q]}, PostgreSQL {a}")
        compare_raw(path, ref, problems)
        summary = {"objects": sum(len(v) for v in got.values()), "queries": len(answers),
                   "problems": problems}
        print(json.dumps(summary))
        if problems:
            fail("\n".join(problems))
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
