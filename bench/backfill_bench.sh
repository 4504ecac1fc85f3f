#!/usr/bin/env bash
# Backfill bench (issues 4 and 15) in databases of its own; the dev database is left alone.
#   bench/backfill_bench.sh [BARS] [SALES] [RANGES]     default 10000 bars, 5000000 sales (DESIGN §8), 2 ranges
# Seeds BARS/SALES once with seed_demo into bartender_bench_backfill_seed_<BARS>_<SALES> (kept: later runs reuse
# it), copies it twice (CREATE DATABASE … TEMPLATE), then runs bench/backfill_bench.py: one set-based
# UPDATE … FROM per table on one copy, the panel's backfill driven by RANGES Celery worker processes on the
# other, and a check that both copies end in the same state. Prints figures only.
# BENCH_SKIP_SETUP=1 skips `bin/dev setup` when the venv and services are already up (DATABASE_URL's server
# then comes from BARTENDER_PG_PORT, Redis from BARTENDER_REDIS_PORT).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BARS=${1:-10000}; SALES=${2:-5000000}; RANGES=${3:-2}
if [ -z "${BENCH_SKIP_SETUP:-}" ]; then "$ROOT/bin/dev" setup >/dev/null; fi
# The panel refuses to start with DEBUG off and no SECRET_KEY: the local key bin/dev keeps in .var/.
export SECRET_KEY=${SECRET_KEY:-$(cat "$ROOT/.var/secret_key")}
PORT=${BARTENDER_PG_PORT:-25432}
# A Redis database of its own, so no other worker on the same Redis takes the bench's tasks.
BROKER="redis://127.0.0.1:${BARTENDER_REDIS_PORT:-26379}/${BENCH_REDIS_DB:-13}"
export PGOPTIONS="-c client_min_messages=warning"  # no NOTICE lines: figures only
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U bartender -d postgres)
SEED=bartender_bench_backfill_seed_${BARS}_${SALES}
A=bartender_bench_backfill; B=bartender_bench_setbased
url() { echo "postgresql://bartender@127.0.0.1:$PORT/$1"; }
if [ -z "$("${PSQL[@]}" -Atc "SELECT 1 FROM pg_database WHERE datname = '$SEED'")" ]; then
  "${PSQL[@]}" -c "CREATE DATABASE ${SEED}_partial"
  DATABASE_URL=$(url "${SEED}_partial") "$ROOT/.venv/bin/python" "$ROOT/manage.py" migrate --noinput -v 0
  DATABASE_URL=$(url "${SEED}_partial") "$ROOT/.venv/bin/python" "$ROOT/manage.py" standin --phase2 -v 0
  DATABASE_URL=$(url "${SEED}_partial") "$ROOT/.venv/bin/python" "$ROOT/manage.py" seed_demo \
    --bars "$BARS" --sales "$SALES" >/dev/null
  "${PSQL[@]}" -c "ALTER DATABASE ${SEED}_partial RENAME TO $SEED"  # only a complete seed is reused
else
  # A seed made before newer migrations: bring it up to date (the copies inherit it).
  DATABASE_URL=$(url "$SEED") "$ROOT/.venv/bin/python" "$ROOT/manage.py" migrate --noinput -v 0
  DATABASE_URL=$(url "$SEED") "$ROOT/.venv/bin/python" "$ROOT/manage.py" standin --phase2 -v 0
fi
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS $A" -c "DROP DATABASE IF EXISTS $B" \
  -c "CREATE DATABASE $A TEMPLATE $SEED" -c "CREATE DATABASE $B TEMPLATE $SEED"
for db in "$A" "$B"; do "${PSQL[@]}" -d "$db" -c "VACUUM ANALYZE sales, consignments, returns, migration_server_id_log"; done
cd "$ROOT"
"$ROOT/.venv/bin/python" "$ROOT/bench/backfill_bench.py" --panel "$(url "$A")" --setbased "$(url "$B")" \
  --broker "$BROKER" --ranges "$RANGES"
"${PSQL[@]}" -c "DROP DATABASE $A" -c "DROP DATABASE $B"
