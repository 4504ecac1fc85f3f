import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from adminpanel.models import Sale
from config.celery import app as celery_app
from tests.factories import BarFactory, ServerFactory, backfilled_history


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def server_user(db):
    return ServerFactory(username="server_one")


@pytest.fixture
def make_sales(db, server_user):
    """make_sales(total, with_server, bar=None, minutes_ago=1, history=True): bulk sales of `bar`, the first
    `with_server` carrying a server_id. With `history` a full backfill finishes after them, so the coverage checks
    count them as the backfilled history whatever the flags (tests/monitoring/test_coverage_flags.py drives the
    flags themselves)."""

    def make(total, with_server, *, bar=None, minutes_ago=1, history=True):
        bar = bar or BarFactory()
        at = timezone.now() - timedelta(minutes=minutes_ago)
        Sale.objects.bulk_create(
            Sale(bar=bar, server=server_user if i < with_server else None, amount=100, created_at=at)
            for i in range(total)
        )
        if history:
            backfilled_history()
        return bar

    return make


@pytest.fixture
def thresholds(settings):
    """Override some thresholds: thresholds(name=value, ...)."""

    def override(**values):
        settings.HEALTH_THRESHOLDS = {**settings.HEALTH_THRESHOLDS, **values}

    return override


@pytest.fixture
def quick_notifications(settings):
    settings.ALERT_NOTIFY_RETRY_DELAY = 0
    settings.ALERT_NOTIFY_ATTEMPTS = 3
    settings.ALERT_WEBHOOK_TIMEOUT = 2
    settings.ALERT_EMAILS = []
    settings.ALERT_WEBHOOK_URL = ""
    return settings


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield celery_app
    celery_app.conf.task_always_eager = previous


class WebhookServer:
    """A local HTTP server on 127.0.0.1 that answers POSTs with the scripted statuses (then 200)."""

    def __init__(self, statuses=(), delay: float = 0.0):
        self.statuses = list(statuses)
        self.delay = delay
        self.received: list[dict] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append(json.loads(body))
                if outer.delay:
                    outer.release.wait(outer.delay)
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/{uuid.uuid4().hex}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_server():
    servers = []

    def start(statuses=(), delay=0.0):
        server = WebhookServer(statuses, delay).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def chain(db):
    """The runbook's three tiers (made by post_migrate) with one reachable contact each, in order."""
    from monitoring.models import Contact, ContactTier

    tiers = list(ContactTier.objects.order_by("position"))
    people = [
        ("Dev On-call", "dev@example.com", "+225 01 02 03 04"),
        ("DBA On-call", "dba@example.com", "+225 05 06 07 08"),
        ("Product Lead", "lead@example.com", "+225 09 10 11 12"),
    ]
    for tier, (name, email, phone) in zip(tiers, people, strict=True):
        Contact.objects.create(tier=tier, name=name, email=email, phone=phone)
    return tiers
