#!/usr/bin/env bash
# End-to-end benchmark: pg2sqlite on the fixture databases, next to the plain
# baseline (psql "\copy … to stdout csv" piped into sqlite3 ".import").
#
#   benches/e2e.sh [--scale N] [--runs N] [--profiles pgbench,app,wide] [--out FILE] [--keep]
#
# For each profile it builds the fixture (`pg2sqlite fixtures`) in a database
# p2s_e2e_<profile>, dropped and created afresh, and then runs RUNS rounds of:
#
#   pg2sqlite sync --full --quiet      (copies, then verifies before publishing)
#   pg2sqlite sync --full --quiet --no-verify
#   pg2sqlite verify                   (on the file the sync wrote)
#   baseline: sqlite3 file < CREATE TABLEs with the same column names, then per
#             table psql -c "\copy T to stdout csv" | sqlite3 file ".import --csv /dev/stdin T"
#
# then applies a burst of 1 % changes after a cutover (`pg2sqlite fixtures
# --changes 1 --since $CUTOVER`) and runs RUNS rounds of the delta merge of that
# burst into a copy of the file the last full sync wrote:
#
#   pg2sqlite sync --quiet --since $CUTOVER               (merge, verify, commit; undo kept)
#   pg2sqlite sync --quiet --since $CUTOVER --backup copy (a copy of the file first)
#   pg2sqlite sync --quiet --since $CUTOVER --no-backup
#   pg2sqlite sync --quiet                                (right after: nothing to merge)
#
# Each copy is first checked whole by `pg2sqlite verify` (not timed), which
# notes it as sound: the delta then finds the file as a real earlier run would
# have left it, and does not check it whole again (README, "Safe").
#
# measuring wall time and peak RSS with /usr/bin/time -f "%e %M" (for the
# baseline, the largest process of the pipeline). It writes the medians, with
# the machine and the commands, to benches/RESULTS.md (or --out), and ends it
# with issue 14's targets this run measures (the delta's and nothing-to-merge's
# shares of the verified full sync, and the largest peak RSS).
#
# PostgreSQL: $PGURL (default postgres://root@127.0.0.1:5432), sslmode=disable
# for both tools. Files go to $BENCH_DIR (default /tmp/p2s_e2e); at scale 1 they
# take about 3 GB. The fixture databases are dropped at the end unless --keep.
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=1
RUNS=3
PROFILES=pgbench,app,wide
OUT=benches/RESULTS.md
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --scale) SCALE="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --profiles) PROFILES="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

PGURL="${PGURL:-postgres://root@127.0.0.1:5432}"
# Later than every timestamp of the fixtures (rows are created up to 2025-11-01).
CUTOVER=2025-11-13T00:00:00Z
WORK="${BENCH_DIR:-/tmp/p2s_e2e}"
BIN=target/release/pg2sqlite
mkdir -p "$WORK"
for tool in psql sqlite3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "benches/e2e.sh needs $tool" >&2; exit 2; }
done

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# What is measured is what is built now: note the commit before building (others
# may commit while this runs).
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (with uncommitted changes in src)')"
log "building the release binary at $commit"
cargo build --release --quiet

# measure NAME CMD...: runs CMD under /usr/bin/time and appends "wall rss_kib
# cpu_secs exit_code" to $WORK/NAME. Only sync and verify may fail (exit 1: a
# difference); the output of the last run is kept in $WORK/NAME.err for the notes.
measure() {
    local name="$1"; shift
    local tf="$WORK/time.out" status=0
    /usr/bin/time -f "%e %M %U %S" -o "$tf" "$@" > "$WORK/$name.err" 2>&1 || status=$?
    if [ "$status" -ne 0 ] && { [ "$status" -ne 1 ] || [ "$name" = build.runs ] || [ "$name" = baseline.runs ]; }; then
        echo "failed (exit $status): $*" >&2
        cat "$WORK/$name.err" >&2
        exit 3
    fi
    tail -n 1 "$tf" | awk -v s="$status" '{ printf "%s %s %.2f %s\n", $1, $2, $3 + $4, s }' >> "$WORK/$name"
}

