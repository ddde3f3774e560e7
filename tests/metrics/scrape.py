"""Reading `GET /metrics` in tests: parsed with prometheus_client's own parser, samples by name."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support.app import AppClient


@dataclass
class Scrape:
    """One scrape: every sample, with lookups by sample name and labels."""

    samples: list[Sample]
    text: str
    # Families declared (`# TYPE`), by name: a labelled family without samples yet is declared too.
    families: dict[str, str]

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the sample `name` whose labels include `labels`; None when there is none."""
        for sample in self.samples:
            if sample.name == name and all(sample.labels.get(key) == want for key, want in labels.items()):
                return float(sample.value)
        return None

    def names(self) -> set[str]:
        """Every sample name, and the sample names of declared families that have none yet."""
        declared = {name + "_total" if kind == "counter" else name for name, kind in self.families.items()}
        return {sample.name for sample in self.samples} | declared


async def scrape(client: AppClient, **headers: str) -> Scrape:
    response = await client.get("/metrics", headers=headers)
    text = await response.text()
    assert response.status == 200, text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = list(text_string_to_metric_families(text))
    samples = [sample for family in families for sample in family.samples]
    return Scrape(samples, text, {family.name: family.type for family in families})


async def scrape_until(
    client: AppClient, condition: Callable[[Scrape], bool], what: str, timeout: float = 10.0
) -> Scrape:
    """Scrape until `condition` holds; fail naming `what` and the last scrape after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = await scrape(client)
        if condition(found):
            return found
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s:\n{found.text}"
        await asyncio.sleep(0.05)
