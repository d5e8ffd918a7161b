"""Tests for funnel_assets.lib.phones (scalar reference, vectorised twin, masking)."""

from __future__ import annotations

import random
import re
import time

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnel_assets.lib.phones import (
    CORRUPT,
    INTERNATIONAL,
    INVALID,
    MISSING,
    PHONE_STATUSES,
    PLACEHOLDER,
    VALID,
    Phone,
    PhoneStatus,
    mask_email,
    mask_phone,
    normalize_phone,
    normalize_phones,
)

DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")

CASES: list[tuple[str | None, str | None, str]] = [
    # Excel artefacts (zoom-formats.md quirk 2)
    ("9812345678.0", "919812345678", VALID),
    ("9812345678.00", "919812345678", VALID),
    ("919812345678.0", "919812345678", VALID),
    ("9.87654321E9", None, CORRUPT),
    ("9.876543210e+09", None, CORRUPT),
    ("9,87654321E+09", None, CORRUPT),
    ("9812345678.5", None, INVALID),
    # never strip a leading 91 from a 10-digit mobile, never take the last 10 digits
    ("9191919191", "919191919191", VALID),
    ("919191919191", "919191919191", VALID),
    ("+91 91919 19191", "919191919191", VALID),
    ("91 98123 4567", None, INVALID),  # 11 digits starting 91: not a mobile with prefix
    ("98123456789", None, INVALID),  # 11 digits: never "take the last 10"
    # accepted Indian prefixes and separators
    ("9812345678", "919812345678", VALID),
    ("+919812345678", "919812345678", VALID),
    ("+91-98123-45678", "919812345678", VALID),
    ("(+91) 98123 45678", "919812345678", VALID),
    ("+91 (0) 98123 45678", "919812345678", VALID),
    ("919812345678", "919812345678", VALID),
    ("0919812345678", "919812345678", VALID),
    ("0091-98123-45678", "919812345678", VALID),
    ("0091 98123 45678", "919812345678", VALID),
    ("09812345678", "919812345678", VALID),
    ("098123 45678", "919812345678", VALID),
    ("98.123.456.78", "919812345678", VALID),
    ("[98123] 45678", "919812345678", VALID),
    ("  98123\t45678 \x00", "919812345678", VALID),
    ("'9812345678", "919812345678", VALID),
    ("6000000001", "916000000001", VALID),
    ("7012345678", "917012345678", VALID),
    # Unicode digits and spaces
    ("०९८१२३४५६७८", "919812345678", VALID),
    ("+९१ ९८१२३ ४५६७८", "919812345678", VALID),
    ("৯৮১২৩৪৫৬৭৮", "919812345678", VALID),  # Bengali
    ("９８１２３４５６７８", "919812345678", VALID),  # full-width
    ("98123\u00a045678", "919812345678", VALID),  # NBSP
    ("98123\u201345678", "919812345678", VALID),  # en dash
    ("\ufeff9812345678", "919812345678", VALID),  # BOM
    # international
    ("+1 415 555 0123", "+14155550123", INTERNATIONAL),
    ("+1 (415) 555-0123", "+14155550123", INTERNATIONAL),
    ("+44 20 7946 0958", "+442079460958", INTERNATIONAL),
    ("0044 20 7946 0958", "+442079460958", INTERNATIONAL),
    ("+971 50 123 4567", "+971501234567", INTERNATIONAL),
    ("+1 234", None, INVALID),  # too short
    ("+1 2345 6789 0123 4567", None, INVALID),  # 16 digits: too long
    ("+0 123 456 789", None, INVALID),  # no country code starts with 0
    ("+91 11 2345 6789", None, INVALID),  # Indian landline: not a mobile
    ("+91 98123 4567", None, INVALID),
    # placeholders: flagged, no key
    ("9999999999", None, PLACEHOLDER),
    ("9876543210", None, PLACEHOLDER),
    ("1234567890", None, PLACEHOLDER),
    ("0123456789", None, PLACEHOLDER),
    ("0000000000", None, PLACEHOLDER),
    ("7777777777", None, PLACEHOLDER),
    ("+91 99999 99999", None, PLACEHOLDER),
    ("9876543210.0", None, PLACEHOLDER),
    ("०९८७६५४३२१०", None, PLACEHOLDER),
    # missing
    (None, None, MISSING),
    ("", None, MISSING),
    ("   ", None, MISSING),
    ("--", None, MISSING),
    ("nan", None, MISSING),
    ("NaN", None, MISSING),
    ("None", None, MISSING),
    ("N/A", None, MISSING),
    ("( )", None, MISSING),
    ("\x00", None, MISSING),
    # invalid
    ("5812345678", None, INVALID),
    ("12345", None, INVALID),
    ("abc", None, INVALID),
    ("98123abc45", None, INVALID),
    ("9812345678 / 9812345679", None, INVALID),
    ("98123+45678", None, INVALID),
    ("priya@example.com", None, INVALID),
]


