"""The live console in a real headless Chromium (Debian's `chromium`, driven by Playwright), at
1280x800: a REST write shows up on the page within seconds; the watched submodel is filled when
opened, shows long paths beside their values inside its panel, draws a sparkline per numeric
Property that gains a point per change, and continues `since` its read without a gap or a double;
the head counter follows the stream; pause holds events back, and a dropped connection resumes
with `since` without losing or repeating an event.

Screenshots are kept as artefacts in test-artifacts/ (gitignored), or in $TITAN_TEST_ARTIFACTS."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, Route, ViewportSize, async_playwright, expect

from tests.support.live_server import LiveServerFactory
from titan_core.model.identifiers import encode_identifier

from .helpers import SHELL_ID, SM_ID, operation_submodel, shell

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
ARTIFACTS = Path(
    os.environ.get("TITAN_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
)
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}  # a laptop screen: what the layout must fit
# A liveness deadline (the page shows what happened), not a performance bound.
SHOWN_WITHIN_MS = 10_000

LONG_SM_ID = "https://example.com/ids/sm/ws-console-long-paths"
DEEP_PATH = (
    "ProcessConditions.AmbientConditionsDuringOperationAndStorageOfTheDrive."
    "MaximumPermissibleAmbientTemperatureWhileTheMotorIsRunning"
)


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


def long_path_submodel(identifier: str) -> dict[str, Any]:
    """Paths of 130 characters, numbers, a list and a multi-language text, as real templates have."""

    def number(id_short: str, value: str, value_type: str = "xs:double") -> dict[str, Any]:
        return {"modelType": "Property", "idShort": id_short, "valueType": value_type, "value": value}

    return {
        "modelType": "Submodel",
        "id": identifier,
        "idShort": "LongPaths",
        "submodelElements": [
            number("Temperature", "20.0"),
            {
                "modelType": "SubmodelElementCollection",
                "idShort": "ProcessConditions",
                "value": [
                    {
                        "modelType": "SubmodelElementCollection",
                        "idShort": "AmbientConditionsDuringOperationAndStorageOfTheDrive",
                        "value": [
                            number("MaximumPermissibleAmbientTemperatureWhileTheMotorIsRunning", "55.5"),
                            {
                                "modelType": "MultiLanguageProperty",
                                "idShort": "InstallationSiteRequirementsForTheDriveAndItsCoolingAir",
                                "value": [
                                    {"language": "en", "text": "dry, dust-free, away from direct sunlight"},
                                    {"language": "de", "text": "trocken, staubfrei, ohne direkte Sonne"},
                                ],
                            },
                        ],
                    }
                ],
            },
            {
                "modelType": "SubmodelElementList",
                "idShort": "VibrationReadingsOfTheLastMaintenanceIntervalInMillimetresPerSecond",
                "typeValueListElement": "Property",
                "valueTypeListElement": "xs:int",
                "value": [
                    {"modelType": "Property", "valueType": "xs:int", "value": reading}
                    for reading in ("3", "4")
                ],
            },
            number(
                "SerialNumberOfTheReplacementBearingAssemblyAsPrintedOnTheHousing",
                "BX-2231-0098",
                "xs:string",
            ),
        ],
    }


def rest(base_url: str, method: str, path: str, body: Any = None) -> dict[str, str]:
    """One REST call; returns the answer's headers (X-Titan-Seq among them)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status < 300, f"{method} {path}: {response.status}"
        return dict(response.headers)


def submodel_path(submodel: str) -> str:
    return f"/submodels/{encode_identifier(submodel)}"


async def set_value(base_url: str, path: str, value: Any, submodel: str = SM_ID) -> None:
    url = f"{submodel_path(submodel)}/submodel-elements/{path}/$value"
    await asyncio.to_thread(rest, base_url, "PATCH", url, value)


async def newest_event_seq(base_url: str, after: int) -> int:
    """The titanseq of the newest event after `after`, once the bus has published one (long poll)."""

    def ask() -> list[dict[str, Any]]:
        query = f"/events?after={after}&limit=1000&wait=10"
        with urllib.request.urlopen(base_url + query, timeout=20) as response:
            return list(json.load(response)["result"])

    events = await asyncio.to_thread(ask)
    assert events, f"no event after titanseq {after} was published within 10 s"
    return int(events[-1]["titanseq"])


@dataclass
class Console:
    """The console page and the script errors it raised (a test ends with none)."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def value(self, path: str) -> Locator:
        return self.page.locator(f'#elements tr[data-path="{path}"] td.value .reading')

    def spark(self, path: str) -> Locator:
        return self.page.locator(f'#elements tr[data-path="{path}"] td.value .spark')

    async def screenshot(self, name: str) -> None:
        """Keeps a screenshot as a test artefact, then checks the page raised no script error."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / name
        await self.page.screenshot(path=str(target))
        print(f"screenshot: {target}")
        assert self.errors == [], f"the page raised: {self.errors}"


