#!/usr/bin/env bash
# pg2sqlite against the tools users would pick instead, in one run of the peer
# harness (../shared/bench-peers, see its README), with the ratios issue 14 asks
# about printed at the end and written to benches/PEERS_RESULTS.md.
#
#   benches/peers.sh [--scale N] [--reps N] [--peers a,b] [--limits] [--out FILE]
#
#   --scale N   fixture size in the harness's units: N × 100,000 rows in each main
#               table (10 = the 1M-row bench_pgbench and bench_wide; 100 = 10M)
#   --reps N    runs of every command, interleaved; medians are compared (3)
#   --peers     the peers besides ours (adbc_e2e,duckdb; baseline_csv always runs)
#   --limits    also measure PostgreSQL's read and SQLite's write limits
#   --out FILE  where the table goes (benches/PEERS_RESULTS.md)
#
# Our variants: `ours` is the default `sync` (copy, verify, then publish),
# `ours_noverify` adds --no-verify, and `ours_verify` times `pg2sqlite verify`
# alone on the file `ours_noverify` just wrote (the harness reads that
# variant's --target, which it leaves in place). The harness is copied to
# $PEERS_DIR (default /tmp/bench-peers) the first time; its first run creates
# a Python venv with the peers and the fixture databases (bench_* only).
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=10
REPS=3
PEERS=adbc_e2e,duckdb
LIMITS=0
OUT=benches/PEERS_RESULTS.md
while [ $# -gt 0 ]; do
    case "$1" in
        --scale) SCALE="$2"; shift 2 ;;
        --reps) REPS="$2"; shift 2 ;;
        --peers) PEERS="$2"; shift 2 ;;
        --limits) LIMITS=1; shift ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

HARNESS_SRC="${HARNESS_SRC:-../shared/bench-peers}"
PEERS_DIR="${PEERS_DIR:-/tmp/bench-peers}"
if [ ! -x "$PEERS_DIR/run_all.sh" ]; then
    [ -d "$HARNESS_SRC" ] || { echo "benches/peers.sh needs the peer harness at $HARNESS_SRC (or HARNESS_SRC=…)" >&2; exit 2; }
    cp -r "$HARNESS_SRC" "$PEERS_DIR"
fi
cargo build --release --quiet
BIN="$(pwd)/target/release/pg2sqlite"
COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')"

export OURS="$BIN sync --source {pg_uri} --target {out} --quiet"
export OURS_NOVERIFY="$BIN sync --source {pg_uri} --target {out} --quiet --no-verify"
# verify alone: on the copy ours_noverify left (the harness runs peers in the
# order of its list, and ours_noverify comes before ours_verify); {out} is
# this variant's own file, which it must leave behind for the harness to check
# (a hard link: no time).
export OURS_VERIFY="$BIN verify --source {pg_uri} --target \$(dirname {out})/ours_noverify.db > /dev/null && ln -f \$(dirname {out})/ours_noverify.db {out}"
export SCALE REPS ONLY="ours,ours_noverify,ours_verify,$PEERS"
[ "$LIMITS" = 1 ] || export SKIP_LIMITS=1
"$PEERS_DIR/run_all.sh"

"$PEERS_DIR/.venv/bin/python" - "$PEERS_DIR/results/latest.json" "$OUT" "$COMMIT" <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))
out, commit = sys.argv[2], sys.argv[3]
runs = res["runs"]
fixtures = [f["name"] for f in res["meta"]["fixtures"]]
peers = sorted({r["peer"] for r in runs.values()})
ours = [p for p in peers if p.startswith("ours")]
others = [p for p in peers if not p.startswith("ours")]
def med(fx, p):
    r = runs.get(f"{fx}/{p}")
    return r["median_s"] if r and r.get("median_s") else None
def rss(fx, p):
    r = runs.get(f"{fx}/{p}")
    return r["peak_rss_mb"] if r else None
lines = [
    "# pg2sqlite against its peers",
    "",
    "Written by `benches/peers.sh` (do not edit by hand, run it again): one run of",
    "`../shared/bench-peers` with our variants as extra peers, interleaved rounds,",
    f"medians of {res['meta']['reps']} runs; ratios are only meaningful within one run.",
    "",
    f"* date: {res['meta']['started']}, pg2sqlite at commit {commit}, {res['meta']['nproc']} CPUs",
    "* fixtures: " + ", ".join(f"{f['name']} ({f['db']}, {f['rows_main']:,} rows)" for f in res["meta"]["fixtures"]),
    "* `ours` = `sync` (copy, verify, publish); `ours_noverify` = `sync --no-verify`;",
    "  `ours_verify` = `verify` alone on the file `ours_noverify` wrote.",
    "",
    "| fixture | " + " | ".join(peers) + " |",
    "|---|" + "---:|" * len(peers),
]
for fx in fixtures:
    cells = []
    for p in peers:
        m, r = med(fx, p), rss(fx, p)
        cells.append(f"{m:.2f} s, {r:.0f} MiB" if m else "failed")
    lines.append(f"| {fx} | " + " | ".join(cells) + " |")
lines += ["", "| fixture | verified ÷ DuckDB (target ≤ 0.8) | verified ÷ fastest peer | fastest peer ÷ no-verify (target ≥ 1.5) | verification overhead (target ≤ 30 %) | verify alone ÷ no-verify (target ≤ 60 %) |",
          "|---|---:|---:|---:|---:|---:|"]
for fx in fixtures:
    v, nv, va = med(fx, "ours"), med(fx, "ours_noverify"), med(fx, "ours_verify")
    peer_times = [(med(fx, p), p) for p in others if p != "baseline_csv" and med(fx, p)]
    fastest = min(peer_times) if peer_times else (None, None)
    duck = med(fx, "duckdb")
    f = lambda x: "n/a" if x is None else f"{x:.2f}"
    pct = lambda x: "n/a" if x is None else f"{100 * x:.0f} %"
    lines.append(" | ".join([
        f"| {fx}",
        f(v / duck if v and duck else None),
        f(v / fastest[0] if v and fastest[0] else None) + (f" ({fastest[1]})" if fastest[1] else ""),
        f(fastest[0] / nv if nv and fastest[0] else None),
        pct(v / nv - 1 if v and nv else None),
        pct(va / nv if va and nv else None),
    ]) + " |")
bad = [f"{k}: {r['fidelity']['problems']}" for k, r in runs.items() if r.get("fidelity", {}).get("problems")]
if bad:
    lines += ["", "Fidelity problems the harness found:", ""] + [f"* {b}" for b in bad]
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
EOF
