"""Randomness and identifiers for the ed-tech simulation: all of it derived from the seed.

Every random stream is ``np.random.default_rng(np.random.SeedSequence([seed, *keys]))`` (or a
``random.Random`` seeded from the same sequence) where the keys are stable integers: a day
index, an entity kind, a purpose, a CRC-32 of a configured name. Nothing depends on global
random state, the current time, Python's salted ``hash`` or the order in which days are
generated.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import numpy as np

from .rng import rng_for, seed_sequence, stable_key

EPOCH = date(2000, 1, 1)
"""Day indexes count from here (people's global index = day index * 65536 + position)."""

PER_DAY = 1 << 16
"""At most this many people arrive on one day (scale ~150); the global index stays < 2**31."""

AUDIENCE_TZ = ZoneInfo("Asia/Kolkata")

# Entities
E_SPEND = 1
E_COHORT = 2
E_SESSION = 3
E_SALE = 4
E_STAFF = 5
E_FILE = 6
E_DAY = 7

# Purposes
P_VOLUME = 1
P_PEOPLE = 2
P_SHEET = 3
P_REGISTRATION = 4
P_ATTENDANCE = 5
P_ASSIGNMENT = 6
P_SALE = 7
P_SEGMENTS = 8
P_STYLE = 9
P_RENDER = 10
P_CRM_RENDER = 11
P_WALKINS = 12
P_NAMES = 13
P_PHONE_KEY = 14
P_MEETING = 15
P_JUNK = 16


def stable_hash(text: str) -> int:
    """A process-independent 32-bit hash of a configured name (CRC-32, as ``rng.stable_key``)."""
    return stable_key(text)


def day_index(day: date) -> int:
    return (day - EPOCH).days


def np_rng(seed: int, *keys: int) -> np.random.Generator:
    """The world's one seeding scheme (``rng.rng_for``), for integer keys."""
    return rng_for(seed, *keys)


def py_rng(seed: int, *keys: int) -> random.Random:
    state = seed_sequence(seed, *keys).generate_state(2, np.uint64)
    return random.Random(int(state[0]) << 64 | int(state[1]))


def check_seed(seed: int) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def day_span(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """Epoch seconds (UTC) of the local day's start and the next day's start."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(dt_timezone.utc)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(dt_timezone.utc)
    return int(start.timestamp()), int(end.timestamp())


def local_datetime(epoch: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(int(epoch), dt_timezone.utc).astimezone(tz)


def local_day(epoch: int, tz: ZoneInfo) -> date:
    return local_datetime(epoch, tz).date()


# ----------------------------------------------------------------------------- phone numbers

_DOMAIN = 4_000_000_000  # first digit 6..9 followed by 9 digits
_PLACEHOLDER_INTS = np.array([9876543210, 6789012345, 1234567890, 123456789] + [d * 1111111111 for d in range(10)], dtype=np.int64)


def _round(x: np.ndarray, key: int) -> np.ndarray:
    """A 16-bit mixing function (multiply / xorshift) of a 16-bit half."""
    v = (x.astype(np.uint64) * np.uint64(0x9E3779B1) + np.uint64(key)) & np.uint64(0xFFFFFFFF)
    v ^= v >> np.uint64(15)
    v = (v * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
    v ^= v >> np.uint64(13)
    return (v & np.uint64(0xFFFF)).astype(np.uint64)


def _feistel32(x: np.ndarray, keys: tuple[int, ...]) -> np.ndarray:
    left = (x >> np.uint64(16)) & np.uint64(0xFFFF)
    right = x & np.uint64(0xFFFF)
    for key in keys:
        left, right = right, left ^ _round(right, key)
    return (left << np.uint64(16)) | right


def mobile_numbers(seed: int, global_index: np.ndarray) -> np.ndarray:
    """Distinct 10-digit Indian mobiles (as int64) for distinct global indexes < 2**31.

    A keyed Feistel permutation of 32-bit integers with cycle walking onto [0, 4e9), shifted to
    start at 6000000000: a bijection, so two people never share a number. Numbers that a
    placeholder check would flag (9999999999, 9876543210, ...) are replaced by the number of the
    index + 2**31, which no person has.
    """
    keys = tuple(int(k) for k in np.random.SeedSequence([seed, P_PHONE_KEY]).generate_state(4, np.uint32))

    def permute(idx: np.ndarray) -> np.ndarray:
        out = _feistel32(idx.astype(np.uint64), keys)
        bad = out >= _DOMAIN
        while bad.any():
            out[bad] = _feistel32(out[bad], keys)
            bad = out >= _DOMAIN
        return out.astype(np.int64) + 6_000_000_000

    g = np.asarray(global_index, dtype=np.int64)
    phones = permute(g)
    suspicious = _looks_fake(phones)
    if suspicious.any():
        phones[suspicious] = permute(g[suspicious] + (1 << 31))
    return phones


_POPCOUNT = np.array([bin(i).count("1") for i in range(1024)], dtype=np.int64)


def _looks_fake(numbers: np.ndarray) -> np.ndarray:
    """Numbers a placeholder check would flag: the known fakes, or at most 3 distinct digits."""
    mask = np.zeros(len(numbers), dtype=np.int64)
    rest = numbers.copy()
    for _ in range(10):
        mask |= np.left_shift(1, rest % 10)
        rest //= 10
    return (_POPCOUNT[mask] <= 3) | (numbers[:, None] == _PLACEHOLDER_INTS[None, :]).any(axis=1)