# median FILE COLUMN: the median of a column (the lower middle for an even count).
median() {
    local n
    n=$(wc -l < "$1")
    cut -d' ' -f"$2" "$1" | sort -g | sed -n "$(( (n + 1) / 2 ))p"
}

# row NAME LABEL ROWS BYTES: one Markdown table row from the runs of NAME.
row() {
    local wall rss cpu all failed label="$2"
    wall=$(median "$WORK/$1" 1)
    rss=$(median "$WORK/$1" 2)
    cpu=$(median "$WORK/$1" 3)
    all=$(cut -d' ' -f1 "$WORK/$1" | paste -sd' ' | sed 's/ /, /g')
    failed=$(awk '$4 != 0' "$WORK/$1" | wc -l)
    if [ "$failed" -gt 0 ]; then
        label="$label — **exit 1 in $failed of $(wc -l < "$WORK/$1") runs**"
        printf -- '- %s, `%s`: %s\n' "$profile" "$2" \
            "$({ grep -m 1 MISMATCH "$WORK/$1.err" || grep -m 1 error "$WORK/$1.err"; } | cut -c 1-300)" \
            >> "$WORK/failures.md"
    fi
    # the label goes through the environment: awk -v would eat its backslashes
    LABEL="$label" awk -v wall="$wall" -v rss="$rss" -v cpu="$cpu" -v rows="$3" -v bytes="$4" -v all="$all" 'BEGIN {
        printf "| %s | %.2f | %.0f | %.1f | %.0f | %.1f | %s |\n", ENVIRON["LABEL"], wall, rows / wall, bytes / 1e6 / wall, rss / 1024, cpu, all
    }'
}

