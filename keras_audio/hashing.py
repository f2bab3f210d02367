"""SHA-256 digests of files and of JSON descriptions: how weights, published files and settings are pinned."""

from __future__ import annotations

import hashlib
import json
import os

_BLOCK = 1 << 20  # read files in 1 MiB blocks: a large checkpoint or clip never sits in memory whole


def file_sha256(path: str | os.PathLike) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def description_digest(description, length: int = 16) -> str:
    """The first `length` hex digits of the SHA-256 of `description` as canonical JSON (keys sorted)."""
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:length]
