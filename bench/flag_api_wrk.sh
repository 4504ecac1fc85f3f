#!/usr/bin/env bash
# Flag API vs a bare Django view under the production server (granian, as `bin/dev serve` runs it), loaded by wrk
# (a C load generator, so the client takes little of the cores).
#   bench/flag_api_wrk.sh [SECONDS] [CONNECTIONS]     default 8 s per run, 8 connections, 2 wrk threads
# Uses the rollout bench database (10,000 bars; DATABASE_URL or bartender_bench_rollout on BARTENDER_PG_PORT,
# created and seeded if missing), one warm-up round, then 3 measured rounds. Prints only its figures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
SECONDS_PER_RUN=${1:-8}; CONNECTIONS=${2:-8}
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk"; exit 1; }
# The panel refuses to start with DEBUG off and no SECRET_KEY: a local key, kept in the ignored .var/.
mkdir -p .var; [ -s .var/secret_key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' >.var/secret_key
export SECRET_KEY=${SECRET_KEY:-$(cat .var/secret_key)}
read -r DATABASE_URL TOKEN BAR < <(.venv/bin/python bench/flag_api_setup.py flag-api-wrk 10000 2>/dev/null | tail -n 1)
[ -n "${BAR:-}" ] || { echo "bench set-up failed: run .venv/bin/python bench/flag_api_setup.py flag-api-wrk to see why"; exit 1; }
export DATABASE_URL
. bench/flag_api_granian.sh
HTTP_PORT=$(free_port)
trap stop_granian EXIT
start_granian "$HTTP_PORT"
run() {  # run PATH -> "req/s p50 p99 non2xx+errors"
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$HTTP_PORT$1" | awk '
    /Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad+=$5}
    /Socket errors/ {gsub(",", ""); bad+=$4+$6+$8+$10} END {print rps, p50, p99, bad+0}'
}
run /bench/bare >/dev/null; run "/api/v1/flags?bar=$BAR" >/dev/null   # warm-up
echo "granian $BENCH_WORKERS workers x $BENCH_THREADS threads, wrk $CONNECTIONS connections, ${SECONDS_PER_RUN}s per run, 10,000 bars, $(nproc) cores"
for round in 1 2 3; do
  read -r bare_rps bare_p50 bare_p99 bare_bad < <(run /bench/bare)
  read -r flag_rps flag_p50 flag_p99 flag_bad < <(run "/api/v1/flags?bar=$BAR")
  ratio=$(awk -v a="$flag_rps" -v b="$bare_rps" 'BEGIN {printf "%.2f", a / b}')
  echo "round $round: bare $bare_rps req/s p50 $bare_p50 p99 $bare_p99 | flags $flag_rps req/s p50 $flag_p50 p99 $flag_p99 | ratio $ratio | errors $bare_bad/$flag_bad"
done
