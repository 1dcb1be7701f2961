"""Shared fixtures. Service URLs come from environment variables (see scripts/services.sh).

Parallel runs (pytest-xdist, ``scripts/test.sh`` passes ``-n``): this is the one place that
gives each worker its own servers. Every store factory in ``tests/servers.py`` already works in
a database, schema, table or key prefix of its own, except on three servers:

* mongoeco (the MongoDB wire server) makes concurrent transactions conflict even in different
  databases ("Write conflict during transaction commit", duplicate keys across databases);
* sqld has a single database, which ``servers.sqld_store`` empties before each test;
* moto applies DynamoDB requests one at a time (``scripts/moto_server.py``), so workers sharing
  it queue behind each other.

``scripts/services.sh`` with ``MM_SERVER_COPIES=N`` runs N copies of the three and lists them in
``MASTRA_TEST_{MONGODB,SQLD,DYNAMODB}_URLS``; worker ``gwI`` gets copy I as its
``MASTRA_TEST_*_URL`` (child processes inherit it). With fewer copies than workers, workers share
them: a test on sqld then holds a file lock for that server (``servers.sqld_store``), so sqld
tests wait for each other instead of emptying each other's database; DynamoDB tests (tables of
their own) merely queue; MongoDB tests may fail with write conflicts, so run as many copies as
workers (scripts/test.sh does).
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... on an xdist worker


def _copies(var: str) -> list[str]:
    return os.environ.get(f"{var}S", "").split()


def _use_worker_copies() -> None:
    if not _WORKER.startswith("gw"):
        return
    index = int(_WORKER[2:])
    for var in ("MASTRA_TEST_MONGODB_URL", "MASTRA_TEST_SQLD_URL", "MASTRA_TEST_DYNAMODB_URL"):
        copies = _copies(var)
        if copies:
            os.environ[var] = copies[index % len(copies)]


_use_worker_copies()
