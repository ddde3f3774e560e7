"""`WebhookSink`: POSTs events to one URL as CloudEvents over HTTP, signed, with retries.

What a receiver gets, and why each failure is handled the way it is:
- 2xx: delivered.
- 5xx, 408, 429, a timeout or a connection error: the receiver may well take the same request
  later, so it is retried with exponential backoff (a `Retry-After` header is honoured). When the
  retries run out, `deliver` raises and Titan's sink runner retries the whole batch later; events
  are never dropped for these.
- Any other 4xx (and 3xx, which are not followed): the receiver read the request and refused it;
  the same bytes would be refused again, and since this sink delivers in order, retrying would
  hold back every later event for good. So the request is logged with its event ids and dropped
  (the events stay readable from `GET /events`), and `/ready` shows the failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from titan_core.plugin_api import ROLE_READER, Event, Fanout, Principal, may_read
from titan_plugin_webhook.config import WebhookConfig, display_url
from titan_plugin_webhook.signature import SIGNATURE_HEADER, signature_header

log = logging.getLogger(__name__)

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
# Ids of events already handled, so a batch that Titan retries does not resend its first half.
_REMEMBERED_IDS = 4096


class WebhookDeliveryError(RuntimeError):
    """A request could not be delivered within its retries; Titan retries the batch later."""


@dataclass(frozen=True)
class _Outcome:
    delivered: bool = False
    retry: bool = False
    problem: str = ""
    retry_after: float | None = None


class WebhookSink:
    """Delivers every event, in order, to one URL: one sink per URL, one delivery per deployment."""

    # "once": in a deployment of several Titan instances only one of them POSTs a given event.
    fanout: Fanout = "once"

    def __init__(self, url: str, config: WebhookConfig) -> None:
        self.url = url
        # Stable across restarts (the bus keeps each sink's position under its name) and free of
        # whatever secrets the URL holds.
        self.name = "webhook-" + hashlib.sha256(url.encode()).hexdigest()[:8]
        self.display_url = display_url(url)
        self._config = config
        # The receiver gets only events of twins this principal may read (docs/security.md).
        self.principal = Principal(f"webhook {self.display_url}", frozenset({ROLE_READER}),
                                   scopes=config.scopes.get(url, ()))  # fmt: skip
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._handled_ids: OrderedDict[str, None] = OrderedDict()
        # For titan_health: what happened last, as wall-clock times.
        self.delivered_count = 0
        self.dropped_count = 0
        self.last_delivered_at: float | None = None
        self.last_problem: str | None = None
        self.last_problem_at: float | None = None

    @property
    def healthy(self) -> bool:
        """No problem yet, or a successful delivery since the last one."""
        if self.last_problem_at is None:
            return True
        return self.last_delivered_at is not None and self.last_delivered_at > self.last_problem_at

    async def deliver(self, events: Sequence[Event]) -> None:
        """POST `events` in order, `max_batch` per request; raise if a request cannot get through."""
        pending = [
            event
            for event in events
            if may_read(self.principal, event.envelope) and str(event.envelope["id"]) not in self._handled_ids
        ]
        size = self._config.max_batch
        for start in range(0, len(pending), size):
            chunk = pending[start : start + size]
            await self._send_with_retries(chunk)
            for event in chunk:
                self._remember(str(event.envelope["id"]))

    async def close(self) -> None:
        """Close the HTTP connections; the sink delivers nothing afterwards."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send_with_retries(self, chunk: Sequence[Event]) -> None:
        if self._config.max_batch == 1:
            body, content_type = chunk[0].json, STRUCTURED_CONTENT_TYPE
        else:
            # The events' JSON is spliced as is: Titan serialised each one once already.
            body, content_type = b"[" + b",".join(event.json for event in chunk) + b"]", BATCH_CONTENT_TYPE
        attempts = self._config.retries + 1
        for attempt in range(1, attempts + 1):
            outcome = await self._post(body, content_type)
            if outcome.delivered:
                self.delivered_count += len(chunk)
                self.last_delivered_at = time.time()
                return
            self._note_problem(outcome.problem)
            if not outcome.retry:
                self.dropped_count += len(chunk)
                log.error(
                    "webhook %s refused events %s (%s); dropped: the same request would be refused again",
                    self.display_url, ", ".join(str(e.envelope["id"]) for e in chunk), outcome.problem,
                )  # fmt: skip
                return
            if attempt == attempts:
                break
            delay = self._delay(attempt, outcome.retry_after)
            log.warning(
                "webhook %s: %s; attempt %d of %d, next in %.1f s",
                self.display_url, outcome.problem, attempt, attempts, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
        raise WebhookDeliveryError(
            f"webhook {self.display_url}: {outcome.problem} after {attempts} attempt(s)"
        )

    async def _post(self, body: bytes, content_type: str) -> _Outcome:
        if self._closed:
            raise WebhookDeliveryError(f"webhook {self.display_url}: the sink is closed (server stopping)")
        if self._session is None:
            # Created here, not in __init__: a ClientSession belongs to the running event loop.
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": content_type}
        if self._config.secret:
            # Signed per attempt, so a retry carries a fresh timestamp.
            headers[SIGNATURE_HEADER] = signature_header(self._config.secret, body)
        timeout = aiohttp.ClientTimeout(total=self._config.timeout)
        try:
            async with self._session.post(
                self.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                await response.read()  # read to the end so the connection can be reused
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _Outcome(
                retry=True, problem=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            )
        if 200 <= status < 300:
            return _Outcome(delivered=True)
        retryable = status >= 500 or status in (408, 429)
        return _Outcome(retry=retryable, problem=f"HTTP {status}", retry_after=_seconds(retry_after))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        config = self._config
        if retry_after is not None:
            return min(retry_after, config.max_backoff)
        # Jitter spreads the retries of many senders hitting one recovering receiver.
        ceiling = min(config.backoff * float(2 ** (attempt - 1)), config.max_backoff)
        return ceiling * random.uniform(0.5, 1.0)

    def _note_problem(self, problem: str) -> None:
        self.last_problem, self.last_problem_at = problem, time.time()

    def _remember(self, event_id: str) -> None:
        self._handled_ids[event_id] = None
        if len(self._handled_ids) > _REMEMBERED_IDS:
            self._handled_ids.popitem(last=False)


def _seconds(retry_after: str | None) -> float | None:
    # Only the delay-seconds form; an HTTP date falls back to our own backoff.
    if retry_after is None or not (retry_after.strip().isascii() and retry_after.strip().isdigit()):
        return None
    return float(retry_after.strip())
