#!/usr/bin/env bash
# Times `seed_demo` at scale in a fresh database `bartender_bench` (the dev database is left alone).
#   bench/seed_demo.sh [BARS] [SALES]      default 10000 bars, 1000000 sales
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BARS=${1:-10000}; SALES=${2:-1000000}
"$ROOT/bin/dev" setup
# The panel refuses to start with DEBUG off and no SECRET_KEY: the local key bin/dev keeps in .var/.
export SECRET_KEY=${SECRET_KEY:-$(cat "$ROOT/.var/secret_key")}
PORT=${BARTENDER_PG_PORT:-25432}
if [ -z "${DATABASE_URL:-}" ]; then
  psql -X -q -h 127.0.0.1 -p "$PORT" -U bartender -d postgres -c "DROP DATABASE IF EXISTS bartender_bench" \
    -c "CREATE DATABASE bartender_bench"
  export DATABASE_URL="postgresql://bartender@127.0.0.1:$PORT/bartender_bench"
fi
"$ROOT/.venv/bin/python" "$ROOT/manage.py" migrate --noinput -v 0
"$ROOT/.venv/bin/python" "$ROOT/manage.py" standin --phase2 -v 0
echo "seed_demo --bars $BARS --sales $SALES (fresh database):"
/usr/bin/time -f "wall %es, max RSS %MkB" "$ROOT/.venv/bin/python" "$ROOT/manage.py" seed_demo --bars "$BARS" --sales "$SALES"
echo "same command again (idempotent, adds nothing):"
/usr/bin/time -f "wall %es" "$ROOT/.venv/bin/python" "$ROOT/manage.py" seed_demo --bars "$BARS" --sales "$SALES"
