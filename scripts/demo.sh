#!/usr/bin/env bash
# Creates a small demo database `pg2sqlite_demo` in the local PostgreSQL from
# fixtures/demo.sql and copies it into demo.db with pg2sqlite.
set -euo pipefail
cd "$(dirname "$0")/.."

PGURL="${PGURL:-postgres://root@127.0.0.1:5432}"
psql "$PGURL/postgres" -qc 'DROP DATABASE IF EXISTS pg2sqlite_demo' -c 'CREATE DATABASE pg2sqlite_demo'
psql "$PGURL/pg2sqlite_demo" -q -v ON_ERROR_STOP=1 -f fixtures/demo.sql

cargo build --release --quiet
./target/release/pg2sqlite sync --source "$PGURL/pg2sqlite_demo" --schema public,billing \
    --target demo.db --full "$@"
