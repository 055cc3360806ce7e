"""Keyed signatures over chain positions (HMAC-SHA256 from the standard library).

With `audit.signing.key` set, every update of the chain head and every periodic checkpoint
carries `HMAC(key, "<kind>:<seq>:<hash>")`. Someone who can write to the database but does
not hold the key can then no longer rewrite the chain and recompute every hash unnoticed:
`greenroom audit-log verify` checks the signatures with the same key.
"""

from __future__ import annotations

import hashlib
import hmac

MIN_KEY_LENGTH = 32


class Signer:
    def __init__(self, key: str) -> None:
        self._key = key.encode()
        # Names the key without revealing it, so verify can say "signed with another key".
        self.key_id = hashlib.sha256(b"greenroom-audit-key-id\n" + self._key).hexdigest()[:16]

    def sign(self, kind: str, seq: int, chain_hash: str) -> str:
        return hmac.new(self._key, f"{kind}:{seq}:{chain_hash}".encode(), hashlib.sha256).hexdigest()

    def verify(self, kind: str, seq: int, chain_hash: str, mac: str | None) -> bool:
        return mac is not None and hmac.compare_digest(self.sign(kind, seq, chain_hash), mac)
