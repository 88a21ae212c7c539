#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 and that the role
# `root` can log in there without a password (what the tests and demo expect).
# Installs PostgreSQL from Debian's packages when it is missing.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "ensure-postgres: installing PostgreSQL" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)"
if [ -z "$version" ]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    $SUDO pg_createcluster "$version" main
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "ensure-postgres: starting cluster $version/main" >&2
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do
        pg_isready -h 127.0.0.1 -p 5432 -q && break
        sleep 1
    done
fi

if ! psql -h 127.0.0.1 -U root -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    echo "ensure-postgres: allowing role root over 127.0.0.1 (trust)" >&2
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! grep -q 'pg2sqlite-ci' "$hba"; then
        { echo "host all all 127.0.0.1/32 trust # pg2sqlite-ci"; echo "host all all ::1/128 trust # pg2sqlite-ci"; cat "$hba"; } > /tmp/pg_hba.conf.new
        $SUDO cp /tmp/pg_hba.conf.new "$hba"
    fi
    $SUDO su postgres -c "psql -qc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'root') THEN CREATE ROLE root SUPERUSER LOGIN; END IF; END \\\$\\\$\"" 
    $SUDO su postgres -c "psql -qc 'SELECT pg_reload_conf()'" >/dev/null
    $SUDO su postgres -c "createdb -O root root" 2>/dev/null || true
fi

pg_isready -h 127.0.0.1 -p 5432
