"""Bench: how fast a kill switch reaches every serving process (target: within 100 ms of its commit).

    .venv/bin/python bench/flag_api_propagation.py [--flips 12] [--connections 8] [--bars 10000]

Serves the panel with granian as `bin/dev serve` runs it (bench/flag_api_granian.sh: WEB_WORKERS processes, one per
core by default, x WEB_THREADS threads), polls `GET /api/v1/flags` for one bar from several keep-alive connections
(each answer names its process in `X-Served-By`, and the bench checks that every worker answers), then flips the
flag ENABLE_SWITCHING_MODE between "on for the allow-listed bench bar" and its kill switch ("off for every bar",
through rollout.flags.services.flip_flag and
rollout.killswitch.services.release_kill_switch, audited like the page's buttons) and measures, for each
worker, the time from the moment the flip's COMMIT returned to the first answer of that worker showing the new
state. Each flip waits for every worker to show it before the next. Prints the max and median over all flips and
workers.
"""

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from rollout_bench_db import ROOT, fleet_token, use_bench_database  # noqa: E402

FLAG = "ENABLE_SWITCHING_MODE"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_granian(port: int) -> subprocess.Popen:
    script = f'. bench/flag_api_granian.sh && start_granian {port} && wait "$GRANIAN_PID"'
    return subprocess.Popen(  # noqa: S603 (our own script, fixed arguments)
        ["bash", "-c", script],  # noqa: S607
        cwd=ROOT,
        env={**os.environ, "ROOT": str(ROOT)},
        start_new_session=True,  # stopped as a group: bash and granian with its workers
    )


class Poller(threading.Thread):
    """Polls one keep-alive connection; keeps (time received, pid, flag on) of every answer."""

    def __init__(self, port: int, path: str, token: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.path, self.stop = port, path, stop
        self.headers = {"Authorization": f"Bearer {token}"}
        self.answers: list[tuple[float, str, bool]] = []

    def run(self) -> None:
        import json

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stop.is_set():
            conn.request("GET", self.path, headers=self.headers)
            response = conn.getresponse()
            body = response.read()
            received = time.perf_counter()
            if response.status != 200:
                raise RuntimeError(f"flag API answered {response.status}: {body[:200]!r}")
            self.answers.append((received, response.getheader("X-Served-By"), json.loads(body)["flags"][FLAG]))
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flips", type=int, default=12)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--bars", type=int, default=10_000)
    args = parser.parse_args()
    use_bench_database(bars=args.bars)

    from adminpanel.models import ApiClient, Bar, User
    from rollout.flags import services as flag_services
    from rollout.killswitch import services as kill_switch_services
    from rollout.models import FeatureFlag, FlagState, ensure_default_flags

    ensure_default_flags()
    token = fleet_token("flag-api-propagation")
    admin, _ = User.objects.get_or_create(username="bench-rollout", defaults={"is_superuser": True})
    # A kill switch left engaged (an earlier run cut short) is released the one way the panel allows.
    kill_switch_services.release_kill_switch(actor=admin, reason="propagation bench: start from a released kill switch")
    flag_before = FeatureFlag.objects.get(key=FLAG).state
    first_bar = Bar.objects.order_by("pk").first()
    bar = str(first_bar.pk)
    # The polled bar is on through the allow-list, so a released kill switch shows as "on" for it again.
    listed_before = flag_services.change_allow_list(
        actor=admin, flag_key=FLAG, bar=first_bar, add=True, reason="propagation bench: the polled bar"
    )

    workers = int(os.environ.get("WEB_WORKERS") or os.cpu_count() or 2)
    port = free_port()
    server = start_granian(port)
    stop = threading.Event()
    pollers: list[Poller] = []
    try:
        deadline = time.monotonic() + 60
        while True:  # the server answers (start_granian waits for /bench/bare; this waits for the script)
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/bench/bare")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("granian did not answer within 60 s") from None
                time.sleep(0.1)
        path = f"/api/v1/flags?bar={bar}"
        pollers = [Poller(port, path, token, stop) for _ in range(args.connections)]
        for poller in pollers:
            poller.start()

        def answers_since(moment: float):
            for poller in pollers:
                yield from (answer for answer in list(poller.answers) if answer[0] >= moment)

        def wait_for(moment: float, want: bool, pids: set[str], limit: float = 10.0) -> dict[str, float]:
            """Per pid, the first answer after `moment` showing `want` (waits until every pid has one)."""
            end = time.perf_counter() + limit
            while True:
                first: dict[str, float] = {}
                for received, pid, on in answers_since(moment):
                    if on == want and (pid not in first or received < first[pid]):
                        first[pid] = received
                if pids <= set(first):
                    return first
                if time.perf_counter() > end:
                    raise SystemExit(f"workers {sorted(pids - set(first))} never showed the flip within {limit} s")
                time.sleep(0.005)

        started = time.perf_counter()
        while len({pid for _, pid, _ in answers_since(started)}) < workers:
            if time.perf_counter() - started > 30:
                seen = {pid for _, pid, _ in answers_since(started)}
                raise SystemExit(f"only {len(seen)} of {workers} workers answered in 30 s: add --connections")
            time.sleep(0.01)
        pids = {pid for _, pid, _ in answers_since(started)}
        wait_for(started, True, pids)

        delays: list[float] = []
        per_flip_max: list[float] = []
        for flip in range(args.flips):
            kill = flip % 2 == 0
            if kill:  # the kill switch, as the page pulls it ...
                flag_services.flip_flag(
                    actor=admin, flag_key=FLAG, state=FlagState.OFF, reason=f"propagation bench {flip}"
                )
            else:  # ... and its one release
                kill_switch_services.release_kill_switch(actor=admin, reason=f"propagation bench {flip}: release")
            committed = time.perf_counter()  # the service's transaction has committed when it returns
            first = wait_for(committed, not kill, pids)
            flip_delays = [(first[pid] - committed) * 1000 for pid in pids]
            delays.extend(flip_delays)
            per_flip_max.append(max(flip_delays))
        polls = sum(len(poller.answers) for poller in pollers)
        print(
            f"kill switch propagation: {args.flips} flips of {FLAG} (kill switch on/off), {len(pids)} granian "
            f"workers x {os.environ.get('WEB_THREADS', '4')} threads, {args.connections} polling connections "
            f"({polls} polls), {Bar.objects.count()} bars"
        )
        print(
            f"commit -> first changed answer per worker: max {max(delays):.1f} ms, median "
            f"{statistics.median(delays):.1f} ms (per flip, slowest worker: median "
            f"{statistics.median(per_flip_max):.1f} ms) - target < 100 ms"
        )
    finally:
        stop.set()
        for poller in pollers:
            poller.join(timeout=10)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        kill_switch_services.release_kill_switch(actor=admin, reason="propagation bench: restore")
        if flag_before != FeatureFlag.objects.get(key=FLAG).state:
            flag_services.flip_flag(actor=admin, flag_key=FLAG, state=flag_before, reason="propagation bench: restore")
        if listed_before:  # it was added by this run
            flag_services.change_allow_list(
                actor=admin, flag_key=FLAG, bar=first_bar, add=False, reason="propagation bench: restore"
            )
        ApiClient.objects.filter(name="flag-api-propagation").delete()


if __name__ == "__main__":
    main()
