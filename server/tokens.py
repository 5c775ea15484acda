"""The bearer tokens file: principals with a role and the SHA-256 of their token (never the token itself).

    [[principal]]
    name = "ci-loader"
    role = "writer"            # reader | writer | admin
    sha256 = "9f86d081..."     # hex SHA-256 of the token's UTF-8 bytes

`python -m server.tokens add NAME ROLE --file tokens.toml` mints a token, appends its principal and prints the
token once; only its hash is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import re
import secrets
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.core.errors import InvalidArgumentError
from server.principals import Principal, Role

TOKEN_PREFIX = "cpt_"  # noqa: S105 (a prefix, not a secret) makes a leaked token easy to recognise (secret scanners, logs)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_FIELDS = {"name", "role", "sha256"}


@dataclass(frozen=True)
class TokenBook:
    """The known principals, by the digest of their token."""

    entries: tuple[tuple[bytes, Principal], ...]

    def authenticate(self, token: str) -> Principal | None:
        """The principal whose token this is, or None. Compares digests in constant time, over every entry."""
        digest = token_digest(token)
        found = None
        for known, principal in self.entries:
            if hmac.compare_digest(digest, known):
                found = principal
        return found

    @property
    def principals(self) -> tuple[Principal, ...]:
        return tuple(principal for _, principal in self.entries)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def mint_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def load_tokens(path: Path) -> TokenBook:
    """Read and check a tokens file; InvalidArgumentError names the file, the entry and the field."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        msg = f"auth_tokens: cannot read tokens file {str(path)!r}: {error}"
        raise InvalidArgumentError(msg) from error
    extra = set(document) - {"principal"}
    if extra:
        msg = f"auth_tokens: {path}: unknown top-level keys {sorted(extra)}; expected [[principal]] tables"
        raise InvalidArgumentError(msg)
    entries = document.get("principal", [])
    if not isinstance(entries, list):
        msg = f"auth_tokens: {path}: 'principal' must be an array of tables ([[principal]])"
        raise InvalidArgumentError(msg)
    book: list[tuple[bytes, Principal]] = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        digest, principal = _entry(entry, f"{path}: principal[{index}]")
        if principal.name in names:
            msg = f"auth_tokens: {path}: principal[{index}].name: {principal.name!r} appears twice"
            raise InvalidArgumentError(msg)
        if any(hmac.compare_digest(digest, known) for known, _ in book):
            msg = f"auth_tokens: {path}: principal[{index}].sha256: the same token hash appears twice"
            raise InvalidArgumentError(msg)
        names.add(principal.name)
        book.append((digest, principal))
    return TokenBook(tuple(book))


def _entry(entry: Any, where: str) -> tuple[bytes, Principal]:
    if not isinstance(entry, dict) or set(entry) != _FIELDS:
        keys = sorted(entry) if isinstance(entry, dict) else entry
        msg = f"auth_tokens: {where}: must have exactly the keys name, role, sha256, got {keys!r}"
        raise InvalidArgumentError(msg)
    name, role, digest = entry["name"], entry["role"], entry["sha256"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        msg = f"auth_tokens: {where}.name: must be 1-64 of letters, digits and ._@- (not first), got {name!r}"
        raise InvalidArgumentError(msg)
    try:
        parsed_role = Role.parse(str(role))
    except ValueError as error:
        msg = f"auth_tokens: {where}.role: {error}"
        raise InvalidArgumentError(msg) from None
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        msg = f"auth_tokens: {where}.sha256: must be 64 lower-case hex digits (the token's SHA-256), got {digest!r}"
        raise InvalidArgumentError(msg)
    return bytes.fromhex(digest), Principal(name, parsed_role)


def add_principal(path: Path, name: str, role: Role) -> str:
    """Mint a token for a new principal, append the principal to the file (created if missing); the token."""
    existing = load_tokens(path).principals if path.exists() else ()
    if not _NAME.fullmatch(name):
        msg = f"name: must be 1-64 of letters, digits and ._@- (not first), got {name!r}"
        raise InvalidArgumentError(msg)
    if any(principal.name == name for principal in existing):
        msg = f"name: {name!r} is already in {path}"
        raise InvalidArgumentError(msg)
    token = mint_token()
    header = "" if path.exists() else "# Chokepoint bearer tokens: only their SHA-256 is kept (docs/security.md)\n"
    entry = f'\n[[principal]]\nname = "{name}"\nrole = "{role.name.lower()}"\nsha256 = "{token_digest(token).hex()}"\n'
    with path.open("a", encoding="utf-8") as file:
        file.write(header + entry)
    return token


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.tokens", description="Manage Chokepoint bearer tokens.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="mint a token for a new principal; prints the token once")
    add.add_argument("name")
    add.add_argument("role", choices=[role.name.lower() for role in Role])
    add.add_argument("--file", type=Path, required=True, help="the tokens file (created if missing)")
    args = parser.parse_args(argv)
    try:
        token = add_principal(args.file, args.name, Role.parse(args.role))
    except InvalidArgumentError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"added {args.name} ({args.role}) to {args.file}; the token is shown only now:", file=sys.stderr)
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
