"""Deterministic seeding helpers for the synthetic worlds.

Every random draw in a simulation should come from a generator named by *what* it is for,
never from a shared stream whose position depends on what ran before: then any part (one
cohort, one day) can be regenerated on its own and gives the same numbers.

- ``rng_for(seed, *keys)``: a ``numpy.random.Generator`` from ``SeedSequence([seed, *keys])``.
  Keys may be ints, strings (hashed with ``zlib.crc32``, stable across processes, unlike
  ``hash()``), dates (their ordinal) or bools.
- ``hash64`` / ``hash_uniform``: vectorised counter-based hashing (splitmix64 finaliser) for
  draws that must be a pure function of an element's identity (e.g. "does regular visitor i
  come on day d"), without a generator per element.
- ``hash_uniforms``: several independent uniforms per element from one ``hash64``.
- ``uuid_strings``: uuid-shaped strings (version 4 layout) from 128 hashed bits, vectorised;
  ``hashed_uuids`` hashes the bits from an element's identity.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime

import numpy as np
import polars as pl

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def stable_key(key: object) -> int:
    """A non-negative integer for ``key`` that is the same in every process and platform."""
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, (int, np.integer)):
        value = int(key)
        return value if value >= 0 else (value & _MASK64)
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8"))
    if isinstance(key, datetime):
        return int(key.timestamp() * 1_000_000) & _MASK64
    if isinstance(key, date):
        return key.toordinal()
    if isinstance(key, bytes):
        return zlib.crc32(key)
    if isinstance(key, float):
        return zlib.crc32(repr(key).encode("ascii"))
    raise TypeError(f"no stable key for {type(key).__name__} {key!r}; use an int, str, date, float or bytes")


def seed_sequence(seed: int, *keys: object) -> np.random.SeedSequence:
    return np.random.SeedSequence([stable_key(seed), *(stable_key(k) for k in keys)])


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """An independent generator for (seed, *keys): same keys, same stream, in any process."""
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, *keys)))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def hash64(seed: int, *parts: object) -> np.ndarray:
    """A uint64 hash per element of the broadcast ``parts`` (ints, int arrays, or stable keys)."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray([stable_key(seed)], dtype=np.uint64) + _GOLDEN)
        for part in parts:
            if isinstance(part, np.ndarray):
                value = part.astype(np.int64, copy=False).view(np.uint64) if part.dtype.kind == "i" else part.astype(np.uint64, copy=False)
            else:
                value = np.asarray([stable_key(part)], dtype=np.uint64)
            h = _mix((h ^ value) * _GOLDEN + _GOLDEN)
    return h


def hash_uniform(seed: int, *parts: object) -> np.ndarray:
    """Uniform [0, 1) floats from ``hash64`` (53 bits)."""
    return (hash64(seed, *parts) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def hash_uniforms(seed: int, count: int, *parts: object) -> np.ndarray:
    """``count`` independent uniform [0, 1) rows (shape ``(count, n)``) per element of ``hash64(seed, *parts)``.

    For attributes that must be a pure function of an element's identity (a session's time of
    day, score, source, ...), computed only for the elements a caller needs.
    """
    h = hash64(seed, *parts)
    out = np.empty((count, len(h)), dtype=np.float64)
    with np.errstate(over="ignore"):
        for j in range(count):
            bits = _mix(h + np.uint64(j + 1) * _GOLDEN) >> np.uint64(11)
            np.multiply(bits, 1.0 / (1 << 53), out=out[j])
    return out


# four hex digits (as ASCII, in memory order) for each big-endian 16-bit value
_HEX_QUADS = np.array([int.from_bytes(f"{i >> 8:02x}{i & 0xFF:02x}".encode("ascii"), "little") for i in range(1 << 16)],
                      dtype=np.uint32)
_DASH = np.uint32(ord("-"))


def uuid_strings(high: np.ndarray, low: np.ndarray) -> pl.Series:
    """uuid-shaped strings (``xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx``) from two uint64 arrays.

    The 128 bits are written most significant first (``high`` then ``low``), with the version-4
    and RFC 4122 variant bits set, like ``str(uuid.UUID(int=high << 64 | low))``.
    """
    n = len(high)
    if n == 0:
        return pl.Series(values=[], dtype=pl.String)
    with np.errstate(over="ignore"):
        high = (np.asarray(high, dtype=np.uint64) & np.uint64(~0xF000 & _MASK64)) | np.uint64(0x4000)
        low = (np.asarray(low, dtype=np.uint64) & np.uint64(0x3FFF_FFFF_FFFF_FFFF)) | np.uint64(0x8000_0000_0000_0000)
    groups = np.empty((8, n), dtype=np.uint16)  # the 16-bit groups, most significant first
    for j in range(4):
        shift = np.uint64(48 - 16 * j)
        groups[j] = high >> shift
        groups[4 + j] = low >> shift
    quads = _HEX_QUADS[groups]  # (8, n): 4 hex digits each
    # 36 characters = nine 4-byte words: 8 hex, '-', 4, '-', 4, '-', 4, '-', 12 (little-endian byte order)
    words = np.empty((9, n), dtype=np.uint32)
    words[0:2] = quads[0:2]
    words[2] = _DASH | (quads[2] << np.uint32(8))
    words[3] = (quads[2] >> np.uint32(24)) | (_DASH << np.uint32(8)) | (quads[3] << np.uint32(16))
    words[4] = (quads[3] >> np.uint32(16)) | (_DASH << np.uint32(16)) | (quads[4] << np.uint32(24))
    words[5] = (quads[4] >> np.uint32(8)) | (_DASH << np.uint32(24))
    words[6:9] = quads[5:8]
    rows = np.ascontiguousarray(words.T)  # (n, 9): one string of 36 bytes a row
    # fixed-width bytes -> a polars Binary column -> String (all ASCII)
    return pl.Series(rows.view("S36").ravel()).cast(pl.String)


def hashed_uuids(seed: int, *parts: object) -> pl.Series:
    """``uuid_strings`` of 128 bits hashed from ``hash64(seed, *parts)``: a deterministic uuid per element."""
    high = hash64(seed, *parts)
    with np.errstate(over="ignore"):
        low = _mix(high ^ _M2)
    return uuid_strings(high, low)


def fmt(template: str, *args) -> pl.Expr:
    """``pl.format`` with ``{}`` placeholders where every other brace is literal (JSON templates).

    polars 2 reads ``{name}`` as a column reference and needs literal braces doubled.
    """
    pieces = template.split("{}")
    escaped = "{}".join(p.replace("{", "{{").replace("}", "}}") for p in pieces)
    return pl.format(escaped, *args)
