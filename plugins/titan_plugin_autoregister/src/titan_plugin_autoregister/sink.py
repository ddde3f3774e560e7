"""`AutoregisterSink`: a `once` sink keeping a registry (and a discovery) in step with this
instance's shells and submodels.

Each shell or submodel event names a twin; the sink reads that twin's state now and registers it
(PUT) or, gone, deregisters it (DELETE). Reading the state rather than the event's data makes every
delivery idempotent and current: a batch delivered twice, or an old event delivered after a full
sync, can only write what is true now, and the twin's last event always leaves the registry right.

The full sync registers every shell and submodel and deletes the descriptors that point at this
instance (by endpoint prefix) but name nothing it has. It runs at start, and again once the
registry answers after having been away (it may have come back from an old backup). Deliveries
and the full sync never interleave (one lock): a full sync writing a state it read before a
change would otherwise overwrite the change's newer descriptor.

While the registry is away `deliver` raises; Titan keeps the sink's position (durable for a `once`
sink) and delivers the batch again after a backoff, so nothing is missed when it returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from titan_core.plugin_api import (
    ROLE_READER,
    Event,
    Fanout,
    NotFound,
    Principal,
    Repository,
    loggable,
    short_type,
)
from titan_plugin_autoregister.config import AutoregisterConfig, display_url
from titan_plugin_autoregister.descriptors import (
    asset_links,
    points_at,
    shell_descriptor,
    submodel_descriptor,
    submodel_ids,
)
from titan_plugin_autoregister.remote import SHELL_DESCRIPTORS, SUBMODEL_DESCRIPTORS, Services

log = logging.getLogger(__name__)

Twin = Literal["shell", "submodel"]
# Who the sink reads the repository as: every twin, no writes.
READER = Principal("plugin:autoregister", frozenset({ROLE_READER}))
_CHANGES = ("created", "updated", "deleted")
_PAGE = 100


class AutoregisterSink:
    fanout: Fanout = "once"

    def __init__(
        self, config: AutoregisterConfig, base_url: str, repository: Callable[[], Repository]
    ) -> None:
        self.config = config
        self.base_url = base_url
        self.batch_size = config.batch_size
        # The repository exists once the app has started: asked for when needed.
        self._repository = repository
        self.services = Services(config)
        # Stable across restarts (the bus keeps the position under it), free of credentials.
        target = f"{config.registry_url}|{config.discovery_url}|{base_url}"
        self.name = "autoregister-" + hashlib.sha256(target.encode()).hexdigest()[:8]
        self._lock = asyncio.Lock()
        self._resync: asyncio.Task[None] | None = None
        self._closed = False
        # For titan_health: counters and what went wrong last.
        self.registered = 0
        self.deregistered = 0
        self.full_syncs = 0
        self.full_sync_done_at: float | None = None
        self.failing_since: float | None = None
        self.last_problem = ""

    @property
    def healthy(self) -> bool:
        return self.failing_since is None and not self.services.refusing

    async def deliver(self, events: Sequence[Event]) -> None:
        twins = _twins_named(events)
        if not twins:
            return
        async with self._lock:
            try:
                for twin, identifier in twins:
                    await self._sync_one(twin, identifier)
            except Exception as exc:
                self._note(exc)
                raise
        if self.failing_since is not None:
            # The services answer again after failing: reconcile, in case they lost descriptors.
            self._note(None)
            self.start_full_sync()

    async def full_sync(self) -> None:
        """Register every shell and submodel; deregister this instance's descriptors that are stale."""
        async with self._lock:
            try:
                await self._reconcile("shell", SHELL_DESCRIPTORS)
                if self.config.submodel_registry:
                    await self._reconcile("submodel", SUBMODEL_DESCRIPTORS)
            except Exception as exc:
                self._note(exc)
                raise
        self._note(None)
        self.full_syncs += 1
        self.full_sync_done_at = time.time()

    def start_full_sync(self) -> None:
        """Run the full sync in the background, again after a growing pause until it succeeds."""
        if self._closed or (self._resync is not None and not self._resync.done()):
            return
        self._resync = asyncio.create_task(self._keep_trying_full_sync(), name=f"{self.name} full sync")

    async def close(self) -> None:
        self._closed = True
        if self._resync is not None:
            self._resync.cancel()
            await asyncio.gather(self._resync, return_exceptions=True)
        await self.services.close()

    async def _keep_trying_full_sync(self) -> None:
        wait = self.config.backoff
        while not self._closed:
            try:
                await self.full_sync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("autoregister: full sync failed, again in %.1f s: %s", wait, loggable(str(exc)))
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.config.max_backoff)
                continue
            log.info("autoregister: full sync %s done (%d registered, %d deregistered so far)",
                     self.describe_targets(), self.registered, self.deregistered)  # fmt: skip
            return

    async def _reconcile(self, twin: Twin, collection: str) -> None:
        # What the registry holds of this instance, as a digest per id: unchanged ones are not PUT again.
        registered: dict[str, str] = {}
        if self.config.registry_url:
            async for descriptor in self.services.descriptors(collection):
                if points_at(descriptor, self.base_url):
                    registered[descriptor["id"]] = _digest(descriptor)
        present: set[str] = set()
        repository = self._repository()
        cursor: str | None = None
        while True:
            page = await repository.page(twin, limit=_PAGE, cursor=cursor, principal=READER)
            for item in page.items:
                present.add(item.identifier)
                await self._register(twin, item.document(), unless=registered.get(item.identifier))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        for identifier in sorted(registered.keys() - present):
            await self._deregister(twin, identifier)

    async def _sync_one(self, twin: Twin, identifier: str) -> None:
        try:
            document = (await self._repository().get(twin, identifier, principal=READER)).document()
        except NotFound:
            await self._deregister(twin, identifier)
            return
        await self._register(twin, document)

    async def _register(self, twin: Twin, document: Mapping[str, Any], *, unless: str | None = None) -> None:
        identifier = str(document["id"])
        if twin == "submodel":
            if self.config.registry_url and self.config.submodel_registry:
                descriptor = submodel_descriptor(self.base_url, identifier, document)
                if _digest(descriptor) != unless:
                    await self.services.register(SUBMODEL_DESCRIPTORS, descriptor)
                    self.registered += 1
            return
        if self.config.registry_url:
            descriptor = shell_descriptor(self.base_url, document, await self._submodels_of(document))
            if _digest(descriptor) != unless:
                await self.services.register(SHELL_DESCRIPTORS, descriptor)
                self.registered += 1
        if self.config.discovery_url:
            await self.services.link(identifier, asset_links(document))

    async def _deregister(self, twin: Twin, identifier: str) -> None:
        if self.config.registry_url and (twin == "shell" or self.config.submodel_registry):
            await self.services.deregister(SHELL_DESCRIPTORS if twin == "shell" else SUBMODEL_DESCRIPTORS,
                                           identifier)  # fmt: skip
            self.deregistered += 1
        if twin == "shell" and self.config.discovery_url:
            await self.services.link(identifier, [])

    async def _submodels_of(self, shell: Mapping[str, Any]) -> dict[str, Mapping[str, Any] | None]:
        found: dict[str, Mapping[str, Any] | None] = {}
        repository = self._repository()
        for identifier in submodel_ids(shell):
            try:
                found[identifier] = (
                    await repository.get("submodel", identifier, principal=READER)
                ).document()
            except NotFound:
                found[identifier] = None  # referred to, not here: the descriptor says only where
        return found

    def _note(self, problem: BaseException | None) -> None:
        """Remember how the last attempt went (None: it worked), for the health report."""
        if problem is None:
            self.failing_since, self.last_problem = None, ""
            return
        self.last_problem = f"{type(problem).__name__}: {problem}"
        self.failing_since = self.failing_since or time.time()

    def describe_targets(self) -> str:
        targets = [f"registry {display_url(self.config.registry_url)}"] if self.config.registry_url else []
        if self.config.discovery_url:
            targets.append(f"discovery {display_url(self.config.discovery_url)}")
        return "to " + " and ".join(targets)

    def describe(self) -> str:
        summary = f"{self.describe_targets()} ({self.name}): {self.registered} registered, "
        summary += f"{self.deregistered} deregistered"
        summary += f", {self.full_syncs} full sync(s)" if self.full_syncs else ", full sync pending"
        if self.services.refused:
            summary += f"; {self.services.refused} refused, last: {self.services.last_refusal}"
        if self.failing_since is not None:
            summary += f"; failing for {time.time() - self.failing_since:.0f} s: {self.last_problem}"
        return summary


def _twins_named(events: Sequence[Event]) -> list[tuple[Twin, str]]:
    """The shells and submodels the events changed, each once, in the order of its last change."""
    named: dict[tuple[Twin, str], None] = {}
    for event in events:
        envelope = event.envelope
        entity, identifier = envelope.get("titanentity"), envelope.get("titanid")
        change = short_type(str(envelope.get("type", "")))
        if entity in ("shell", "submodel") and isinstance(identifier, str) and change in _CHANGES:
            key: tuple[Twin, str] = ("shell" if entity == "shell" else "submodel", identifier)
            named.pop(key, None)
            named[key] = None
    return list(named)


def _digest(descriptor: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(descriptor, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
