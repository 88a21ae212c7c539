#!/usr/bin/env bash
# Creates .venv-orm with the pinned ORMs and bundle readers of tests/orm/requirements.txt (Django,
# SQLAlchemy, psycopg, pyarrow, DuckDB), which tests/integration/{orm,bundle}.rs drive. Idempotent: an
# environment that already holds exactly these requirements is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-orm
req=tests/orm/requirements.txt
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
echo "orm-venv: $venv ready ($(grep -v "^#" "$req" | tr "\n" " "))"
