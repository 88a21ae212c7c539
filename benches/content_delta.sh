#!/usr/bin/env bash
# The delta of a table without an update cursor: 1M rows whose only timestamp
# is created_at (an append-mostly log, as Django's auto_now_add writes), 100 of
# them edited after a full sync. The delta finds them by the row versions
# PostgreSQL wrote since the full sync (their xmin), and, in a copy of the file
# without the recorded ids (as an earlier version wrote it), by comparing
# content (checksums per key range on both sides, then per key bucket), reading
# only the rows of the differing buckets. Prints the full sync, both deltas,
# verify, and the size of the base the full sync recorded.
#
#   benches/content_delta.sh [ROWS]      (default 1000000)
#
# PostgreSQL: $PGURL (default postgres://root@127.0.0.1:5432); files in
# $BENCH_DIR (default /tmp/p2s_content). Uses target/release/pg2sqlite.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS="${1:-1000000}"
PGURL="${PGURL:-postgres://root@127.0.0.1:5432}"
WORK="${BENCH_DIR:-/tmp/p2s_content}"
BIN=target/release/pg2sqlite
DB=p2s_content_delta
mkdir -p "$WORK"
rm -f "$WORK"/events.db*
cargo build --release --quiet

psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
url="$PGURL/$DB?sslmode=disable"
psql -q "$url" <<SQL
CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, payload text,
                     created_at timestamptz NOT NULL);
INSERT INTO events
SELECT g, 'kind ' || g % 17, repeat(md5(g::text), 2),
       timestamptz '2025-01-01' + g * interval '1 second'
  FROM generate_series(1, $ROWS) g;
ANALYZE events;
SQL

t() { /usr/bin/time -f "%e s, %M KiB peak" "$@" 2>&1 >/dev/null | tail -1; }
echo "full sync (copy, verify, base): $(t "$BIN" sync --quiet --source "$url" --target "$WORK/events.db")"
cp "$WORK/events.db" "$WORK/events-content.db"
sqlite3 "$WORK/events-content.db" "UPDATE _pg2sqlite_sync SET pg_horizon = NULL"
psql -q "$url" -c "UPDATE events SET payload = 'edited' WHERE id IN
                   (SELECT (g * 9973) % $ROWS + 1 FROM generate_series(1, 100) g)"
echo "delta, 100 rows edited, no cursor, by content: $(t "$BIN" sync --quiet --no-backup --source "$url" --target "$WORK/events-content.db")"
echo "delta, 100 rows edited, no cursor, by rows written since: $(t "$BIN" sync --quiet --no-backup --source "$url" --target "$WORK/events.db")"
echo "delta, nothing changed: $(t "$BIN" sync --quiet --no-backup --source "$url" --target "$WORK/events.db")"
echo "verify: $(t "$BIN" verify --source "$url" --target "$WORK/events.db")"
size=$(stat -c %s "$WORK/events.db")
cp "$WORK/events.db" "$WORK/events-nobase.db"
sqlite3 "$WORK/events-nobase.db" "DROP TABLE _pg2sqlite_base; VACUUM;"
nobase=$(stat -c %s "$WORK/events-nobase.db")
echo "file: $size bytes, of which the base $((size - nobase)) bytes ($(( (size - nobase) / ROWS )) per row)"
rm -f "$WORK"/events*.db
psql -q "$PGURL/postgres" -c "DROP DATABASE $DB"
