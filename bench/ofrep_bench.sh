#!/usr/bin/env bash
# OFREP bulk evaluation for one bar (POST /ofrep/v1/evaluate/flags) vs the flag API (GET /api/v1/flags?bar=) under
# the production server (granian, as `bin/dev serve` runs it) in the same run, loaded by wrk.
#   bench/ofrep_bench.sh [SECONDS] [CONNECTIONS]     default 8 s per run, 8 connections, 2 wrk threads
# Uses the rollout bench database (10,000 bars; created and seeded if missing, as bench/flag_api_wrk.sh does), one
# warm-up round, then 3 measured rounds alternating the two routes. Prints only its figures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
SECONDS_PER_RUN=${1:-8}; CONNECTIONS=${2:-8}
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk"; exit 1; }
mkdir -p .var; [ -s .var/secret_key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' >.var/secret_key
export SECRET_KEY=${SECRET_KEY:-$(cat .var/secret_key)}
read -r DATABASE_URL TOKEN BAR < <(.venv/bin/python bench/flag_api_setup.py ofrep-bench 10000 2>/dev/null | tail -n 1)
[ -n "${BAR:-}" ] || { echo "bench set-up failed: run .venv/bin/python bench/flag_api_setup.py ofrep-bench to see why"; exit 1; }
export DATABASE_URL
. bench/flag_api_granian.sh
HTTP_PORT=$(free_port)
POST_SCRIPT=$(mktemp "$ROOT/.var/ofrep-post.XXXXXX.lua")
trap 'stop_granian; rm -f "$POST_SCRIPT"' EXIT
cat >"$POST_SCRIPT" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"context": {"targetingKey": "$BAR"}}'
LUA
start_granian "$HTTP_PORT"
run() {  # run PATH [wrk options] -> "req/s p50 p99 non2xx+errors"
  local path=$1; shift
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer $TOKEN" "$@" \
    "http://127.0.0.1:$HTTP_PORT$path" | awk '
    /Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad+=$5}
    /Socket errors/ {gsub(",", ""); bad+=$4+$6+$8+$10} END {print rps, p50, p99, bad+0}'
}
# The answer is checked once before measuring: a refused request would be measured as a fast one.
curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d "{\"context\": {\"targetingKey\": \"$BAR\"}}" "http://127.0.0.1:$HTTP_PORT/ofrep/v1/evaluate/flags"
run "/api/v1/flags?bar=$BAR" >/dev/null; run /ofrep/v1/evaluate/flags -s "$POST_SCRIPT" >/dev/null   # warm-up
echo "granian $BENCH_WORKERS workers x $BENCH_THREADS threads, wrk $CONNECTIONS connections, ${SECONDS_PER_RUN}s per run, 10,000 bars, $(nproc) cores"
for round in 1 2 3; do
  read -r api_rps api_p50 api_p99 api_bad < <(run "/api/v1/flags?bar=$BAR")
  read -r of_rps of_p50 of_p99 of_bad < <(run /ofrep/v1/evaluate/flags -s "$POST_SCRIPT")
  ratio=$(awk -v a="$of_rps" -v b="$api_rps" 'BEGIN {printf "%.2f", a / b}')
  echo "round $round: /api/v1/flags $api_rps req/s p50 $api_p50 p99 $api_p99 | OFREP bulk $of_rps req/s p50 $of_p50 p99 $of_p99 | ratio $ratio | errors $api_bad/$of_bad"
done
