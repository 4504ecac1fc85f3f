#!/usr/bin/env bash
# Backfill and log-list bench (issue 4) in fresh databases; the dev database is left alone.
#   bench/backfill_bench.sh [BARS] [SALES]        default 10000 bars, 1000000 sales
# Seeds BARS/SALES with seed_demo, clones the database, then runs bench/backfill_bench.py, which times the
# batched backfill on one copy and one set-based UPDATE … FROM per table on the other, checks that both end
# in the same state, and times the migration-log and audit-log list pages at 1,000,000 rows.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BARS=${1:-10000}; SALES=${2:-1000000}
"$ROOT/bin/dev" setup
# The panel refuses to start with DEBUG off and no SECRET_KEY: the local key bin/dev keeps in .var/.
export SECRET_KEY=${SECRET_KEY:-$(cat "$ROOT/.var/secret_key")}
PORT=${BARTENDER_PG_PORT:-25432}
PSQL=(psql -X -q -h 127.0.0.1 -p "$PORT" -U bartender -d postgres)
A=bartender_bench_backfill; B=bartender_bench_setbased
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS $A" -c "DROP DATABASE IF EXISTS $B" -c "CREATE DATABASE $A"
export DATABASE_URL="postgresql://bartender@127.0.0.1:$PORT/$A"
"$ROOT/.venv/bin/python" "$ROOT/manage.py" migrate --noinput -v 0
"$ROOT/.venv/bin/python" "$ROOT/manage.py" seed_demo --bars "$BARS" --sales "$SALES"
"${PSQL[@]}" -c "CREATE DATABASE $B TEMPLATE $A"
cd "$ROOT"
"$ROOT/.venv/bin/python" "$ROOT/bench/backfill_bench.py" \
  --batched "postgresql://bartender@127.0.0.1:$PORT/$A" --setbased "postgresql://bartender@127.0.0.1:$PORT/$B"
