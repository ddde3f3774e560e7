"""One `/ws/events` client: origin and authentication, the message loop, its subscriptions, the
history replay and its handover to live events, and closing with the right code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from titan_core.plugin_api import (
    REPOSITORY,
    TITAN_VERSION,
    BusUnavailable,
    Event,
    HistoryExpired,
    Principal,
    may_read,
)
from titan_plugin_ws import protocol
from titan_plugin_ws.access import (
    Refused,
    authenticate,
    core_requires_auth,
    origin_allowed,
    presented_token,
)
from titan_plugin_ws.outbox import Outbox
from titan_plugin_ws.protocol import ProtocolError
from titan_plugin_ws.replay import REPLAY_CHUNK, catch_up
from titan_plugin_ws.subscription import Subscription, Throttle

if TYPE_CHECKING:
    from titan_plugin_ws.hub import WsHub

log = logging.getLogger(__name__)


class Connection:
    """The server side of one WebSocket. The hub calls `offer` with every live event."""

    # Slots: with 10,000 idle connections, every per-connection byte counts (docs/performance.md).
    __slots__ = (
        "__weakref__", "_auth_deadline", "_auth_required", "_close_task", "_expiry", "_reader",
        "_subscription_list", "_tokens", "_tokens_at", "closing", "config", "hub", "outbox", "principal",
        "request", "subscriptions", "transport", "ws",
    )  # fmt: skip

    def __init__(self, hub: WsHub, request: web.Request, ws: web.WebSocketResponse) -> None:
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("the client went away during the upgrade")
        self.hub = hub
        self.transport = transport
        self.config = hub.config
        self.request = request
        self.ws = ws
        self.principal: Principal | None = None
        self.subscriptions: dict[str, Subscription] = {}
        self._subscription_list: list[Subscription] = []
        self.outbox = Outbox(
            ws, transport, max_messages=self.config.queue_messages, max_bytes=self.config.queue_bytes,
            on_overflow=self._too_slow,
        )  # fmt: skip
        self.closing = False
        self._close_task: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._auth_deadline: asyncio.TimerHandle | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._auth_required = self.config.require_auth or core_requires_auth(request)
        self._tokens = float(self.config.message_burst)
        self._tokens_at = time.monotonic()

    # --- the message loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until either side closes it."""
        # Reading runs in its own task so that closing can stop it first: aiohttp completes the
        # closing handshake (waits for the client's close frame) only when no read is pending.
        self._reader = asyncio.get_running_loop().create_task(self._read())
        try:
            await self._reader
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        finally:
            await self._finish()

    async def _read(self) -> None:
        await self._open()
        async for message in self.ws:
            if self.closing:
                break
            if message.type is WSMsgType.TEXT:
                await self._on_text(message.data)
            elif message.type is WSMsgType.BINARY:
                self._error(protocol.BAD_MESSAGE, "send JSON messages in text frames, not binary ones")
            elif message.type is WSMsgType.ERROR:
                break

    async def _open(self) -> None:
        if not origin_allowed(self.request, self.config.allowed_origins):
            origin = self.request.headers.get("Origin")
            self._refuse(
                Refused(
                    protocol.CLOSE_FORBIDDEN, f"origin {origin} is not allowed (setting ws allowed_origins)"
                )
            )
            return
        try:
            principal = await authenticate(
                self.request, presented_token(self.request), required=self._auth_required
            )
        except Refused as refused:
            self._refuse(refused)
            return
        if principal is None:
            loop = asyncio.get_running_loop()
            self._auth_deadline = loop.call_later(self.config.auth_timeout, self._auth_timed_out)
            return
        await self._accept(principal)

    async def _on_text(self, data: bytes | str) -> None:
        if not self._within_rate():
            self.hub.stats.closed_rate += 1
            self.close(protocol.CLOSE_TOO_SLOW, f"too many messages: more than {self.config.messages_per_second:g} "
                       "per second (ws setting messages_per_second)")  # fmt: skip
            return
        try:
            message = protocol.parse_client_message(data)
        except ProtocolError as problem:
            if self.principal is None:
                self._refuse(Refused(protocol.CLOSE_UNAUTHENTICATED, _AUTH_FIRST))
            else:
                self._error(problem.code, problem.message, problem.subscription)
            return
        if isinstance(message, protocol.Auth):
            await self._authenticate(message.token)
        elif self.principal is None:
            self._refuse(Refused(protocol.CLOSE_UNAUTHENTICATED, _AUTH_FIRST))
        elif isinstance(message, protocol.Subscribe):
            await self._subscribe(message)
        elif isinstance(message, protocol.Unsubscribe):
            self._unsubscribe(message.id)
        else:
            self.outbox.send(protocol.PONG)

    def _within_rate(self) -> bool:
        now = time.monotonic()
        self._tokens = min(
            float(self.config.message_burst),
            self._tokens + (now - self._tokens_at) * self.config.messages_per_second,
        )
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    # --- authentication -----------------------------------------------------------------------

    async def _authenticate(self, token: str) -> None:
        try:
            principal = await authenticate(self.request, token, required=self._auth_required)
        except Refused as refused:
            self._refuse(refused)
            return
        assert principal is not None  # a token was given: it is a principal or refused
        if self.principal is None:
            await self._accept(principal)
        elif principal.subject != self.principal.subject:
            # A connection belongs to one caller: its subscriptions were checked for that caller.
            self._refuse(Refused(protocol.CLOSE_FORBIDDEN, f"the fresh token names another subject "
                                 f"than {self.principal.subject!r}: open a new connection for it"))  # fmt: skip
        else:
            # A fresh token on an open connection extends it; nothing is answered unless it fails.
            self.principal = principal
            self._watch_expiry()

    async def _accept(self, principal: Principal) -> None:
        if self._auth_deadline is not None:
            self._auth_deadline.cancel()
            self._auth_deadline = None
        self.principal = principal
        self._watch_expiry()
        if self.closing:
            return
        events = self.hub.events
        oldest = await events.oldest()
        self.outbox.send(protocol.welcome(events.head(), oldest, TITAN_VERSION))

    def _watch_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        assert self.principal is not None
        moment = self.principal.expires_at
        if moment is None:
            return
        remaining = moment - time.time()
        if remaining <= 0:
            self._token_expired()
        else:
            self._expiry = asyncio.get_running_loop().call_later(remaining, self._token_expired)

    def _token_expired(self) -> None:
        self._refuse(Refused(protocol.CLOSE_UNAUTHENTICATED,
                             "token expired: send a fresh {\"type\":\"auth\"} before it does"))  # fmt: skip

    def _auth_timed_out(self) -> None:
        self._auth_deadline = None
        if self.principal is None:
            self.close(protocol.CLOSE_AUTH_TIMEOUT, f"no auth message within {self.config.auth_timeout:g} s")

    # --- subscriptions ------------------------------------------------------------------------

    async def _subscribe(self, request: protocol.Subscribe) -> None:
        sid, event_filter = request.id, request.filter
        if sid in self.subscriptions:
            self._error(protocol.BAD_MESSAGE, f"subscription id {sid!r} is in use: unsubscribe it first", sid)
            return
        if len(self.subscriptions) >= self.config.max_subscriptions:
            self._error(protocol.TOO_MANY_SUBSCRIPTIONS, f"at most {self.config.max_subscriptions} subscriptions "
                        "per connection (setting ws max_subscriptions)", sid)  # fmt: skip
            return
        assert self.principal is not None
        for identifier in sorted((event_filter.ids or frozenset()) | (event_filter.shell_ids or frozenset())):
            if not may_read(self.principal, {"titanid": identifier}):
                self._error(protocol.FORBIDDEN, f"{self.principal.subject} may not read {identifier}", sid)
                return
        events = self.hub.events
        cursor = events.head() if request.since is None else request.since
        if event_filter.shell_ids is not None:
            await event_filter.resolve(self.request.app[REPOSITORY], self.principal)
            if self.closing:
                return
        subscription = Subscription(sid, event_filter, cursor, request.throttle_ms, request.profile)
        if request.throttle_ms:
            subscription.throttle = Throttle(
                request.throttle_ms, lambda event: self._send(subscription, event)
            )
        # Attached before the first read of history, so live events from here on are held for it.
        self._attach(subscription)
        try:
            first = await events.read(cursor, REPLAY_CHUNK)
        except HistoryExpired as expired:
            self._detach(subscription)
            self._error(protocol.HISTORY_EXPIRED, f"events after titanseq {expired.after} are no longer retained; "
                        f"the oldest is {expired.oldest}: read the twin again and subscribe since its X-Titan-Seq, "
                        f"or since {expired.oldest - 1} accepting the gap", sid)  # fmt: skip
            return
        except BusUnavailable as exc:
            self._detach(subscription)
            self._error(protocol.UNAVAILABLE, f"the event bus is not reachable now: {exc}", sid)
            return
        if not subscription.active or self.closing:
            return
        self.outbox.send(protocol.subscribed(sid))
        subscription.replay_task = asyncio.get_running_loop().create_task(
            catch_up(self, events, subscription, first)
        )

    def _unsubscribe(self, sid: str) -> None:
        subscription = self.subscriptions.get(sid)
        if subscription is None:
            self._error(protocol.UNKNOWN_SUBSCRIPTION, f"no subscription {sid!r} on this connection", sid)
            return
        self._detach(subscription)

    def _attach(self, subscription: Subscription) -> None:
        if subscription.profile != "titan":
            self.hub.profiles.subscribers += 1
        self.subscriptions[subscription.id] = subscription
        self._subscription_list = list(self.subscriptions.values())
        self.hub.subscribed.add(self)

    def _detach(self, subscription: Subscription) -> None:
        if subscription.active and subscription.profile != "titan":
            self.hub.profiles.subscribers -= 1
        subscription.close()
        if self.subscriptions.get(subscription.id) is subscription:
            del self.subscriptions[subscription.id]
        self._subscription_list = list(self.subscriptions.values())
        if not self.subscriptions:
            self.hub.subscribed.discard(self)

    def drop_subscription(self, subscription: Subscription, code: str, message: str) -> None:
        """End a subscription the server can no longer serve, telling the client why."""
        self._detach(subscription)
        self._error(code, message, subscription.id)

    def offer(self, events: Sequence[Event]) -> None:
        """Live events from the sink, in titanseq order. Never waits."""
        principal = self.principal
        subscriptions = self._subscription_list
        if principal is None or self.closing:
            return
        for event in events:
            readable: bool | None = None
            for subscription in subscriptions:
                if subscription.held_live is not None:
                    subscription.hold(event)
                    continue
                if event.titanseq <= subscription.cursor:
                    continue
                subscription.cursor = event.titanseq
                if not subscription.filter.matches(event.envelope):
                    continue
                if readable is None:
                    readable = may_read(principal, event.envelope)
                if readable:
                    self._emit(subscription, event)
            if self.closing:
                return

    def pass_event(self, subscription: Subscription, event: Event) -> None:
        """One event for one subscription, if it is past the cursor, matches and may be read."""
        if event.titanseq <= subscription.cursor:
            return
        subscription.cursor = event.titanseq
        principal = self.principal
        if principal is None or not subscription.filter.matches(event.envelope):
            return
        if may_read(principal, event.envelope):
            self._emit(subscription, event)

    async def prepare(self, subscription: Subscription, events: list[Event]) -> None:
        """Before a replay passes `events` on: their async-aas form, if this subscription wants it."""
        if subscription.profile != "titan":
            await self.hub.profiles.prepare(events)

    def _emit(self, subscription: Subscription, event: Event) -> None:
        if subscription.throttle is not None:
            subscription.throttle.offer(event)
        else:
            self._send(subscription, event)

    def _send(self, subscription: Subscription, event: Event) -> None:
        if subscription.profile == "titan":
            self.outbox.send(subscription.prefix, event.json, protocol.EVENT_SUFFIX)
        else:
            self.outbox.send(subscription.prefix, self.hub.profiles.json(event), protocol.EVENT_SUFFIX)

    # --- errors and closing -------------------------------------------------------------------

    def _error(self, code: str, message: str, subscription: str | None = None) -> None:
        self.outbox.send(protocol.error(code, message, subscription))

    def _refuse(self, refused: Refused) -> None:
        code = (
            protocol.FORBIDDEN if refused.close_code == protocol.CLOSE_FORBIDDEN else protocol.UNAUTHENTICATED
        )
        self._error(code, refused.message)
        self.close(refused.close_code, refused.message)

    def _too_slow(self) -> None:
        self.hub.stats.closed_slow += 1
        log.info("closing WebSocket client %s: too slow, more than %d messages or %d bytes waiting",
                 self.request.remote, self.config.queue_messages, self.config.queue_bytes)  # fmt: skip
        self.close(protocol.CLOSE_TOO_SLOW, f"too slow: more than {self.config.queue_messages} messages waiting "
                   "(setting ws queue_messages)")  # fmt: skip

    def close(self, code: int, reason: str, *, await_reply: bool = True) -> None:
        """Close with `code` (once; later calls do nothing). Events stop at once.

        `await_reply`: complete the closing handshake (wait for the client's close frame). Off
        during server shutdown, when aiohttp no longer reads from any connection.
        """
        if self._close_task is not None or self.ws.closed:
            return
        self.closing = True
        self._stop_timers_and_subscriptions()
        self._close_task = asyncio.get_running_loop().create_task(self._close(code, reason, await_reply))

    async def _close(self, code: int, reason: str, await_reply: bool) -> None:
        completed = False
        reader = self._reader
        if await_reply and reader is not None and not reader.done():
            # With no read pending, aiohttp's close() waits for the client's close frame; with one
            # pending (shutdown), it closes the TCP connection right after sending its own.
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        try:
            # The queue is dropped (its client is too slow or going away); what the transport holds
            # still goes out before the close frame.
            self.outbox.stop()
            async with asyncio.timeout(self.config.close_timeout):
                await self.ws.close(code=code, message=protocol.close_reason(reason))
            completed = True
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            log.debug("closing handshake with %s ended early: %r", self.request.remote, exc)
        finally:
            # A client that does not read would keep the socket (and its unsent bytes) forever.
            if not completed:
                self.transport.abort()

    async def wait_closed(self) -> None:
        task = self._close_task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    def _stop_timers_and_subscriptions(self) -> None:
        for timer in (self._auth_deadline, self._expiry):
            if timer is not None:
                timer.cancel()
        self._auth_deadline = self._expiry = None
        for subscription in list(self.subscriptions.values()):
            self._detach(subscription)

    async def _finish(self) -> None:
        self.closing = True
        self._stop_timers_and_subscriptions()
        self.hub.subscribed.discard(self)
        if self._close_task is not None:
            await self.wait_closed()
        self.outbox.stop()


_AUTH_FIRST = 'authenticate first: the first message must be {"type":"auth","token":"…"}'
