"""The shared storage conformance suite, run against every adapter (the one factory list,
:data:`tests.servers.FACTORIES`, shared by every suite).

Adapters on servers read their URL from an environment variable and are skipped, with the
variable named, when it is unset (scripts/services.sh start sets them all). Each test gets a
fresh, empty store: its own PostgreSQL schema, MongoDB database or MariaDB database, dropped
afterwards; the shared sqld database is emptied first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mastra_memory.storage.base import MemoryStorage
from mastra_memory.testing.conformance import MemoryStorageConformance
from tests.servers import FACTORIES


class TestConformance(MemoryStorageConformance):
    @pytest.fixture(params=list(FACTORIES))
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStorage]:
        with FACTORIES[request.param](tmp_path) as store:
            yield store
