"""schemathesis against the served OpenAPI document: a real ``mastra-memory serve`` (uvicorn) on
a real libSQL file with API keys on, every operation, all phases (coverage, fuzzing and the
stateful phase that follows the document's links), a fixed seed.

Must hold: no response >= 500, every response matches the documented status codes, content
types, headers and schemas, every schema-invalid request is refused. Two checks are left out
on purpose and the test says why: ``positive_data_acceptance`` (some schema-valid bodies are
still refused by rules a schema can not state, e.g. a chat message without content) and
``unsupported_method`` (``PUT /memory/ns/k/increment`` stores the key ``k/increment``: keys may
contain ``/``). Prints the request and status counts for the record.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason='needs the [server] extra: pip install "mastra-memory[server]"')
pytest.importorskip("schemathesis", reason='needs the [test] extra: pip install "mastra-memory[test]"')

from mastra_memory.testing.live_server import live_server

KEY = "schemathesis-admin-key-0123"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
]


@pytest.mark.timeout(400)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    report = tmp_path / "report"
    options = ["--memory-options", '{"working_memory": {"enabled": true}}']
    with live_server(f"file:{tmp_path}/schemathesis.db", api_keys=[KEY], extra_args=options) as server:
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{server.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {KEY}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            "20",
            "--seed",
            "1",
            "--workers",
            "1",
            "--report",
            "json,har",
            "--report-json-path",
            str(report / "run.json"),
            "--report-har-path",
            str(report / "requests.har"),
            "--no-color",
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=360, cwd=tmp_path)
        server_log = server.log()
    run = json.loads((report / "run.json").read_text(encoding="utf-8"))
    entries = json.loads((report / "requests.har").read_text(encoding="utf-8"))["log"]["entries"]
    statuses = collections.Counter(entry["response"]["status"] for entry in entries)
    print(f"schemathesis: {len(entries)} requests, statuses {sorted(statuses.items())}, failures {run['failures']}")
    assert run["operations"]["tested"] == run["operations"]["total"] >= 23, run["operations"]
    assert run["operations"]["errored"] == 0
    assert len(entries) > 500
    assert not [s for s in statuses if s >= 500], statuses
    assert run["failures"] == [], result.stdout[-6000:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Traceback" not in server_log, server_log[-4000:]
