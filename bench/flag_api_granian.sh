# Sourced by the flag API benches: start and stop granian the way `bin/dev serve` runs it (same options, same
# WEB_WORKERS x WEB_THREADS defaults: one worker per core, 4 threads), on the bench settings (the panel's own plus
# the bare view /bench/bare), on 127.0.0.1 only. Keep the options in step with `serve()` in bin/dev.
: "${ROOT:?}"
BENCH_WORKERS=${WEB_WORKERS:-$(nproc 2>/dev/null || echo 2)}
BENCH_THREADS=${WEB_THREADS:-4}
GRANIAN_PID=
free_port() { "$ROOT/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_granian() {  # start_granian PORT: returns once /bench/bare answers (at most 30 s)
  PYTHONPATH="$ROOT/bench:$ROOT" DJANGO_SETTINGS_MODULE=flag_api_settings DEBUG=0 \
    "$ROOT/.venv/bin/granian" --interface wsgi --working-dir "$ROOT" --host 127.0.0.1 --port "$1" \
    --workers "$BENCH_WORKERS" --blocking-threads "$BENCH_THREADS" --blocking-threads-idle-timeout 600 \
    --respawn-failed-workers --log-level warning config.wsgi:application >/dev/null 2>&1 &
  GRANIAN_PID=$!
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$1/bench/bare" 2>/dev/null && return 0; sleep 0.1
  done
  echo "granian did not answer within 30 s" >&2; return 1
}
stop_granian() {
  [ -z "$GRANIAN_PID" ] || { kill "$GRANIAN_PID" 2>/dev/null || true; wait "$GRANIAN_PID" 2>/dev/null || true; GRANIAN_PID=; }
}
