"""Who is calling: the roles, the principal a bearer token names, and the principal of the call being served."""

from __future__ import annotations

import enum
from contextvars import ContextVar
from dataclasses import dataclass


class Role(enum.IntEnum):
    """What a principal may do; a higher role may do everything a lower one may."""

    READER = 1
    WRITER = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        """The role named `reader`, `writer` or `admin` (any case); ValueError names the bad value."""
        try:
            return cls[name.upper()]
        except KeyError:
            msg = f"role must be one of {', '.join(role.name.lower() for role in cls)}, got {name!r}"
            raise ValueError(msg) from None


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


# With authentication off (the default, for the credential-free local service) every caller is this principal.
ANONYMOUS = Principal("anonymous", Role.ADMIN)

# Set by the auth stage in the call's context, before any handler code; every authenticated call
# sets it afresh, so a handler never sees an earlier call's principal.
_caller: ContextVar[Principal] = ContextVar("chokepoint_caller", default=ANONYMOUS)


def current_principal() -> Principal:
    """The principal of the call being served (ANONYMOUS when authentication is off)."""
    return _caller.get()


def act_as(principal: Principal) -> None:
    """Make `principal` the caller of the call this thread is about to run."""
    _caller.set(principal)
