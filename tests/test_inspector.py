"""The web memory inspector (``/ui``) in headless Chromium against a real ``serve`` process.

Debian's ``chromium`` (installed by ``scripts/chromium.sh``, which ``scripts/test.sh`` runs) is
driven by Playwright from PyPI; ``playwright install`` is never used. Every request the page
makes is recorded: anything but the server itself fails the test (the page works offline).
Set ``MASTRA_INSPECTOR_SCREENSHOTS=docs/img`` to refresh the screenshots in docs/inspector.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")
httpx = pytest.importorskip("httpx")

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from mastra_memory import Memory  # noqa: E402
from mastra_memory.kv import KVMemory  # noqa: E402
from mastra_memory.server.config import ApiKey  # noqa: E402
from mastra_memory.storage import open_storage  # noqa: E402
from mastra_memory.testing.live_server import LiveServer, live_server  # noqa: E402
from mastra_memory.types import from_chat_messages  # noqa: E402
from tests.om_support import om_options, scripted, turn  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "inspector-token-0123456789"
SCOPED = "inspector-eve-only-token-01"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="run scripts/chromium.sh (Debian's chromium)")


def _seed(url: str) -> None:
    with Memory(open_storage(url), options={"working_memory": {"enabled": True}}) as memory:
        memory.create_thread("ana", "weather-chat", "Weather in Lisbon")
        memory.save_messages(
            from_chat_messages(
                [
                    {"role": "user", "content": "What's the weather in Lisbon?"},
                    {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [
                            {
                                "id": "call-1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "call-1", "content": '{"temp_c": 24, "sky": "sunny"}'},
                    {"role": "assistant", "content": "It is sunny and 24 °C in Lisbon."},
                ],
                "weather-chat",
                "ana",
            )
        )
        memory.update_working_memory(
            "weather-chat", "ana", "# User Information\n- **First Name**: Ana\n- **Location**: Lisbon"
        )
        for n in range(25):
            memory.create_thread("ana", f"old-{n:02d}", f"Older chat {n}")
        memory.create_thread("eve", "eve-private", "Eve only")
    with Memory(open_storage(url), options=om_options(scripted(), observation={"message_tokens": 100})) as om:
        for n in range(4):
            turn(om, "observed-chat", "ana", n)
        om.update_thread("observed-chat", title="Observed chat")
    kv = KVMemory("agent-ana", open_storage(url))
    kv.set("favourite_city", {"name": "Lisbon"})
    kv.set("visits", 3)
    kv.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("inspector") / "ui.db"
    _seed(f"file:{db}")
    keys = [ApiKey(token=TOKEN, name="admin"), ApiKey(token=SCOPED, name="eve", resources=("eve",))]
    with live_server(f"file:{db}", api_keys=keys, extra_args=["--embedder", "none"]) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _shot(page: Page, name: str, tmp_path: Path) -> None:
    target = os.environ.get("MASTRA_INSPECTOR_SCREENSHOTS")
    folder = Path(target) if target else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"inspector-{name}.png"), full_page=True)


def _open(browser: Browser, server: LiveServer, token: str, query: str = "") -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requested: list[str] = []

    def record(route: Any) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", record)
    page.goto(f"{server.url}/ui/{query}")
    page.wait_for_selector("#key-form:not([hidden])")  # the server has keys: the page asks for one
    page.fill("#key", token)
    page.click("#key-form button")
    return page, requested


def test_threads_messages_working_memory_and_observations_offline(
    browser: Browser, server: LiveServer, tmp_path: Path
) -> None:
    page, requested = _open(browser, server, TOKEN, "?resource=ana&namespace=agent-ana")
    page.wait_for_selector("#threads li")
    assert "1-20 of 27 threads" in page.inner_text("#threads-summary")
    page.click("#threads-next")
    page.wait_for_selector("#threads-summary:has-text('21-27 of 27')")
    page.click("#threads-prev")
    page.wait_for_selector("#threads-summary:has-text('1-20 of 27')")

    # search narrows the list in the page
    page.fill("#search", "weather")
    page.click("#resource-form button")
    page.wait_for_selector("#threads-summary:has-text('1-1 of 1 threads')")
    assert page.locator("#threads li").count() == 1
    page.click("#threads li")
    page.wait_for_selector("#messages li")
    messages = page.inner_text("#messages")
    assert "What's the weather in Lisbon?" in messages and "It is sunny and 24 °C in Lisbon." in messages
    tool = page.inner_text(".tool-call")
    assert "get_weather" in tool and "Lisbon" in tool and "sunny" in tool
    _shot(page, "messages", tmp_path)

    page.click("button[data-tab=working-memory]")
    assert "**First Name**: Ana" in page.inner_text("#working-memory")

    # the observation log of an observed thread, with token counts against its threshold
    page.fill("#search", "")
    page.click("#resource-form button")
    page.wait_for_selector("#threads li[data-thread=observed-chat]")
    page.click("#threads li[data-thread=observed-chat]")
    page.click("button[data-tab=observations]")
    page.wait_for_selector("#observation-log")
    assert "noted m0-u" in page.inner_text("#observation-log")
    stats = page.inner_text("#observations")
    assert "/ 100 tokens" in stats and "generation 0" in stats and "buffered chunk" in stats
    _shot(page, "observations", tmp_path)

    # key-value namespaces
    page.wait_for_selector("#kv tbody tr")
    kv = page.inner_text("#kv")
    assert "favourite_city" in kv and '{"name": "Lisbon"}' in kv and "visits" in kv
    assert "2 keys" in page.inner_text("#kv-summary")

    assert requested and all(url.startswith(server.url) for url in requested), requested
    page.close()


def test_the_api_needs_a_key_and_respects_scopes(browser: Browser, server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/ui/api/threads?resource_id=ana", timeout=10).status_code == 401
    page, _ = _open(browser, server, SCOPED, "?resource=ana")
    page.wait_for_selector("#error:not([hidden])")
    assert "ana" in page.inner_text("#error") or "not allowed" in page.inner_text("#error").lower()
    eve = httpx.get(
        f"{server.url}/ui/api/threads/weather-chat", headers={"Authorization": f"Bearer {SCOPED}"}, timeout=10
    )
    assert eve.status_code == 404
    mine = httpx.get(
        f"{server.url}/ui/api/threads?resource_id=eve", headers={"Authorization": f"Bearer {SCOPED}"}, timeout=10
    )
    assert mine.status_code == 200 and [t["id"] for t in mine.json()["threads"]] == ["eve-private"]
    # read-only: the inspector's API has no write method
    assert httpx.post(f"{server.url}/ui/api/threads", timeout=10).status_code == 405
    page.close()


def test_assets_ship_in_the_package(server: LiveServer) -> None:
    html = httpx.get(f"{server.url}/ui", timeout=10)
    assert html.status_code == 200 and "<title>mastra-memory inspector</title>" in html.text
    assert "http" not in html.text.replace(server.url, "")  # no CDN: only relative URLs
    js = httpx.get(f"{server.url}/ui/static/app.js", timeout=10)
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{server.url}/ui/static/../app.py", timeout=10).status_code == 404
    assert "default-src 'self'" in html.headers["content-security-policy"]