@pytest.mark.parametrize(("raw", "key", "status"), CASES)
def test_normalize_phone_cases(raw: str | None, key: str | None, status: str) -> None:
    assert normalize_phone(raw) == Phone(key, status)


def test_normalize_phones_matches_cases_in_order() -> None:
    raws = [raw for raw, _, _ in CASES]
    out = normalize_phones(pl.Series("phone", raws, dtype=pl.String))
    assert out.columns == ["phone_key", "phone_status"]
    assert out.schema == pl.Schema({"phone_key": pl.String, "phone_status": pl.String})
    assert out.rows() == [(key, status) for _, key, status in CASES]


def test_normalize_phones_edge_shapes() -> None:
    empty = normalize_phones(pl.Series([], dtype=pl.String))
    assert empty.height == 0
    assert empty.schema == pl.Schema({"phone_key": pl.String, "phone_status": pl.String})

    all_null = normalize_phones(pl.Series([None, None], dtype=pl.String))
    assert all_null.rows() == [(None, MISSING), (None, MISSING)]

    only_unicode = normalize_phones(pl.Series(["९८१२३४५६७८"]))
    assert only_unicode.rows() == [("919812345678", VALID)]

    # A column that was (wrongly) read as numbers still normalises.
    numeric = normalize_phones(pl.Series([9812345678, None], dtype=pl.Int64))
    assert numeric.rows() == [("919812345678", VALID), (None, MISSING)]


def test_status_constants() -> None:
    assert PhoneStatus.VALID == "valid"
    assert set(PHONE_STATUSES) == {
        "valid",
        "international",
        "placeholder",
        "corrupt",
        "invalid",
        "missing",
    }
    assert all(type(s) is str for s in PHONE_STATUSES)


# --------------------------------------------------------------------------------------------
# Property test: vectorised == scalar on messy phone strings
# --------------------------------------------------------------------------------------------

_SEPARATORS = ["", "", "", " ", "  ", "-", ".", "(", ")", "[", "]", "\t", "\x00", "\u00a0", "/"]
_PREFIXES = [
    "", "", "+91", "+91 ", "91", "0", "091", "0091", "0091-", "(+91) ", "+91 (0) ", "+1 ",
    "+44", "00", "0044 ", "+", "++91", "91+", "'",
]
_SUFFIXES = ["", "", "", ".0", ".00", ".000", ".5", "e9", "E+09", " ", "\x00", "x", " ext 12"]


@st.composite
def messy_phone(draw: st.DrawFn) -> str | None:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.none() | st.sampled_from(["", " ", "--", "nan", "NAN", "n/a", "None"]))
    if kind == 1:
        return draw(st.text(max_size=20))  # anything at all, incl. non-ASCII
    if kind == 2:
        return draw(st.text(alphabet=st.characters(codec="ascii"), max_size=20))
    if kind == 3:  # scientific notation with random mantissa/exponent
        mantissa = draw(st.from_regex(r"[0-9]{1,2}(\.[0-9]{1,10})?", fullmatch=True))
        exponent = draw(st.from_regex(r"[eE][+-]?[0-9]{1,2}", fullmatch=True))
        return mantissa + exponent
    core = draw(
        st.one_of(
            st.integers(6_000_000_000, 9_999_999_999).map(str),
            st.integers(0, 9_999_999_999).map(lambda n: f"{n:010d}"),
            st.sampled_from(["9191919191", "9876543210", "1234567890", "0123456789", "9999999999"]),
            st.text(alphabet="0123456789", max_size=16),
        )
    )
    # split the digits into groups joined by random separators
    cuts = sorted(draw(st.lists(st.integers(0, len(core)), max_size=4)))
    pieces, last = [], 0
    for cut in cuts:
        pieces.append(core[last:cut])
        last = cut
    pieces.append(core[last:])
    body = "".join(p + draw(st.sampled_from(_SEPARATORS)) for p in pieces[:-1]) + pieces[-1]
    value = draw(st.sampled_from(_PREFIXES)) + body + draw(st.sampled_from(_SUFFIXES))
    if draw(st.booleans()) and draw(st.booleans()):
        value = value.translate(DEVANAGARI)
    if draw(st.integers(0, 9)) == 0:
        value = value.replace("5", "S")  # a letter where a digit should be
    pad = draw(st.sampled_from(["", " ", "  ", "\t", "\x00"]))
    return pad + value + pad


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messy_phone(), min_size=1, max_size=40))
def test_vectorised_agrees_with_scalar(values: list[str | None]) -> None:
    expected = [tuple(normalize_phone(v)) for v in values]
    got = normalize_phones(pl.Series(values, dtype=pl.String)).rows()
    assert got == expected


