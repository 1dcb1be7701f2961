"""Run a mongoeco MongoDB wire-protocol server on loopback until SIGTERM/SIGINT.

Used by ``scripts/services.sh`` (runs under the Python 3.13 venv in ``.services/mongo-venv``).
Usage: ``python scripts/mongoeco_server.py --port 27018 [--host 127.0.0.1]``.
The data lives in memory (``MemoryEngine``): a restart starts empty.
"""

from __future__ import annotations

import argparse
import asyncio
import signal


async def _serve(host: str, port: int) -> None:
    import mongoeco.engines
    import mongoeco.wire

    server = mongoeco.wire.AsyncMongoEcoProxyServer(engine=mongoeco.engines.MemoryEngine(), host=host, port=port)
    running = await server.start()
    print(f"mongoeco listening on {getattr(running, 'uri', f'{host}:{port}')}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for target in (running, server):
        close = getattr(target, "stop", None) or getattr(target, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result
            break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27018)
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
