#!/usr/bin/env bash
# Export/import benchmark: `pg2sqlite export` (Parquet, CSV) and `import` next
# to a full `sync` of the same database, and DuckDB's `COPY (SELECT * FROM pg…)
# TO 'x.parquet'` of the same tables.
#
#   benches/bundle.sh [--runs N] [--dbs bench_pgbench,bench_wide] [--out FILE]
#
# The databases are the peer harness's 1M-row fixtures (../shared/bench-peers:
# copy it to /tmp/bench-peers and run its setup.sh and fixtures/make_fixtures.sh
# first); DuckDB is the harness's (its .venv, with the postgres extension).
# Each measurement is /usr/bin/time -f "%e %M" around one command: wall seconds
# and peak RSS; the medians of RUNS runs go to benches/BUNDLE_RESULTS.md (or --out).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=3
DBS=bench_pgbench,bench_wide
OUT=benches/BUNDLE_RESULTS.md
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --dbs) DBS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
PGURL="${PGURL:-postgres://root@127.0.0.1:5432}"
PEERS="${PEERS:-/tmp/bench-peers}"
WORK="${BENCH_DIR:-/tmp/p2s_bundle}"
BIN=target/release/pg2sqlite
mkdir -p "$WORK"
[ -x "$BIN" ] || cargo build --release --quiet

# DuckDB with the postgres extension, as the peer harness loads it offline.
cat > "$WORK/duckdb_parquet.py" <<'PY'
import glob, os, sys, duckdb
db, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
try:
    con.execute("INSTALL postgres; LOAD postgres;")
except Exception:
    import duckdb_ext
    base = os.path.join(list(duckdb_ext.__path__)[0], "extensions", "v" + duckdb.__version__.lstrip("v"))
    con.execute(f"LOAD '{glob.glob(os.path.join(base, '*', 'postgres_scanner.duckdb_extension'))[0]}'")
con.execute(f"ATTACH 'host=127.0.0.1 port=5432 dbname={db} user=root' AS pg (TYPE postgres, READ_ONLY)")
os.makedirs(out, exist_ok=True)
for (t,) in con.execute("select table_name from duckdb_tables() where database_name='pg' and schema_name='public'").fetchall():
    con.execute(f"COPY (SELECT * FROM pg.public.\"{t}\") TO '{out}/{t}.parquet' (FORMAT parquet, COMPRESSION zstd)")
PY

measure() { # name command... → "seconds rss_kb" of the median run
    local name="$1"; shift
    local times=()
    for _ in $(seq "$RUNS"); do
        rm -rf "$WORK/out" "$WORK/out.db" "$WORK/out.partial"
        /usr/bin/time -o "$WORK/time" -f "%e %M" "$@" >/dev/null 2>"$WORK/stderr" \
            || { echo "$name failed:" >&2; cat "$WORK/stderr" >&2; exit 1; }
        times+=("$(tail -1 "$WORK/time")")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

{
    echo "# Export and import, measured $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "\`benches/bundle.sh --runs $RUNS\` on $(nproc) CPUs; medians; peak RSS of the largest process."
    echo
    echo "| database | rows | command | seconds | rows/s | peak RSS MiB | output MiB |"
    echo "|---|---|---|---|---|---|---|"
} > "$OUT.tmp"
for db in ${DBS//,/ }; do
    rows=$(psql "$PGURL/$db" -Atc "select sum((xpath('/row/c/text()', query_to_xml(
        format('select count(*) as c from %I.%I', schemaname, relname), false, true, '')))[1]::text::int8)
        from pg_stat_user_tables")
    url="$PGURL/$db?sslmode=disable"
    run_row() { # label size-path command...
        local label="$1" size_of="$2"; shift 2
        read -r secs rss < <(measure "$label" "$@")
        local size; size=$(du -sm "$size_of" 2>/dev/null | cut -f1 || echo "?")
        local rate; rate=$(awk -v r="$rows" -v s="$secs" 'BEGIN { printf "%.0f", r / s }')
        echo "| $db | $rows | $label | $secs | $rate | $((rss / 1024)) | $size |" >> "$OUT.tmp"
        echo "[$db] $label: $secs s, $((rss / 1024)) MiB" >&2
    }
    run_row "sync (verified)" "$WORK/out.db" "$BIN" sync --source "$url" --target "$WORK/out.db" --quiet
    run_row "sync --no-verify" "$WORK/out.db" "$BIN" sync --source "$url" --target "$WORK/out.db" --quiet --no-verify
    run_row "export parquet" "$WORK/out" "$BIN" export --source "$url" --out "$WORK/out" --quiet
    run_row "export csv" "$WORK/out" "$BIN" export --source "$url" --out "$WORK/out" --format csv --quiet
    if [ -x "$PEERS/.venv/bin/python" ]; then
        run_row "duckdb COPY TO parquet" "$WORK/out" "$PEERS/.venv/bin/python" "$WORK/duckdb_parquet.py" "$db" "$WORK/out"
    fi
    rm -rf "$WORK/bundle" && "$BIN" export --source "$url" --out "$WORK/bundle" --quiet
    run_row "import parquet (verified)" "$WORK/out.db" "$BIN" import --from "$WORK/bundle" --target "$WORK/out.db" --quiet
done
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT" >&2
