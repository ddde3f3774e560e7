"""Who is calling: the `Principal` every Repository write and every delivered event is checked against.

With authentication off (the embedded default) every caller is `ANONYMOUS`, which holds all roles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
