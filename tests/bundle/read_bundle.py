"""Reads a pg2sqlite bundle with independent readers and compares it with
PostgreSQL, value by value.

    read_bundle.py DIR URL TABLE [--infinities TABLE]

For a Parquet bundle, pyarrow and DuckDB each read the table's files; the
Arrow types must be the ones the bundle type table promises
(src/bundle/columns.rs), and every value must equal what psycopg reads from
PostgreSQL. For a CSV bundle, PostgreSQL's own COPY ... (FORMAT csv) loads the
file into a copy of the table, which must hold the same rows (array columns,
which the bundle writes as JSON, are compared as JSON). With --infinities,
DuckDB must read the ±infinity dates and timestamps of that table as infinite.

Prints one line per check; exits 1 on the first difference.
"""

import datetime
import decimal
import json
import math
import struct
import sys
import uuid
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq


def fail(msg):
    print(f"DIFFERENCE: {msg}")
    sys.exit(1)


def expected_arrow(ft):
    """The Arrow type pyarrow must show for a bundle file type, as text."""
    kind = ft["type"]
    scalar = {
        "bool": "bool",
        "int16": "int16",
        "int32": "int32",
        "int64": "int64",
        "float32": "float",
        "float64": "double",
        "numeric": "string",
        "text": "string",
        "enum": "string",
        "pg-text": "string",
        "json": "extension<arrow.json>",
        "jsonb": "extension<arrow.json>",
        "bytes": "binary",
        "uuid": "extension<arrow.uuid>",
        "date": "date32[day]",
        "timestamp": "timestamp[us]",
        "timestamptz": "timestamp[us, tz=UTC]",
        "time": "time64[us]",
    }
    if kind in scalar:
        return scalar[kind]
    if kind == "decimal":
        return f"decimal128({ft['precision']}, {ft['scale']})"
    if kind == "interval":
        return "struct<months: int32 not null, days: int32 not null, micros: int64 not null>"
    if kind == "list":
        inner = expected_arrow(ft["element"])
        for _ in range(ft["dims"]):
            inner = f"list<element: {inner}>"
        return inner
    return None


def normal(v, pg_type):
    """A value from any of the readers in one comparable form."""
    if v is None:
        return None
    if pg_type in ("json", "jsonb"):
        return json.loads(v) if isinstance(v, (str, bytes)) else v
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, float) and pg_type == "real":
        # PostgreSQL prints a real in its shortest form; compare as float4.
        return struct.unpack("f", struct.pack("f", v))[0]
    if isinstance(v, str) and pg_type == "numeric":
        v = decimal.Decimal(v)
    if type(v).__module__ == "ipaddress":
        return str(v)
    if isinstance(v, memoryview):
        return bytes(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, bytes) and pg_type == "uuid":
        return str(uuid.UUID(bytes=v))
    if isinstance(v, dict) and set(v) == {"months", "days", "micros"}:
        return (v["months"], v["days"], v["micros"])
    if isinstance(v, list):
        return [normal(x, pg_type.rstrip("[]")) for x in v]
    if isinstance(v, decimal.Decimal):
        return v if v.is_finite() else str(v)
    return v


def base_type(t):
    """`numeric(12,3)` → `numeric`, `timestamp with time zone[]` → `timestamptz[]`."""
    array = t.endswith("[]")
    core = (t[:-2] if array else t).split("(")[0].strip()
    core = {
        "timestamp with time zone": "timestamptz",
        "timestamp without time zone": "timestamp",
        "time without time zone": "time",
    }.get(core, core)
    return core + ("[]" if array else "")


def pg_rows(conn, table, columns, types):
    """The table's rows from PostgreSQL, intervals as (months, days, micros)."""
    exprs = []
    for c, t in zip(columns, types):
        q = '"' + c.replace('"', '""') + '"'
        if t == "interval":
            exprs.append(
                f"CASE WHEN {q} IS NULL THEN NULL ELSE json_build_array("
                f"(extract(year from {q}) * 12 + extract(month from {q}))::int, "
                f"extract(day from {q})::int, "
                f"(extract(hour from {q}) * 3600000000 + extract(minute from {q}) * 60000000"
                f" + extract(microseconds from {q}))::int8) END"
            )
        elif t in ("json", "jsonb"):
            # As text, like the readers give it: both sides are parsed alike.
            exprs.append(f"{q}::text")
        else:
            exprs.append(q)
    key = '"' + columns[0] + '"'
    rows = conn.execute(f"SELECT {', '.join(exprs)} FROM {table} ORDER BY {key}").fetchall()
    out = []
    for r in rows:
        out.append(
            [
                tuple(v) if t == "interval" and v is not None else normal(v, t)
                for v, t in zip(r, types)
            ]
        )
    return out