results="$WORK/results.md"
: > "$results"
# One row per profile for the targets section at the end (issue 14's targets
# 3 and 4, from this run's medians).
: > "$WORK/targets.md"
: > "$WORK/failures.md"
IFS=, read -r -a profiles <<< "$PROFILES"
for profile in "${profiles[@]}"; do
    db="p2s_e2e_$profile"
    url="$PGURL/$db?sslmode=disable"
    psql -X -q "$PGURL/postgres?sslmode=disable" \
        -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    rm -f "$WORK"/*.runs "$WORK"/*.err

    log "$profile: building the fixture at scale $SCALE"
    measure build.runs "$BIN" fixtures --quiet --target "$url" --profile "$profile" --scale "$SCALE"
    build_secs=$(cut -d' ' -f1 "$WORK/build.runs")

    tables=$(psql -X -At "$url" -c "SELECT string_agg(quote_ident(relname), ' ' ORDER BY relname)
        FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
    rows=$(psql -X -At "$url" -c "SELECT $(for t in $tables; do printf '(SELECT count(*) FROM %s) + ' "$t"; done) 0")
    pg_bytes=$(psql -X -At "$url" -c "SELECT sum(pg_total_relation_size(oid))
        FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
    # The baseline's tables: the same column names, with the affinity a person
    # writing them by hand would pick.
    psql -X -At "$url" > "$WORK/baseline-schema.sql" -c "
        SELECT format('CREATE TABLE %I (%s);', table_name, string_agg(format('%I %s', column_name,
            CASE WHEN data_type IN ('smallint', 'integer', 'bigint') THEN 'INTEGER'
                 WHEN data_type IN ('real', 'double precision') THEN 'REAL'
                 WHEN data_type = 'numeric' THEN 'NUMERIC'
                 WHEN data_type = 'bytea' THEN 'BLOB'
                 ELSE 'TEXT' END), ', ' ORDER BY ordinal_position))
        FROM information_schema.columns WHERE table_schema = 'public'
        GROUP BY table_name ORDER BY table_name"

    file="$WORK/$profile.db"
    base="$WORK/$profile-baseline.db"
    export url base tables WORK
    for run in $(seq 1 "$RUNS"); do
        log "$profile: run $run of $RUNS"
        rm -f "$file" "$file.nv" "$base"
        measure sync.runs "$BIN" sync --full --quiet --source "$url" --target "$file"
        measure noverify.runs "$BIN" sync --full --quiet --no-verify --source "$url" --target "$file.nv"
        # verify checks the --no-verify copy, which exists even when the sync refused to publish
        measure verify.runs "$BIN" verify --source "$url" --target "$file.nv"
        measure baseline.runs bash -c '
            set -euo pipefail
            sqlite3 "$base" < "$WORK/baseline-schema.sql"
            for t in $tables; do
                psql -X -q "$url" -c "\copy $t to stdout csv" | sqlite3 "$base" ".import --csv /dev/stdin $t"
            done'
    done
    log "$profile: 1 % changes after $CUTOVER, then $RUNS delta merges"
    cp "$file.nv" "$WORK/delta-base.db"
    "$BIN" fixtures --quiet --target "$url" --profile "$profile" --changes 1 --since "$CUTOVER" \
        > "$WORK/changes.out"
    for run in $(seq 1 "$RUNS"); do
        for variant in delta deltacopy deltanb; do
            cp "$WORK/delta-base.db" "$WORK/delta.db"
            rm -rf "$WORK"/delta.db.pg2sqlite-backup-* "$WORK"/delta.db.pg2sqlite-undo-*
            # The copy is a new file to the tool, which would check it whole
            # before merging; after a real sync it is the file the tool left,
            # which it does not check again. verify (not timed) checks it and
            # notes it as sound, as that sync would have.
            "$BIN" verify --source "$url" --target "$WORK/delta.db" > /dev/null 2>&1 || true
            extra=()
            [ "$variant" = deltanb ] && extra+=(--no-backup)
            [ "$variant" = deltacopy ] && extra+=(--backup copy)
            # pgbench_history has no primary key: a delta cannot match its rows
            [ "$profile" = pgbench ] && extra+=(--exclude pgbench_history)
            measure "$variant.runs" "$BIN" sync --quiet --json --source "$url" --target "$WORK/delta.db" \
                --since "$CUTOVER" "${extra[@]}"
            if [ "$variant" = delta ]; then
                du -sb "$WORK"/delta.db.pg2sqlite-undo-* 2>/dev/null \
                    | awk '{ s += $1 } END { print s + 0 }' > "$WORK/undo.bytes"
            fi
        done
        # Right after: the next sync, continuing from the stored watermark, has
        # nothing to merge.
        extra=()
        [ "$profile" = pgbench ] && extra+=(--exclude pgbench_history)
        measure nothing.runs "$BIN" sync --quiet --json --source "$url" --target "$WORK/delta.db" "${extra[@]}"
    done
    delta_rows=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["read"])' \
        "$WORK/deltanb.runs.err")
    delta_bytes=$(stat -c %s "$WORK/delta.db")
    undo_bytes=$(cat "$WORK/undo.bytes")
    rm -rf "$WORK/delta.db" "$WORK/delta-base.db" "$WORK"/delta.db.pg2sqlite-backup-* "$WORK"/delta.db.pg2sqlite-undo-*
    file_bytes=$(stat -c %s "$file.nv")
    base_bytes=$(stat -c %s "$base")
    base_rows=0
    for t in $tables; do
        base_rows=$(( base_rows + $(sqlite3 "$base" "SELECT count(*) FROM $t") ))
    done
    [ "$base_rows" -eq "$rows" ] || { echo "$profile: the baseline has $base_rows rows, PostgreSQL $rows" >&2; exit 3; }

    {
        printf '### %s\n\n' "$profile"
        printf '%s rows in %s tables (%s), %.0f MB in PostgreSQL; fixture built in %.1f s.\n' \
            "$rows" "$(wc -w <<< "$tables")" "$(sed 's/ /, /g' <<< "$tables")" \
            "$(awk -v b="$pg_bytes" 'BEGIN { print b / 1e6 }')" "$build_secs"
        printf 'SQLite file: %.0f MB (pg2sqlite), %.0f MB (baseline).\n\n' \
            "$(awk -v b="$file_bytes" 'BEGIN { print b / 1e6 }')" "$(awk -v b="$base_bytes" 'BEGIN { print b / 1e6 }')"
        echo '| step | wall s (median) | rows/s | MB/s | peak RSS MiB | client CPU s | wall s of each run |'
        echo '|---|---:|---:|---:|---:|---:|---|'
        row sync.runs 'pg2sqlite sync --full (copy + verify)' "$rows" "$file_bytes"
        row noverify.runs 'pg2sqlite sync --full --no-verify' "$rows" "$file_bytes"
        row verify.runs 'pg2sqlite verify' "$rows" "$file_bytes"
        row baseline.runs 'psql \copy csv \| sqlite3 .import' "$rows" "$base_bytes"
        row delta.runs "pg2sqlite sync --since (1 % changes: $delta_rows rows read; merge, verify, undo kept)" "$delta_rows" "$delta_bytes"
        row deltacopy.runs 'pg2sqlite sync --since --backup copy' "$delta_rows" "$delta_bytes"
        row deltanb.runs 'pg2sqlite sync --since --no-backup' "$delta_rows" "$delta_bytes"
        row nothing.runs 'pg2sqlite sync right after (nothing to merge)' 0 "$delta_bytes"
        echo
        awk -v d="$(median "$WORK/delta.runs" 1)" -v n="$(median "$WORK/deltanb.runs" 1)" \
            -v c="$(median "$WORK/deltacopy.runs" 1)" -v u="$undo_bytes" -v fb="$file_bytes" \
            -v z="$(median "$WORK/nothing.runs" 1)" \
            -v f="$(median "$WORK/sync.runs" 1)" -v v="$(median "$WORK/noverify.runs" 1)" 'BEGIN {
            printf "Delta merge of 1 %% changes / full sync: %.0f %% (undo kept), %.0f %% (--backup copy), %.0f %% (--no-backup) of `sync --full`; %.0f %% and %.0f %% of `sync --full --no-verify` (undo kept, --no-backup). Nothing to merge: %.0f %% of `sync --full`. The undo the last merge kept: %.0f MB, %.0f %% of the file.\n", 100 * d / f, 100 * c / f, 100 * n / f, 100 * d / v, 100 * n / v, 100 * z / f, u / 1e6, 100 * u / fb
        }'
        echo
    } >> "$results"
    # The largest peak RSS of any pg2sqlite run of this profile (every run, not
    # the median: the target is a ceiling).
    peak_kib=$(cat "$WORK"/{sync,noverify,verify,delta,deltacopy,deltanb,nothing}.runs | cut -d' ' -f2 | sort -g | tail -n 1)
    awk -v p="$profile" -v d="$(median "$WORK/delta.runs" 1)" -v c="$(median "$WORK/deltacopy.runs" 1)" \
        -v n="$(median "$WORK/deltanb.runs" 1)" -v z="$(median "$WORK/nothing.runs" 1)" \
        -v f="$(median "$WORK/sync.runs" 1)" -v rss="$peak_kib" 'BEGIN {
        worst = d; if (c > worst) worst = c; if (n > worst) worst = n
        best = d; if (c < best) best = c; if (n < best) best = n
        printf "| %s | %.0f–%.0f %% | %s | %.0f %% | %s | %.0f MiB | %s |\n", p,
            100 * best / f, 100 * worst / f, (100 * worst / f <= 5 ? "met" : "missed"),
            100 * z / f, (100 * z / f <= 2 ? "met" : "missed"), rss / 1024, (rss / 1024 <= 128 ? "met" : "missed")
    }' >> "$WORK/targets.md"
    rm -f "$file" "$file.nv" "$base"
    if [ "$KEEP" = 0 ]; then
        psql -X -q "$PGURL/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    fi
done

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
mem=$(free -g | awk '/^Mem:/ { print $2 " GiB" }')
{
    cat <<EOF
# End-to-end benchmark results

Written by \`benches/e2e.sh --scale $SCALE --runs $RUNS --profiles $PROFILES\` (see the script
for the exact commands); do not edit by hand, run it again. The comparison
with the tools users would pick instead (DuckDB, ADBC) is in
[\`PEERS_RESULTS.md\`](PEERS_RESULTS.md) (\`benches/peers.sh\`); where the time
goes, and what is left to reach issue 14's targets, in [\`PROFILE.md\`](PROFILE.md).

* date: $(date -u +%Y-%m-%dT%H:%M:%SZ), pg2sqlite built at commit $commit
* machine: $(nproc) CPUs ($cpu), $mem memory, $(uname -sr)
* PostgreSQL: $(psql -X -At "$PGURL/postgres?sslmode=disable" -c 'SHOW server_version'), on the same machine; sqlite3 CLI $(sqlite3 --version | cut -d' ' -f1); pg2sqlite release build, $(rustc --version | cut -d' ' -f2) (bundled SQLite of libsqlite3-sys $(grep -A1 '^name = "libsqlite3-sys"' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p'))
* scale $SCALE (\`pg2sqlite fixtures --scale $SCALE\`: about $SCALE million rows per profile), $RUNS runs of each step, medians

Both tools connect with \`sslmode=disable\` over TCP to 127.0.0.1. Runs are
interleaved (sync, sync --no-verify, verify, baseline; then again), the
PostgreSQL data stays in the OS cache. MB/s is the size of the resulting SQLite
file (10^6 bytes) over the wall time; for \`verify\`, that of the file it
checks (the copy \`sync --no-verify\` wrote). Peak RSS is the client's
(\`/usr/bin/time -f %M\`; for the baseline the largest process of the
pipeline) and client CPU its user + system time; PostgreSQL's own processes are
not counted, and they share the same CPUs.

What the baseline does not do, and pg2sqlite does: types (it stores every value
as CSV text, with NULL and the empty string both becoming '' and bytea becoming
'\\x…' hex text), primary keys, foreign keys and indexes, one consistent snapshot,
parallel reads, an atomic publish of the file, and the verification.

The delta rows merge the burst \`pg2sqlite fixtures --changes 1 --since $CUTOVER\`
wrote (1 % of the rows updated, 0.5 % inserted, 0.1 % deleted) into a copy of
the file the full sync wrote; rows/s counts the rows the delta read. Tables
without a cursor column (pgbench_accounts, branches, tellers; the app's
audit_log) are searched by the row versions PostgreSQL wrote since the full
sync (their xmin: one scan of each table, no content hashed); pgbench_history has no primary key, which
a delta merge refuses, so it is left out (\`--exclude pgbench_history\`).

EOF
    cat "$results"
    cat <<EOF
### Issue 14's targets in this run

Targets 3 and 4 from the medians above (the delta's range is the cheapest and
the dearest of its three backup policies), as a share of the verified full
sync of the same profile; peak RSS is the largest of every pg2sqlite run here:

| profile | 1 % delta | ≤ 5 % | nothing to merge | ≤ 2 % | peak RSS | ≤ 128 MiB |
|---|---:|---|---:|---|---:|---|
EOF
    cat "$WORK/targets.md"
    cat <<EOF

Targets 1 and 2 (against DuckDB and ADBC) are measured by \`benches/peers.sh\`
([\`PEERS_RESULTS.md\`](PEERS_RESULTS.md); 10M rows:
[\`PEERS_RESULTS_10M.md\`](PEERS_RESULTS_10M.md)). For every target, met or
not, where the time goes and what would close it:
[\`PROFILE.md\`, "Issue 14's targets: where they stand"](PROFILE.md#issue-14s-targets-where-they-stand).

EOF
    if [ -s "$WORK/failures.md" ]; then
        printf '### Runs that failed\n\n'
        cat "$WORK/failures.md"
        echo
    fi
} > "$OUT"
log "wrote $OUT"
