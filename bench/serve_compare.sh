#!/usr/bin/env bash
# Which production WSGI server serves the flag API better: gunicorn (gthread) or granian (WSGI), loaded by wrk.
#   bench/serve_compare.sh [SECONDS] [CONNECTIONS...]     default 8 s per run, 8 and 50 connections
#   SERVERS="granian gunicorn" bench/serve_compare.sh     the order (default gunicorn, then granian)
# Each server runs the panel (bench/flag_api_settings.py: the panel's settings plus a bare view) with the same
# WEB_WORKERS x WEB_THREADS (default 2 x 4) on 127.0.0.1, against the rollout bench database (10,000 bars; created
# and seeded if missing). Per server and connection count: one warm-up round, then 3 measured rounds of the bare
# view and the flag API. Bounded: every wrk run stops after SECONDS; both servers are stopped at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
SECONDS_PER_RUN=${1:-8}; shift || true
CONNECTION_COUNTS=("${@:-8 50}"); read -r -a CONNECTION_COUNTS <<<"${CONNECTION_COUNTS[*]}"
WORKERS=${WEB_WORKERS:-2}; THREADS=${WEB_THREADS:-4}
# gunicorn is not in the panel's locks (granian was chosen): installed here, in the bench's own folder, if missing.
if [ ! -x .var/bench-gunicorn/bin/gunicorn ] && [[ " ${SERVERS:-gunicorn granian} " == *" gunicorn "* ]]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --target .var/bench-gunicorn/lib gunicorn==27.0.1 >/dev/null 2>&1 \
    || { echo "could not install gunicorn into .var/bench-gunicorn (offline?): run with SERVERS=granian"; exit 1; }
  mkdir -p .var/bench-gunicorn/bin
  printf '#!/bin/sh\nPYTHONPATH="%s/.var/bench-gunicorn/lib:$PYTHONPATH" exec "%s/.venv/bin/python" -m gunicorn "$@"\n' "$ROOT" "$ROOT" \
    >.var/bench-gunicorn/bin/gunicorn
  chmod +x .var/bench-gunicorn/bin/gunicorn
fi
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk"; exit 1; }
# The panel refuses to start without a key when DEBUG is off: a local one, kept in the ignored .var/.
mkdir -p .var; [ -s .var/secret_key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' >.var/secret_key
export SECRET_KEY=${SECRET_KEY:-$(cat .var/secret_key)} DEBUG=0
# The bench database (DATABASE_URL, or bartender_bench_rollout on BARTENDER_PG_PORT): created, migrated and seeded
# if missing; the set-up prints one line, "URL TOKEN BAR" (its notes go to stderr).
read -r DATABASE_URL TOKEN BAR < <(.venv/bin/python bench/flag_api_setup.py serve-compare 10000 2>/dev/null | tail -n 1)
[ -n "${BAR:-}" ] || { echo "bench set-up failed: run .venv/bin/python bench/flag_api_setup.py serve-compare to see why"; exit 1; }
export DATABASE_URL
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SERVER_PID=
stop_server() { [ -z "$SERVER_PID" ] || { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }; }
trap stop_server EXIT
start_server() {  # start_server NAME PORT
  export PYTHONPATH="$ROOT/bench:$ROOT" DJANGO_SETTINGS_MODULE=flag_api_settings
  case "$1" in
    gunicorn) .var/bench-gunicorn/bin/gunicorn --workers "$WORKERS" --worker-class gthread --threads "$THREADS" \
                --bind "127.0.0.1:$2" --log-level warning config.wsgi:application >/dev/null 2>&1 & ;;
    # granian as bin/dev serve runs it (keep in step with serve() there and bench/flag_api_granian.sh).
    granian) .venv/bin/granian --interface wsgi --workers "$WORKERS" --blocking-threads "$THREADS" \
               --blocking-threads-idle-timeout 600 --respawn-failed-workers \
               --host 127.0.0.1 --port "$2" --log-level warning --no-access-log config.wsgi:application >/dev/null 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$2/bench/bare" 2>/dev/null && return 0; sleep 0.1
  done
  echo "$1 did not answer within 10 s"; exit 1
}
run() {  # run PORT PATH CONNECTIONS -> "req/s p50 p99 non2xx+errors"
  wrk -t2 -c"$3" -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1$2" | awk '
    /Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad+=$5}
    /Socket errors/ {gsub(",", ""); bad+=$4+$6+$8+$10} END {print rps, p50, p99, bad+0}'
}
echo "wrk, ${SECONDS_PER_RUN}s per run, 10,000 bars, $WORKERS workers x $THREADS threads, $(nproc) cores"
for server in ${SERVERS:-gunicorn granian}; do
  port=$(free_port); start_server "$server" "$port"
  for connections in "${CONNECTION_COUNTS[@]}"; do
    run "$port" /bench/bare "$connections" >/dev/null; run "$port" "/api/v1/flags?bar=$BAR" "$connections" >/dev/null
    for round in 1 2 3; do
      read -r bare_rps bare_p50 bare_p99 bare_bad < <(run "$port" /bench/bare "$connections")
      read -r flag_rps flag_p50 flag_p99 flag_bad < <(run "$port" "/api/v1/flags?bar=$BAR" "$connections")
      ratio=$(awk -v a="$flag_rps" -v b="$bare_rps" 'BEGIN {printf "%.2f", a / b}')
      echo "$server c=$connections round $round: flags $flag_rps req/s p50 $flag_p50 p99 $flag_p99 | bare $bare_rps req/s p99 $bare_p99 | ratio $ratio | errors $flag_bad/$bare_bad"
    done
  done
  stop_server
done
