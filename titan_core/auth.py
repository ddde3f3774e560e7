"""Who is calling: the `Principal` every Repository write and every delivered event is checked against.

With authentication off (the embedded default) every caller is `ANONYMOUS`, which holds all roles.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ROLE_READER = "reader"
ROLE_WRITER = "writer"
ROLE_ADMIN = "admin"
ALL_ROLES = frozenset({ROLE_READER, ROLE_WRITER, ROLE_ADMIN})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the anonymous one).

    `scopes` are identifier patterns the principal is limited to; empty means unrestricted.
    """

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: tuple[str, ...] = ()

    def has_role(self, role: str) -> bool:
        return role in self.roles


ANONYMOUS = Principal(subject="anonymous", roles=ALL_ROLES)


def may_read(principal: Principal, envelope: Mapping[str, Any]) -> bool:
    """Whether `principal` may see this event: a reader whose scopes (if any) cover the twin.

    Transports call this for every event they deliver, so a principal never receives an event of
    a twin it may not read. Scope patterns are matched by the access-control module.
    """
    if not principal.has_role(ROLE_READER):
        return False
    if not principal.scopes:
        return True
    identifier = envelope.get("titanid")
    return isinstance(identifier, str) and any(_scope_matches(scope, identifier) for scope in principal.scopes)


def _scope_matches(pattern: str, identifier: str) -> bool:
    # Shell-style wildcards (`https://plant.example/line1/*`); fnmatchcase never folds case.
    return fnmatch.fnmatchcase(identifier, pattern)
