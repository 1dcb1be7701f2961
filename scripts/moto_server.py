"""moto's DynamoDB-compatible server with requests applied one at a time.

``moto_server`` runs its backends on a threaded WSGI server without a lock, so two concurrent
conditional writes (or transactions, or even ``ADD``) can both pass their check and one update
is lost (measured here: 6 threads x 50 compare-and-set increments ended at 288-298 of 300). Real
DynamoDB applies each conditional write and transaction atomically; serializing the requests
restores that guarantee, which the store's concurrency tests rely on. Connections are still
accepted concurrently (threaded server); only the backend call is serialized.

Usage: python scripts/moto_server.py --host 127.0.0.1 --port 8044  (run with moto[server]'s venv)
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8044)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    run_simple(args.host, args.port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
