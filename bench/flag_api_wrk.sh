#!/usr/bin/env bash
# Flag API vs a bare Django view, loaded by wrk (a C load generator, so the client takes little of the 2 cores).
#   bench/flag_api_wrk.sh [SECONDS] [CONNECTIONS]     default 8 s per run, 8 connections, 2 wrk threads
# Uses the rollout bench database (10,000 bars; created and seeded if missing), serves the panel with
# bench/flag_api_server.py (stdlib WSGI, 8 threads) on 127.0.0.1, one warm-up round, then 3 measured rounds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
SECONDS_PER_RUN=${1:-8}; CONNECTIONS=${2:-8}
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk"; exit 1; }
PORT=${BARTENDER_PG_PORT:-25432}
export DATABASE_URL=${DATABASE_URL:-postgresql://bartender@127.0.0.1:$PORT/bartender_bench_rollout}
# The panel refuses to start with DEBUG off and no SECRET_KEY: a local key, kept in the ignored .var/.
mkdir -p .var; [ -s .var/secret_key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' >.var/secret_key
export SECRET_KEY=${SECRET_KEY:-$(cat .var/secret_key)}
read -r TOKEN BAR < <(.venv/bin/python - <<'PY'
import sys
sys.path[:0] = ["bench", "."]
from rollout_bench_db import use_bench_database
use_bench_database(bars=10000)
from adminpanel.models import ApiClient, Bar
ApiClient.objects.filter(name="flag-api-wrk").delete()
client = ApiClient(name="flag-api-wrk", all_bars=True)
raw = client.issue_token()
client.save()
print(raw, Bar.objects.order_by("pk").values_list("pk", flat=True).first())
PY
)
HTTP_PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DJANGO_SETTINGS_MODULE=flag_api_settings .venv/bin/python bench/flag_api_server.py "$HTTP_PORT" 8 >/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 300); do  # up to 30 s for the server to answer (Django's start-up on a busy machine)
  curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/bench/bare" 2>/dev/null && break; sleep 0.1
done
run() {  # run PATH -> "req/s p99"
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$HTTP_PORT$1" | awk '/Requests\/sec/ {rps=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$5} END {print rps, p99, (bad ? bad : 0)}'
}
run /bench/bare >/dev/null; run "/api/v1/flags?bar=$BAR" >/dev/null   # warm-up
echo "wrk, $CONNECTIONS connections, ${SECONDS_PER_RUN}s per run; 10,000 bars"
for round in 1 2 3; do
  read -r bare_rps bare_p99 bare_bad < <(run /bench/bare)
  read -r flag_rps flag_p99 flag_bad < <(run "/api/v1/flags?bar=$BAR")
  ratio=$(awk -v a="$flag_rps" -v b="$bare_rps" 'BEGIN {printf "%.2f", a / b}')
  echo "round $round: bare $bare_rps req/s p99 $bare_p99 | flags $flag_rps req/s p99 $flag_p99 | ratio $ratio (non-2xx: $bare_bad/$flag_bad)"
done
