"""Automatic registration: a `once` sink that keeps a registry in step with this instance's shells
and submodels.

Every shell or submodel event registers (PUT: create or replace) or deregisters (DELETE) its
descriptor; descriptors are built from the event's data, with endpoints below the configured base
URL. When the app starts, a full sync registers every shell and submodel there is and deregisters
the descriptors that point at this instance but name nothing it has, so changes made while the
sync was off or the registry gone are caught up. While the registry is away the sink raises and
Titan delivers the batch again later (backoff up to `sink_retry_max_ms`): nothing is missed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from titan_core.plugin_api import Event, Fanout, Repository, loggable
from titan_plugin_registry.descriptors import DescriptorKind
from titan_plugin_registry.endpoints import shell_descriptor, submodel_descriptor
from titan_plugin_registry.targets import SYNC_PRINCIPAL, RegistryTarget

log = logging.getLogger(__name__)

KINDS: dict[str, DescriptorKind] = {"shell": "shell_descriptor", "submodel": "submodel_descriptor"}
# The repository's collections the full sync reads, with the descriptor kind of each.
_TWINS: tuple[tuple[Literal["shell", "submodel"], DescriptorKind], ...] = (
    ("shell", "shell_descriptor"),
    ("submodel", "submodel_descriptor"),
)
_EVENT_PREFIX = "io.admin-shell.events.v1."
_PAGE = 200


class RegistrySyncSink:
    """One per deployment (`once`): the registry named by `[registry] sync_to`."""

    fanout: Fanout = "once"

    def __init__(self, target: RegistryTarget, base_url: str, *, name_of_target: str) -> None:
        self.target = target
        self.base_url = base_url.rstrip("/")
        # Stable across restarts (the bus keeps the position under it), free of credentials.
        digest = hashlib.sha256(f"{name_of_target}|{self.base_url}".encode()).hexdigest()[:8]
        self.name = f"registry-sync-{digest}"
        # Deliveries and the full sync never interleave: each PUT reflects one consistent state.
        self._lock = asyncio.Lock()
        self.registered = 0
        self.deregistered = 0
        self.full_sync_done_at: float | None = None
        self.last_problem = ""
        self.failing_since: float | None = None

    @property
    def healthy(self) -> bool:
        return self.failing_since is None

    async def deliver(self, events: Sequence[Event]) -> None:
        # The last change of each twin in the batch decides its descriptor: earlier ones need not go out.
        latest: dict[tuple[str, str], Mapping[str, Any]] = {}
        for event in events:
            envelope = event.envelope
            if envelope.get("titanentity") in KINDS and isinstance(envelope.get("titanid"), str):
                key = (str(envelope["titanentity"]), str(envelope["titanid"]))
                latest.pop(key, None)
                latest[key] = envelope
        if not latest:
            return
        async with self._lock:
            try:
                for (entity, identifier), envelope in latest.items():
                    await self._apply(entity, identifier, envelope)
            except Exception as exc:
                self._failed(exc)
                raise
            self._succeeded()

    async def _apply(self, entity: str, identifier: str, envelope: Mapping[str, Any]) -> None:
        kind = KINDS[entity]
        change = str(envelope.get("type", "")).removeprefix(_EVENT_PREFIX)
        data = envelope.get("data")
        if change == "deleted":
            await self.target.deregister(kind, identifier)
            self.deregistered += 1
        elif change in ("created", "updated") and isinstance(data, Mapping):
            await self.target.register(kind, self._descriptor(entity, data))
            self.registered += 1

    def _descriptor(self, entity: str, twin: Mapping[str, Any]) -> dict[str, Any]:
        if entity == "shell":
            return shell_descriptor(self.base_url, twin)
        return submodel_descriptor(self.base_url, twin)

    async def full_sync(self, repository: Repository) -> None:
        """Register every shell and submodel; deregister descriptors of this instance's twins that are gone."""
        async with self._lock:
            try:
                for entity, kind in _TWINS:
                    present: set[str] = set()
                    cursor: str | None = None
                    while True:
                        page = await repository.page(
                            entity, limit=_PAGE, cursor=cursor, principal=SYNC_PRINCIPAL
                        )
                        for item in page.items:
                            present.add(item.identifier)
                            await self.target.register(kind, self._descriptor(entity, item.document()))
                            self.registered += 1
                        if page.next_cursor is None:
                            break
                        cursor = page.next_cursor
                    stale = [identifier async for identifier in self.target.pointing_at(kind, self.base_url)
                             if identifier not in present]  # fmt: skip
                    for identifier in stale:
                        await self.target.deregister(kind, identifier)
                        self.deregistered += 1
            except Exception as exc:
                self._failed(exc)
                raise
            self._succeeded()
            self.full_sync_done_at = time.time()

    async def keep_trying_full_sync(
        self, repository: Repository, *, first_wait: float = 0.5, longest: float = 30.0
    ) -> None:
        """The full sync, again after a growing pause until it succeeds (the registry may start later)."""
        wait = first_wait
        while True:
            try:
                await self.full_sync(repository)
                log.info(
                    "registry sync: full sync to %s done (%d registered)",
                    self.target.display,
                    self.registered,
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("registry sync: full sync to %s failed, again in %.1f s: %s",
                            self.target.display, wait, loggable(str(exc)))  # fmt: skip
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest)

    def _failed(self, exc: BaseException) -> None:
        self.last_problem = f"{type(exc).__name__}: {exc}"
        if self.failing_since is None:
            self.failing_since = time.time()

    def _succeeded(self) -> None:
        self.failing_since = None
        self.last_problem = ""

    def describe(self) -> str:
        summary = f"to {self.target.display} ({self.name}): {self.registered} registered, "
        summary += f"{self.deregistered} deregistered"
        summary += ", full sync done" if self.full_sync_done_at else ", full sync pending"
        if self.failing_since is not None:
            summary += f"; failing for {time.time() - self.failing_since:.0f} s: {self.last_problem}"
        return summary

    async def close(self) -> None:
        await self.target.close()
