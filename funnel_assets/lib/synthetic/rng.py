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
- ``uuid_strings``: uuid-shaped strings (version 4 layout) from 128 hashed bits, vectorised.
"""

from __future__ import annotations

import io
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


_HEX_PAIRS = np.array([int.from_bytes(f"{i:02x}".encode("ascii"), "little") for i in range(256)], dtype=np.uint16)


def uuid_strings(high: np.ndarray, low: np.ndarray) -> pl.Series:
    """uuid-shaped strings (``xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx``) from two uint64 arrays."""
    n = len(high)
    if n == 0:
        return pl.Series(values=[], dtype=pl.String)
    bits = np.empty((n, 2), dtype=np.uint64)
    bits[:, 0] = high
    bits[:, 1] = low
    raw = bits.view(np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4 layout
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = _HEX_PAIRS[raw].view(np.uint8)  # (n, 32) ascii
    out = np.empty((n, 37), dtype=np.uint8)
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    out[:, [8, 13, 18, 23]] = ord("-")
    out[:, 36] = ord("\n")
    # the CSV reader is the fastest way from a byte buffer to a polars String column
    frame = pl.read_csv(io.BytesIO(out.tobytes()), has_header=False, new_columns=["u"], schema={"u": pl.String})
    return frame["u"]


def fmt(template: str, *args) -> pl.Expr:
    """``pl.format`` with ``{}`` placeholders where every other brace is literal (JSON templates).

    polars 2 reads ``{name}`` as a column reference and needs literal braces doubled.
    """
    pieces = template.split("{}")
    escaped = "{}".join(p.replace("{", "{{").replace("}", "}}") for p in pieces)
    return pl.format(escaped, *args)
