"""Console passwords: argon2id (argon2-cffi's defaults, RFC 9106's second recommendation),
the first choice of OWASP's password storage guidance."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@cache
def _dummy() -> str:
    """A hash of nothing anyone can type, checked when the name is unknown, so that a wrong
    name takes as long as a wrong password and the timing does not tell which names exist.
    Made on first use: hashing takes a tenth of a second, too much for every CLI start."""
    return _hasher.hash("\x00 no such user \x00")


class WeakPassword(ValueError):
    """A password too short to keep."""


def hashed(password: str, *, minimum: int) -> str:
    """The stored form of a new password; WeakPassword if shorter than `minimum`."""
    if len(password) < minimum:
        raise WeakPassword(f"a password needs at least {minimum} characters")
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash (None: an unknown user, always False)."""
    try:
        _hasher.verify(stored or _dummy(), password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)
