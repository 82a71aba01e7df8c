"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Verifying against this hash when the account does not exist makes an unknown email cost the same time as a wrong
# password, so response times do not reveal which emails are registered.
_DUMMY_HASH = _hasher.hash("croupier-no-such-account")


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow (tens of ms): off the event loop, so other requests keep flowing.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; always spends the time of one verification."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