async def open_console(browser: Browser, base_url: str, *, watch: str | None = None) -> Console:
    """The console at 1280x800, live; `watch` opens that submodel through the address."""
    page = await browser.new_page(viewport=VIEWPORT)
    console = Console(page)
    page.on("pageerror", lambda error: console.errors.append(str(error)))
    address = base_url + "/ws/console"
    if watch is not None:
        address += "#submodel=" + urllib.parse.quote(watch, safe="")
    await page.goto(address)
    await expect(page.locator("#status")).to_have_attribute("data-state", "live", timeout=SHOWN_WITHIN_MS)
    assert console.errors == [], f"the page raised: {console.errors}"
    return console


async def test_the_console_shows_a_rest_write_and_updates_a_watched_value_in_place(
    browser: Browser, base_url: str
) -> None:
    console = await open_console(browser, base_url)
    page = console.page
    await page.fill("#submodel-id", SM_ID)
    await page.click("#open-submodel button[type=submit]")
    temperature = console.value("Temperature")
    await expect(temperature).to_have_text("20.0", timeout=SHOWN_WITHIN_MS)
    await expect(page.locator('#elements tr[data-path="Motor.Current"]')).to_have_count(1)

    await set_value(base_url, "Temperature", 42.5)

    row = page.locator("#events tr.event", has_text="Temperature")
    await expect(row).to_have_count(1, timeout=SHOWN_WITHIN_MS)
    await expect(row).to_contain_text("valueChanged")
    await expect(row).to_contain_text(SM_ID)
    await expect(temperature).to_have_text("42.5", timeout=SHOWN_WITHIN_MS)
    await console.screenshot("ws-console.png")


async def test_the_watch_view_is_filled_when_the_console_opens(browser: Browser, base_url: str) -> None:
    # Nothing chosen: the console watches the first submodel, read over REST, before any event.
    console = await open_console(browser, base_url)
    await expect(console.page.locator("#elements tr")).to_have_count(5, timeout=SHOWN_WITHIN_MS)
    await expect(console.value("Temperature")).to_have_text("20.0")
    await expect(console.value("SpeedLimit")).to_have_text("100")
    await expect(console.value("Motor.Current")).to_have_text("1.0")
    await expect(console.page.locator("#submodel-select")).to_have_value(SM_ID)
    assert console.page.url.endswith("#submodel=" + urllib.parse.quote(SM_ID, safe=""))
    await console.screenshot("ws-console-opened.png")


async def test_long_paths_stay_beside_their_values_inside_the_panel_at_1280x800(
    browser: Browser, base_url: str
) -> None:
    await asyncio.to_thread(rest, base_url, "POST", "/submodels", long_path_submodel(LONG_SM_ID))
    console = await open_console(browser, base_url, watch=LONG_SM_ID)
    page = console.page
    deep_value = console.value(DEEP_PATH)
    await expect(deep_value).to_have_text("55.5", timeout=SHOWN_WITHIN_MS)
    await expect(page.locator("#elements tr")).to_have_count(9)

    layout = await page.evaluate(
        """() => {
          const box = (element) => element.getBoundingClientRect().toJSON();
          return {
            panel: box(document.querySelector("section.submodel")),
            table: box(document.querySelector("table.elements")),
            rows: [...document.querySelectorAll("#elements tr")].map((row) => ({
              path: row.dataset.path,
              pathCell: box(row.cells[0]),
              valueCell: box(row.cells[1]),
              readingLines: row.querySelector(".reading").getClientRects().length,
              title: row.cells[0].title,
            })),
          };
        }"""
    )
    panel, table = layout["panel"], layout["table"]
    assert table["width"] <= panel["width"], f"table {table['width']} px wide in a {panel['width']} px panel"
    for row in layout["rows"]:
        path_cell, value_cell = row["pathCell"], row["valueCell"]
        where = f"row {row['path']!r}: path cell {path_cell}, value cell {value_cell}, panel {panel}"
        assert panel["left"] <= value_cell["left"] and value_cell["right"] <= panel["right"], where
        assert value_cell["left"] >= path_cell["right"] - 1, f"value not beside its path: {where}"
        assert value_cell["width"] >= 0.35 * panel["width"], f"value column too narrow: {where}"
        assert row["title"].startswith(row["path"] + "\n"), f"no full path on hover: {row}"
    deep = next(row for row in layout["rows"] if row["path"] == DEEP_PATH)
    assert deep["readingLines"] == 1, f"the value of the long path wraps: {deep}"
    await expect(deep_value).to_be_visible()
    await console.screenshot("ws-console-long-paths.png")


