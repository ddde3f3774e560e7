"""The live console in a real headless Chromium (Debian's `chromium`, driven by Playwright): a REST
write shows up on the page within seconds, a watched submodel's value changes in place, pause holds
events back, and a dropped connection resumes with `since` without losing or repeating an event.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SHELL_ID, SM_ID, operation_submodel, shell
from playwright.async_api import Browser, Page, async_playwright, expect
from support.live_server import LiveServerFactory

from titan_core.model.identifiers import encode_identifier

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox cannot start
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# A liveness deadline (the page shows what happened), not a performance bound.
SHOWN_WITHIN_MS = 5000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
def base_url(start_live_server: LiveServerFactory) -> str:
    """A real `titan serve` (the installed plugins, the ws plugin among them) with one submodel."""
    url = start_live_server().base_url
    rest(url, "POST", "/submodels", operation_submodel(SM_ID))
    return url


def rest(base_url: str, method: str, path: str, body: Any = None) -> None:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status < 300


async def set_value(base_url: str, path: str, value: Any) -> None:
    url = f"/submodels/{encode_identifier(SM_ID)}/submodel-elements/{path}/$value"
    await asyncio.to_thread(rest, base_url, "PATCH", url, value)


async def open_console(browser: Browser, base_url: str) -> Page:
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(base_url + "/ws/console")
    await expect(page.locator("#status")).to_have_attribute("data-state", "live", timeout=SHOWN_WITHIN_MS)
    assert problems == []
    return page


async def test_the_console_shows_a_rest_write_and_updates_a_watched_value_in_place(
    browser: Browser, base_url: str
) -> None:
    page = await open_console(browser, base_url)
    await page.fill("#submodel-id", SM_ID)
    await page.click("#open-submodel button[type=submit]")
    temperature = page.locator('#elements tr[data-path="Temperature"] td.value')
    await expect(temperature).to_have_text("20.0", timeout=SHOWN_WITHIN_MS)
    await expect(page.locator('#elements tr[data-path="Motor.Current"]')).to_have_count(1)

    await set_value(base_url, "Temperature", 42.5)

    row = page.locator("#events tr.event", has_text="Temperature")
    await expect(row).to_have_count(1, timeout=SHOWN_WITHIN_MS)
    await expect(row).to_contain_text("valueChanged")
    await expect(row).to_contain_text(SM_ID)
    await expect(temperature).to_have_text("42.5", timeout=SHOWN_WITHIN_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "ws-console.png"), full_page=True)


async def test_the_console_pauses_and_resumes_with_since_after_a_drop(
    browser: Browser, base_url: str
) -> None:
    page = await open_console(browser, base_url)

    await page.click("#pause")
    await set_value(base_url, "Speed", 11)
    await expect(page.locator("#counters")).to_contain_text("1 held while paused", timeout=SHOWN_WITHIN_MS)
    assert await page.locator("#events tr.event").count() == 0
    await page.click("#pause")
    await expect(page.locator("#events tr.event")).to_have_count(1)

    # The connection drops; a write happens while it is down; the page reconnects with `since`.
    await page.evaluate("state.ws.close(4000, 'test drop')")
    await set_value(base_url, "Speed", 12)
    await expect(page.locator("#status")).to_have_attribute("data-state", "live", timeout=SHOWN_WITHIN_MS)
    await set_value(base_url, "Speed", 13)
    await expect(page.locator("#events tr.event")).to_have_count(3, timeout=SHOWN_WITHIN_MS)

    shown = await page.locator("#events tr.event td.data").all_inner_texts()
    assert shown == ["13", "12", "11"]  # newest first, each once
    await page.screenshot(path=str(ARTIFACTS / "ws-console-resumed.png"), full_page=True)


async def test_the_console_filter_form_narrows_the_stream(browser: Browser, base_url: str) -> None:
    page = await open_console(browser, base_url)

    await page.check('#filters input[name="entity_types"][value="shell"]')
    await page.click("#filters button[type=submit]")
    # The page resubscribes under a new id since the last titanseq it saw, and ignores the old id.
    await set_value(base_url, "Speed", 21)
    await asyncio.to_thread(rest, base_url, "POST", "/shells", shell(SHELL_ID, SM_ID))

    rows = page.locator("#events tr.event")
    await expect(rows).to_have_count(1, timeout=SHOWN_WITHIN_MS)
    await expect(rows).to_contain_text("created")
    await expect(rows).to_contain_text(SHELL_ID)
