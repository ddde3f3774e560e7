"""What web pages in a user's browser may do: which `Host` names the server answers (against DNS
rebinding) and which `Origin`s may send changes or open the WebSocket (against cross-site requests).

Non-browser clients (curl, devices, services) send no `Origin` and are never affected by the origin
rule; the `Host` rule applies to everyone, and by default only while authentication is off (with it
on, a page on another site has no credential to send: Titan sets no cookies).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from titan_core.api.middleware import error_response
from titan_core.errors import BadRequest, Forbidden
from titan_core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
STATE_CHANGING_METHODS = frozenset({hdrs.METH_POST, hdrs.METH_PUT, hdrs.METH_PATCH, hdrs.METH_DELETE})
ANY = "*"


@dataclass(frozen=True)
class BrowserPolicy:
    """The effective rules. `hosts`: host names (lower case, no port, IPv6 without brackets) the
    server answers, None for any; `ip_literals`: whether any IP address is accepted as Host too;
    `origins`: origins (scheme://host[:port]) of other sites allowed to send changes."""

    hosts: frozenset[str] | None
    ip_literals: bool
    origins: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> BrowserPolicy:
        """The rules the settings give; `SettingsError` for entries that are no host or origin."""
        origins = frozenset(_origin_entry(entry) for entry in (*settings.allowed_origins,
                                                                *settings.cors_allowed_origins))  # fmt: skip
        configured = tuple(_host_entry(entry) for entry in settings.allowed_hosts)
        if ANY in configured:
            return cls(None, True, origins)
        if configured:
            return cls(frozenset(configured), False, origins)
        if settings.auth_enabled:
            if settings.auth_anonymous_roles:
                log.warning("authentication is on with anonymous roles (%s) but allowed_hosts is empty: a "
                            "web page can reach this server through DNS rebinding with those roles; list "
                            "the server's names in allowed_hosts",
                            ", ".join(settings.auth_anonymous_roles))  # fmt: skip
            return cls(None, True, origins)
        # Authentication off: the loopback names; bound beyond loopback (insecure_no_auth), also any
        # IP address, since a DNS-rebinding page always reaches the server under a DNS name.
        bound = _host_entry(settings.host)
        loopback = _is_loopback(bound)
        names = frozenset(LOOPBACK_NAMES) | ({bound} if not _is_ip(bound) and bound != "" else set())
        return cls(names, not loopback, origins)

    def host_allowed(self, host: str) -> bool:
        """Whether the server answers for the `Host` header value `host` (port ignored)."""
        if self.hosts is None:
            return True
        name = _host_name(host)
        return name in self.hosts or (self.ip_literals and _is_ip(name))

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        """Whether a page of `origin` may send changes to (or open the WebSocket of) this server,
        reached as `host`: it is listed, or it is this server itself (same scheme-less host and
        port as the `Host` header, which `host_allowed` has already checked)."""
        normalised = origin.strip().rstrip("/").lower()
        if ANY in self.origins or normalised in self.origins:
            return True
        parts = urlsplit(normalised)
        return host is not None and parts.scheme in ("http", "https") and parts.netloc == host.strip().lower()

    def accepted_hosts(self) -> str:
        """The accepted Host names, for error messages."""
        if self.hosts is None:
            return "any"
        names = ", ".join(sorted(self.hosts))
        return names + (" and IP addresses" if self.ip_literals else "")


BROWSER_POLICY: web.AppKey[BrowserPolicy] = web.AppKey("titan.browser_policy", BrowserPolicy)


def install_browser_guard(app: web.Application, settings: Settings) -> Middleware:
    """Check the settings, keep the policy on `app` (the WebSocket plugin asks it about origins)
    and return the middleware: 400 for a Host the server does not answer, 403 for a change sent by
    a page of an origin that is not allowed."""
    policy = app[BROWSER_POLICY] = BrowserPolicy.from_settings(settings)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get(hdrs.HOST)
        # A request without Host (HTTP/1.0) comes from no browser: browsers always send it.
        if host is not None and not policy.host_allowed(host):
            return error_response(BadRequest(
                f"this server does not answer for the host {_shown(host)}: it accepts "
                f"{policy.accepted_hosts()} (setting allowed_hosts)"
            ))  # fmt: skip
        origin = request.headers.get(hdrs.ORIGIN)
        if (
            origin is not None
            and request.method in STATE_CHANGING_METHODS
            and not policy.origin_allowed(origin, host)
        ):
            return error_response(Forbidden(
                f"a page of the origin {_shown(origin)} may not change anything here: list it in "
                "allowed_origins (or cors_allowed_origins) if it should"
            ))  # fmt: skip
        return await handler(request)

    return guard


def _shown(value: str) -> str:
    return repr(value[:200])


def _host_name(host: str) -> str:
    """`Host` header value without its port, lower case, IPv6 without brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def _host_entry(entry: str) -> str:
    name = entry.strip().lower()
    if name == ANY:
        return ANY
    if "/" in name or " " in name:
        raise SettingsError(
            f"setting 'allowed_hosts': {entry!r} is not a host name; give names like titan.example or "
            "192.0.2.7, without scheme or path ('*' for any)"
        )
    return _host_name(name) if name.startswith("[") or name.count(":") == 1 else name


def _origin_entry(entry: str) -> str:
    origin = entry.strip().rstrip("/").lower()
    if origin != ANY and not (origin.startswith(("http://", "https://")) and urlsplit(origin).path == ""):
        raise SettingsError(
            f"setting 'allowed_origins' (or 'cors_allowed_origins'): {entry!r} is not an origin like "
            "https://dashboard.example:8443 ('*' for any)"
        )
    return origin


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
