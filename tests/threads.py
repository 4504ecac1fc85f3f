"""Concurrency tests: many calls released at the same moment, each thread on its own database connection."""

import threading
from collections.abc import Callable

from django.db import connection


def run_together(calls: list[Callable], *, timeout: float = 60) -> tuple[list, list[Exception]]:
    """Start every call at once (a barrier) and wait for all; returns (their results, the exceptions raised)."""
    barrier = threading.Barrier(len(calls))
    results, errors = [], []

    def run(call):
        try:
            barrier.wait(timeout=10)
            results.append(call())
        except Exception as exc:  # noqa: BLE001 (returned to the test, which asserts on it)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results, errors