def compare(reader, got_rows, want_rows, columns):
    if len(got_rows) != len(want_rows):
        fail(f"{reader}: {len(got_rows)} rows, PostgreSQL has {len(want_rows)}")
    for g, w in zip(got_rows, want_rows):
        for c, a, b in zip(columns, g, w):
            if a != b:
                fail(f"{reader}: row {w[0]!r}, column {c}: read {a!r}, PostgreSQL has {b!r}")
    print(f"{reader}: {len(got_rows)} rows equal PostgreSQL's")


def main():
    args = sys.argv[1:]
    infinities = None
    if "--infinities" in args:
        i = args.index("--infinities")
        infinities = args[i + 1]
        del args[i : i + 2]
    bundle, url, table = Path(args[0]), args[1], args[2]
    manifest = json.loads((bundle / "manifest.json").read_text())
    entry = next(t for t in manifest["tables"] if t["name"] == table)
    files = [str(bundle / f["path"]) for f in entry["files"]]
    columns = [c["name"] for c in entry["columns"]]
    conn = psycopg.connect(url, autocommit=True)
    types = [
        r[0]
        for r in conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (table,),
        ).fetchall()
    ]
    base_types = [base_type(t) for t in types]
    want = pg_rows(conn, table, columns, base_types)

    if manifest["file_format"] == "parquet":
        arrow = pq.read_table(files)
        for c in entry["columns"]:
            want_type = expected_arrow(c)
            got_type = str(arrow.schema.field(c["name"]).type)
            if want_type is not None and got_type != want_type:
                fail(f"pyarrow: column {c['name']} is {got_type}, expected {want_type}")
        print(f"pyarrow: the types of {len(columns)} columns are as the type table says")
        order = sorted(range(arrow.num_rows), key=lambda i: arrow.column(0)[i].as_py())
        got = []
        for i in order:
            got.append([normal(arrow.column(c)[i].as_py(), t) for c, t in zip(columns, base_types)])
        compare("pyarrow", got, want, columns)

        db = duckdb.connect()
        rel = db.execute(
            f"SELECT * FROM read_parquet({files!r}) ORDER BY 1"
        )
        got = [[normal(v, t) for v, t in zip(r, base_types)] for r in rel.fetchall()]
        compare("duckdb", got, want, columns)
        if infinities:
            inf_entry = next(t for t in manifest["tables"] if t["name"] == infinities)
            inf_files = [str(bundle / f["path"]) for f in inf_entry["files"]]
            cols = [c["name"] for c in inf_entry["columns"] if c["type"] in ("date", "timestamp", "timestamptz")]
            for c in cols:
                got = db.execute(
                    f"SELECT count(*) FILTER (WHERE isinf(\"{c}\")) FROM read_parquet({inf_files!r})"
                ).fetchone()[0]
                pg = conn.execute(
                    f"SELECT count(*) FILTER (WHERE \"{c}\" IN ('infinity', '-infinity')) FROM {infinities}"
                ).fetchone()[0]
                if got != pg or pg == 0:
                    fail(f"duckdb: {infinities}.{c}: {got} infinite values, PostgreSQL has {pg}")
            print(f"duckdb: ±infinity read back in {', '.join(cols)}")
    else:
        # PostgreSQL's own CSV reader: NULL is an unquoted empty field, '' is "".
        arrays = [c for c, t in zip(columns, base_types) if t.endswith("[]")]
        defs = ", ".join(
            f'"{c}" ' + ("text" if t.endswith("[]") else f"{t}")
            for c, t in zip(columns, [types[i] for i in range(len(columns))])
        )
        conn.execute(f"CREATE TEMP TABLE loaded ({defs})")
        with conn.cursor().copy("COPY loaded FROM STDIN (FORMAT csv, HEADER true)") as cp:
            for f in files:
                cp.write(Path(f).read_bytes())
        plain = [c for c in columns if c not in arrays]
        # json has no equality operator: its text is compared (COPY keeps it exactly).
        qcols = ", ".join(
            f'"{c}"::text' if base_types[columns.index(c)] == "json" else f'"{c}"' for c in plain
        )
        diff = conn.execute(
            f"SELECT count(*) FROM ((SELECT {qcols} FROM {table} EXCEPT ALL SELECT {qcols} FROM loaded)"
            f" UNION ALL (SELECT {qcols} FROM loaded EXCEPT ALL SELECT {qcols} FROM {table})) d"
        ).fetchone()[0]
        if diff:
            fail(f"COPY FROM csv: {diff} rows differ from PostgreSQL's")
        for c in arrays:
            d = conn.execute(
                f'SELECT count(*) FROM {table} t JOIN loaded l ON l."{columns[0]}" = t."{columns[0]}" '
                f'WHERE to_jsonb(t."{c}") IS DISTINCT FROM l."{c}"::jsonb'
            ).fetchone()[0]
            if d:
                fail(f"COPY FROM csv: array column {c}: {d} values differ from PostgreSQL's as JSON")
        n = conn.execute("SELECT count(*) FROM loaded").fetchone()[0]
        print(f"postgresql COPY FROM csv: {n} rows equal PostgreSQL's")


main()
