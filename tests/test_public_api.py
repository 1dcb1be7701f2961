"""The public entry points: sorted ``__all__`` that names only real attributes."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "mastra_memory",
    "mastra_memory.types",
    "mastra_memory.errors",
    "mastra_memory.config",
    "storage_adapters",
    "storage_adapters.libsql",
    "storage_adapters.inmemory",
    "mastra_memory.embedders",
    "mastra_memory.working_memory",
    "mastra_memory.semantic_recall",
    "mastra_memory.keyword_search",
    "mastra_memory.storage",
    "mastra_memory.storage.base",
    "mastra_memory.storage.kv",
    "mastra_memory.storage.registry",
    "mastra_memory.storage.vector",
]


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    # isort style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions
    assert exported == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing attribute {attr}"


def test_importing_the_package_does_not_import_litellm() -> None:
    import subprocess
    import sys

    code = "import sys, mastra_memory; print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_errors_hierarchy() -> None:
    from mastra_memory import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.MastraMemoryError)
    assert not issubclass(errors.MastraMemoryError, MemoryError)
