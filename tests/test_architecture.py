"""The layering ARCHITECTURE describes, checked: import-linter contracts (pyproject.toml) and
imports that must work first in a fresh interpreter (no hidden import cycles)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    pytest.importorskip("importlinter")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "core-never-imports-backends" in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    "module",
    [
        "mastra_memory.storage",
        "mastra_memory.storage.base",
        "mastra_memory.storage.registry",
        "storage_adapters",
        "storage_adapters.libsql",
        "storage_adapters.pg",
        "storage_adapters.mongodb",
        "storage_adapters.sqlalchemy",
        "storage_adapters.inmemory",
        "mastra_memory",
        "mastra_memory.memory",
        "mastra_memory.cli",
        "mastra_memory.server",
    ],
)
def test_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_importing_the_core_does_not_import_a_backend() -> None:
    code = (
        "import sys, mastra_memory, mastra_memory.storage, mastra_memory.memory\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('storage_adapters'))\n"
        "assert not loaded, loaded"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("storage_adapters.base", "mastra_memory.storage.base", "MemoryStorage"),
        ("storage_adapters.vector_base", "mastra_memory.storage.vector", "VectorStore"),
        ("storage_adapters._kv", "mastra_memory.storage.kv", "KV_MISSING"),
        ("storage_adapters._om", "mastra_memory.storage.om", "ObservationCommit"),
        ("storage_adapters._vector_filter", "mastra_memory.storage._filter", "parse_filter"),
        ("mastra_memory.observational.records", "mastra_memory.storage.records", "ObservationalMemoryRecord"),
        ("mastra_memory.observational.thread_tags", "mastra_memory.storage.thread_tags", "rewrite_thread_tags"),
    ],
)
def test_old_import_paths_still_work_with_a_deprecation_warning(old: str, new: str, name: str) -> None:
    code = (
        "import importlib, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    old = importlib.import_module({old!r})\n"
        f"assert any(issubclass(w.category, DeprecationWarning) for w in caught), caught\n"
        f"new = importlib.import_module({new!r})\n"
        f"assert getattr(old, {name!r}) is getattr(new, {name!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
