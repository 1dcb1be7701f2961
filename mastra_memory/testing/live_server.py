"""Run a real ``mastra-memory serve`` (uvicorn) in a subprocess on a free loopback port.

For tests and benchmarks that must cross a real socket::

    from mastra_memory.testing.live_server import live_server

    with live_server(f"file:{tmp_path}/s.db", api_keys=["a-token-of-16-chars+"]) as server:
        kv = KVMemory("ns", base_url=server.url, api_key="a-token-of-16-chars+")
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mastra_memory.server.config import ApiKey

__all__ = ["LiveServer", "free_port", "live_server"]


@dataclass(frozen=True)
class LiveServer:
    """A running server: ``url`` (``http://127.0.0.1:<port>``), its process and log file."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _project_root() -> str:
    import mastra_memory

    return str(Path(mastra_memory.__file__).resolve().parent.parent)


@contextmanager
def live_server(
    db_url: str,
    api_keys: Sequence[ApiKey | str] = (),
    extra_args: Sequence[str] = (),
    startup_timeout: float = 60.0,
) -> Iterator[LiveServer]:
    """Start ``python -m mastra_memory.server`` on 127.0.0.1 and stop it on exit.

    Args:
        db_url: The libSQL database (``file:/path/s.db``).
        api_keys: Keys to require (token strings get full access); none: no auth.
        extra_args: More ``serve`` options (``["--write-rate", "5"]``).
        startup_timeout: Seconds to wait for ``/health``.

    Raises:
        RuntimeError: if the server exits or does not answer in time (its log is included).
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mastra-live-") as tmp:
        log_path = Path(tmp) / "server.log"
        args = [
            sys.executable,
            "-m",
            "mastra_memory.server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            db_url,
            "--log-level",
            "warning",
            *extra_args,
        ]
        if api_keys:
            keys = [k if isinstance(k, ApiKey) else ApiKey(token=k) for k in api_keys]  # type: ignore[arg-type]
            key_file = Path(tmp) / "keys.json"
            key_file.write_text(
                json.dumps([{**k.model_dump(exclude={"token"}), "token": k.token.get_secret_value()} for k in keys]),
                encoding="utf-8",
            )
            args += ["--api-keys-file", str(key_file)]
        path = os.pathsep.join(filter(None, [_project_root(), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        env.pop("MASTRA_MEMORY_API_KEY", None)
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        env.setdefault("LITELLM_MODE", "PRODUCTION")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        server = LiveServer(f"http://127.0.0.1:{port}", port, process, log_path)
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
                try:
                    with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not answer /health in {startup_timeout}s:\n{server.log()}")
                time.sleep(0.1)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                process.kill()
                process.wait(5)
