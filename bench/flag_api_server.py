"""A stdlib WSGI server with a fixed pool of threads (so Django keeps one DB connection per thread).

    DJANGO_SETTINGS_MODULE=flag_api_settings python bench/flag_api_server.py PORT [THREADS]

Listens on 127.0.0.1 only.
"""

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the stdlib's signature)
        pass


class PooledWSGIServer(WSGIServer):
    request_queue_size = 128
    threads = 8

    def server_activate(self):
        super().server_activate()
        self.pool = ThreadPoolExecutor(self.threads)

    def process_request(self, request, client_address):
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 (a broken client connection must not kill the worker thread)
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flag_api_settings")
    port = int(sys.argv[1])
    PooledWSGIServer.threads = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", port, get_wsgi_application(), PooledWSGIServer, QuietHandler)
    print(f"serving on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