async def test_a_patch_adds_a_sparkline_point_and_advances_the_head_counter(
    browser: Browser, base_url: str
) -> None:
    await asyncio.to_thread(rest, base_url, "POST", "/submodels", long_path_submodel(LONG_SM_ID))
    console = await open_console(browser, base_url, watch=LONG_SM_ID)
    page = console.page
    temperature = console.spark("Temperature")
    await expect(temperature).to_have_attribute("data-points", "1", timeout=SHOWN_WITHIN_MS)
    await expect(console.spark(DEEP_PATH)).to_have_attribute("data-points", "1")
    # Only numbers get a sparkline.
    await expect(page.locator("#elements tr[data-kind=MultiLanguageProperty] .spark")).to_have_count(0)
    await expect(
        page.locator('#elements tr[data-path^="SerialNumberOfTheReplacementBearing"] .spark')
    ).to_have_count(0)
    head = page.locator("#head")
    await expect(head).to_have_attribute("data-seq", "2", timeout=SHOWN_WITHIN_MS)  # two submodels

    seq = 2
    for point, value in enumerate([23.5, 21.0, 26.25, 24.0], start=2):
        await set_value(base_url, "Temperature", value, submodel=LONG_SM_ID)
        seq = await newest_event_seq(base_url, after=seq)
        await expect(temperature).to_have_attribute("data-points", str(point), timeout=SHOWN_WITHIN_MS)
        await expect(head).to_have_attribute("data-seq", str(seq), timeout=SHOWN_WITHIN_MS)
        await expect(head).to_have_text(f"head {seq}")
    await expect(console.value("Temperature")).to_have_text("24")  # the event's bare JSON number
    await expect(console.spark("Temperature").locator("polyline")).to_have_count(1)
    drawn = await console.spark("Temperature").locator("polyline").get_attribute("points")
    assert drawn is not None and len(drawn.split()) == 5, f"sparkline points: {drawn!r}"
    await expect(temperature).to_have_attribute("title", "last 5 values: lowest 20, highest 26.25")
    await expect(console.spark(DEEP_PATH)).to_have_attribute("data-points", "1")
    await console.screenshot("ws-console-sparkline.png")


async def test_the_watch_view_continues_since_its_read_without_gap_or_double(
    browser: Browser, base_url: str
) -> None:
    # Two changes before the read (titanseq 2 and 3): replayed, they would add points the read
    # already shows.
    await set_value(base_url, "Temperature", 25.0)
    await set_value(base_url, "Temperature", 30.0)
    assert await newest_event_seq(base_url, after=2) == 3

    async def change_after_the_read(route: Route) -> None:
        answer = await route.fetch()  # the read: Temperature 30, X-Titan-Seq 3
        # A change published before the page subscribes: a live-only subscription would miss it.
        await set_value(base_url, "Temperature", 31.0)
        assert await newest_event_seq(base_url, after=3) == 4
        await route.fulfill(response=answer)

    page = await browser.new_page(viewport=VIEWPORT)
    await page.route(f"**{submodel_path(SM_ID)}", change_after_the_read, times=1)
    console = Console(page)
    page.on("pageerror", lambda error: console.errors.append(str(error)))
    await page.goto(f"{base_url}/ws/console#submodel={urllib.parse.quote(SM_ID, safe='')}")

    await expect(console.value("Temperature")).to_have_text("31", timeout=SHOWN_WITHIN_MS)
    spark = console.spark("Temperature")
    await expect(spark).to_have_attribute("data-points", "2", timeout=SHOWN_WITHIN_MS)
    await expect(spark).to_have_attribute("title", "last 2 values: lowest 30, highest 31")
    await console.screenshot("ws-console-since-read.png")


async def test_the_console_pauses_and_resumes_with_since_after_a_drop(
    browser: Browser, base_url: str
) -> None:
    console = await open_console(browser, base_url)
    page = console.page

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
    await expect(console.spark("Speed")).to_have_attribute("data-points", "4")  # 0, then 11, 12, 13
    await console.screenshot("ws-console-resumed.png")


async def test_the_console_filter_form_narrows_the_stream(browser: Browser, base_url: str) -> None:
    page = (await open_console(browser, base_url)).page

    await page.check('#filters input[name="entity_types"][value="shell"]')
    await page.click("#filters button[type=submit]")
    # The page resubscribes under a new id since the last titanseq it saw, and ignores the old id.
    await set_value(base_url, "Speed", 21)
    await asyncio.to_thread(rest, base_url, "POST", "/shells", shell(SHELL_ID, SM_ID))

    rows = page.locator("#events tr.event")
    await expect(rows).to_have_count(1, timeout=SHOWN_WITHIN_MS)
    await expect(rows).to_contain_text("created")
    await expect(rows).to_contain_text(SHELL_ID)
