#!/usr/bin/env bash
# Mappings pages at scale (issue 3) in a fresh database `bartender_bench_mappings`; the dev database is left alone.
#   bench/mappings_bench.sh [BARS] [SALES]        default 2000 bars, 1000000 background sales
# Seeds BARS/SALES with seed_demo, then bench/mappings_bench.py adds one bar with 100,000 sales and 10,000
# mappings and times its unmapped-names page, its bar page and the resolution API through Django's test client.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BARS=${1:-2000}; SALES=${2:-1000000}
"$ROOT/bin/dev" setup
# The panel refuses to start with DEBUG off and no SECRET_KEY: the local key bin/dev keeps in .var/.
export SECRET_KEY=${SECRET_KEY:-$(cat "$ROOT/.var/secret_key")}
PORT=${BARTENDER_PG_PORT:-25432}
DB=bartender_bench_mappings
psql -X -q -h 127.0.0.1 -p "$PORT" -U bartender -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export DATABASE_URL="postgresql://bartender@127.0.0.1:$PORT/$DB"
"$ROOT/.venv/bin/python" "$ROOT/manage.py" migrate --noinput -v 0
"$ROOT/.venv/bin/python" "$ROOT/manage.py" standin --phase2 -v 0
"$ROOT/.venv/bin/python" "$ROOT/manage.py" seed_demo --bars "$BARS" --sales "$SALES"
cd "$ROOT"
"$ROOT/.venv/bin/python" "$ROOT/bench/mappings_bench.py"