def _random_messy_phones(n: int, seed: int) -> list[str | None]:
    """A cheap, broad corpus (hypothesis draws are too slow for tens of thousands)."""
    rng = random.Random(seed)
    alphabet = "0123456789" * 4 + "+-. ()[]eE\t\x00'/x" + "०९৯"
    out: list[str | None] = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.02:
            out.append(None)
        elif kind < 0.5:
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 18))))
        else:
            core = rng.choice(
                [
                    str(rng.randint(0, 10 ** rng.randint(1, 15))),
                    str(rng.randint(6_000_000_000, 9_999_999_999)),
                    rng.choice(["9999999999", "9876543210", "0000000000", "9191919191"]),
                ]
            )
            prefix = rng.choice(_PREFIXES)
            suffix = rng.choice(_SUFFIXES)
            if rng.random() < 0.3:
                cut = rng.randint(0, len(core))
                core = core[:cut] + rng.choice(_SEPARATORS) + core[cut:]
            value = prefix + core + suffix
            if rng.random() < 0.1:
                value = value.translate(DEVANAGARI)
            out.append(value)
    return out


def test_vectorised_agrees_with_scalar_on_random_corpus() -> None:
    values = _random_messy_phones(30_000, seed=20260821)
    expected = [tuple(normalize_phone(v)) for v in values]
    got = normalize_phones(pl.Series(values, dtype=pl.String)).rows()
    mismatches = [(v, g, e) for v, g, e in zip(values, got, expected, strict=True) if g != e]
    assert mismatches == []
    # the corpus really exercises every status
    assert {status for _, status in expected} == set(PHONE_STATUSES)


@settings(max_examples=100, deadline=None)
@given(messy_phone())
def test_scalar_invariants(value: str | None) -> None:
    key, status = normalize_phone(value)
    assert status in PHONE_STATUSES
    if status == VALID:
        assert key is not None and re.fullmatch(r"91[6-9][0-9]{9}", key)
    elif status == INTERNATIONAL:
        assert key is not None and re.fullmatch(r"\+[1-9][0-9]{7,14}", key)
        assert not key.startswith("+91")
    else:
        assert key is None
    # normalising a key is idempotent
    if key is not None:
        assert normalize_phone(key) == (key, status)


def test_vectorised_speed_smoke() -> None:
    """Generous bound (the target is >= 1M/s on one core); guards against accidental
    per-row Python or exponential expression blow-ups."""
    n = 100_000
    base = ["9812345678", "+91 98123 45678", "9812345678.0", "", "+1 415 555 0123"]
    series = pl.Series(base * (n // len(base)))
    normalize_phones(series.head(1000))  # warm-up
    start = time.perf_counter()
    out = normalize_phones(series)
    elapsed = time.perf_counter() - start
    assert out.height == n
    assert elapsed < 2.0, f"{n} phones took {elapsed:.2f}s"


# --------------------------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("919812345678", "91********78"),
        ("9812345678", "91********78"),
        ("+91 98123 45678", "91********78"),
        ("९८१२३४५६७८", "91********78"),
        ("+14155550123", "+1********23"),
        ("+1 415 555 0123", "+1********23"),
        ("9999999999", "********99"),
        ("12345", "*****"),
        ("abc", "***"),
        (None, None),
        ("", None),
        ("--", None),
    ],
)
def test_mask_phone(raw: str | None, masked: str | None) -> None:
    assert mask_phone(raw) == masked


@settings(max_examples=100, deadline=None)
@given(messy_phone())
def test_mask_phone_reveals_at_most_last_two_digits(value: str | None) -> None:
    masked = mask_phone(value)
    if masked is None:
        return
    key, status = normalize_phone(value)
    if status == VALID:
        assert masked.startswith("91")
        masked = masked[2:]
    elif status == INTERNATIONAL:
        assert masked.startswith("+")
        masked = masked[2:]  # "+" and the first country-code digit
    shown = re.sub(r"[^0-9]", "", masked)
    assert len(shown) <= 2
    assert set(masked[: len(masked) - 2]) <= {"*"}
    if key is not None:
        assert shown == key[-2:]


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("priya.sharma@gmail.com", "p***@g***.com"),
        ("  Priya@Gmail.COM ", "p***@g***.com"),
        ("x@mail.example.co.in", "x***@m***.in"),
        ("a@localhost", "a***@l***"),
        ("not-an-email", "***"),
        ("@example.com", "***"),
        ("", None),
        (None, None),
    ],
)
def test_mask_email(email: str | None, masked: str | None) -> None:
    assert mask_email(email) == masked
