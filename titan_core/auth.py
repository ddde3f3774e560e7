"""Who is calling: the `Principal` every Repository read and write and every delivered event is
checked against, its roles (reader < writer < admin) and its scopes (identifier patterns).

With authentication off (the embedded default) every caller is `ANONYMOUS`, which holds all roles.
The credentials that produce principals live in `titan_core.credentials`; the HTTP middleware that
applies these rules to every request lives in `titan_core.api.authorization`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from titan_core.errors import Forbidden

ROLE_READER = "reader"
ROLE_WRITER = "writer"
ROLE_ADMIN = "admin"
ALL_ROLES = frozenset({ROLE_READER, ROLE_WRITER, ROLE_ADMIN})

# Each role includes the ones below it: a writer reads, an admin writes and reads.
_GRANTED_BY = {
    ROLE_READER: frozenset({ROLE_READER, ROLE_WRITER, ROLE_ADMIN}),
    ROLE_WRITER: frozenset({ROLE_WRITER, ROLE_ADMIN}),
    ROLE_ADMIN: frozenset({ROLE_ADMIN}),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the anonymous one).

    `roles`: any of reader, writer, admin (each includes the ones below it; other names are kept
    for plugins but grant nothing here). `scopes`: identifier patterns (`*`, `?`, `[…]` as in shell
    globs) of the shells, submodels and concept descriptions the principal is limited to; empty
    means unrestricted. `expires_at`: when the credential stops being valid (Unix seconds), if it
    says so; long-lived connections (WebSocket) close then.
    """

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: tuple[str, ...] = ()
    expires_at: float | None = None

    def has_role(self, role: str) -> bool:
        granted_by = _GRANTED_BY.get(role)
        if granted_by is None:
            return role in self.roles
        return not granted_by.isdisjoint(self.roles)

    def may_access(self, identifier: str) -> bool:
        """Whether `identifier` (a shell, submodel or concept description id) is within the scopes."""
        return not self.scopes or any(_scope_matches(scope, identifier) for scope in self.scopes)


ANONYMOUS = Principal(subject="anonymous", roles=ALL_ROLES)
# The caller of a route the access check does not cover (a public route) with authentication on:
# if such a handler reads or writes twins anyway, it is refused rather than given every role.
UNAUTHENTICATED = Principal(subject="unauthenticated", roles=frozenset())


def may_read(principal: Principal, envelope: Mapping[str, Any]) -> bool:
    """Whether `principal` may see this event: a reader whose scopes (if any) cover the twin.

    Transports call this for every event they deliver, so a principal never receives an event of
    a twin it may not read. An element's event belongs to its submodel (`titanid`).
    """
    if not principal.has_role(ROLE_READER):
        return False
    if not principal.scopes:
        return True
    identifier = envelope.get("titanid")
    return isinstance(identifier, str) and principal.may_access(identifier)


def authorize_read(principal: Principal, identifier: str | None = None) -> None:
    """Raise `Forbidden` unless `principal` may read (the twin `identifier`, when given)."""
    _authorize(principal, ROLE_READER, identifier, "read")


def authorize_write(principal: Principal, identifier: str) -> None:
    """Raise `Forbidden` unless `principal` may change the twin `identifier`."""
    _authorize(principal, ROLE_WRITER, identifier, "change")


def readable(principal: Principal, identifiers: Iterable[str]) -> list[str]:
    """The identifiers of `identifiers` that `principal` may read, in order."""
    return [identifier for identifier in identifiers if principal.may_access(identifier)]


def _authorize(principal: Principal, role: str, identifier: str | None, verb: str) -> None:
    if not principal.has_role(role):
        raise Forbidden(
            f"{principal.subject!r} may not {verb} anything here: that needs the role {role!r}, "
            f"and it has {_listed(principal.roles)}"
        )
    if identifier is not None and not principal.may_access(identifier):
        raise Forbidden(
            f"{principal.subject!r} may not {verb} {identifier!r}: it is outside its scopes "
            f"({', '.join(principal.scopes)})"
        )


def _listed(roles: Iterable[str]) -> str:
    names = sorted(roles)
    return "the roles " + ", ".join(repr(name) for name in names) if names else "no role"


def _scope_matches(pattern: str, identifier: str) -> bool:
    # Shell-style wildcards (`https://plant.example/line1/*`); fnmatchcase never folds case.
    if pattern == identifier:
        return True
    # A wildcard never covers a dot segment: `line1/../line2` is line2 to anyone who resolves it.
    return not _DOT_SEGMENT.search(identifier) and fnmatch.fnmatchcase(identifier, pattern)


# A `.` or `..` path segment, also percent-encoded (`%2e%2E`), ended by `/`, `?`, `#` or the end.
_DOT_SEGMENT = re.compile(r"(?:^|[/\\])(?:\.|%2e){1,2}(?:[/\\?#]|$)", re.IGNORECASE)


# --- What a route needs: plugins mark their handlers; everything else follows the HTTP method ---

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])

# The attribute the authorization middleware reads on a route's handler: a role, or PUBLIC.
ACCESS_ATTRIBUTE = "titan_required_role"
PUBLIC = ""


def public(handler: HandlerT) -> HandlerT:
    """Mark a handler as open to everyone, even with authentication on.

    For routes that authenticate on their own (a WebSocket that takes its token in-band) or that
    must answer unauthenticated probes.
    """
    setattr(handler, ACCESS_ATTRIBUTE, PUBLIC)
    return handler


def requires_role(role: str) -> Callable[[HandlerT], HandlerT]:
    """Mark a handler as needing `role` whatever its HTTP method (e.g. `ROLE_ADMIN` for admin routes)."""
    if role not in ALL_ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(sorted(ALL_ROLES))}")

    def mark(handler: HandlerT) -> HandlerT:
        setattr(handler, ACCESS_ATTRIBUTE, role)
        return handler

    return mark
