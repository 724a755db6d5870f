"""Analyst passwords as salted scrypt hashes; `python -m ui.passwords NAME` makes one.

A hash reads `scrypt.N.R.P.SALT.DIGEST` (salt and digest in unpadded URL-safe
base64): no `$`, `:` or `,`, so it sits unquoted in `.env`, in Compose's variable
interpolation and in WORKBENCH_ANALYSTS="alice:HASH,bob:HASH".
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import hashlib
import hmac
import re
import secrets
import sys
from dataclasses import dataclass

SCHEME = "scrypt"
COST = 2**14  # scrypt N: about 50 ms and 16 MB per check on our machines
BLOCK_SIZE = 8
PARALLELISM = 1
DIGEST_BYTES = 32
SALT_BYTES = 16
MIN_PASSWORD_CHARS = 8
# Sentinel's analyst-name rule without ":", which separates a name from its hash.
ANALYST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class PasswordFormatError(ValueError):
    """A stored hash or an analyst list that cannot be read, and why."""


@dataclass(frozen=True)
class StoredHash:
    cost: int
    block_size: int
    parallelism: int
    salt: bytes
    digest: bytes


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A new salted hash of the password, safe to keep in configuration."""
    if not password:
        raise ValueError("the password is empty")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, COST, BLOCK_SIZE, PARALLELISM)
    return ".".join(
        [SCHEME, str(COST), str(BLOCK_SIZE), str(PARALLELISM), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    """True when the password matches the stored hash (constant-time compare)."""
    parsed = parse_hash(stored)
    digest = _scrypt(
        password, parsed.salt, parsed.cost, parsed.block_size, parsed.parallelism
    )
    return hmac.compare_digest(digest, parsed.digest)


def parse_hash(stored: str) -> StoredHash:
    parts = stored.split(".")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise PasswordFormatError(
            "is not a hash made by `python -m ui.passwords` (scrypt.N.R.P.SALT.DIGEST)"
        )
    try:
        cost, block_size, parallelism = (int(part) for part in parts[1:4])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error) as error:
        raise PasswordFormatError(f"has an unreadable part ({error})") from None
    if cost < 2**10 or cost > 2**20 or cost & (cost - 1):
        raise PasswordFormatError(
            "has a cost N that is not a power of two in 2^10-2^20"
        )
    if not 1 <= block_size <= 32 or not 1 <= parallelism <= 16:
        raise PasswordFormatError("has scrypt parameters r or p out of range")
    if len(salt) < 8 or len(digest) < 16:
        raise PasswordFormatError("has a salt or digest that is too short")
    return StoredHash(cost, block_size, parallelism, salt, digest)


def parse_analysts(raw: str) -> dict[str, str]:
    """Read 'alice:HASH,bob:HASH'; an error names the entry at fault."""
    analysts: dict[str, str] = {}
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    for number, entry in enumerate(entries, start=1):
        name, sep, stored = entry.partition(":")
        name, stored = name.strip(), stored.strip()
        where = f"entry {number} ({name or 'no name'!r})"
        if not sep or not stored:
            raise PasswordFormatError(f"{where}: expected NAME:HASH")
        if not ANALYST_NAME.fullmatch(name):
            raise PasswordFormatError(
                f"{where}: a name is 1-64 letters, digits or . _ @ - "
                "and starts with a letter or digit"
            )
        if name in analysts:
            raise PasswordFormatError(f"{where}: {name} is listed twice")
        try:
            parse_hash(stored)
        except PasswordFormatError as error:
            raise PasswordFormatError(f"{where}: the hash {error}") from None
        analysts[name] = stored
    return analysts


def random_password() -> str:
    return secrets.token_urlsafe(12)


def _scrypt(
    password: str, salt: bytes, cost: int, block_size: int, parallelism: int
) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=cost,
        r=block_size,
        p=parallelism,
        maxmem=256 * cost * block_size + 2**20,
        dklen=DIGEST_BYTES,
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not URL-safe base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _read_password(generate: bool) -> str:
    if generate:
        return random_password()
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise ValueError("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ui.passwords",
        description="Print a WORKBENCH_ANALYSTS entry (NAME:HASH) for an analyst. "
        "The password is asked for on a terminal, or read as one line from stdin.",
    )
    parser.add_argument("name", help="the analyst's sign-in name, e.g. alice")
    parser.add_argument(
        "--generate",
        action="store_true",
        help="make a random password and print it once, with the entry",
    )
    args = parser.parse_args(argv)
    if not ANALYST_NAME.fullmatch(args.name):
        sys.stderr.write(
            "error: a name is 1-64 letters, digits or . _ @ - and starts with a "
            "letter or digit\n"
        )
        return 2
    try:
        password = _read_password(args.generate)
        if len(password) < MIN_PASSWORD_CHARS:
            raise ValueError(f"use at least {MIN_PASSWORD_CHARS} characters")
    except ValueError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    if args.generate:
        sys.stderr.write(f"password for {args.name}: {password}\n")
    sys.stdout.write(f"{args.name}:{hash_password(password)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
