"""Phone number normalisation for Indian-first lead data.

Rules (see /work/shared/docs/zoom-formats.md, "Indian phone numbers"):

* A 10-digit mobile starting 6-9, optionally preceded by ``+91``, ``91``, ``091``, ``0091`` or
  a single trunk ``0`` (and ``+91 (0)``), is a valid Indian mobile. Its key is ``"91"`` + the
  10 digits. We never "strip a leading 91" from a 10-digit number and never "take the last 10
  digits": ``9191919191`` is a real mobile and keys to ``919191919191``.
* ``+`` (or ``00``) followed by a country code other than 91 is international: the key is
  ``"+"`` + all digits (8-15 digits), never squeezed into 10 digits.
* Excel float artefacts (``9876543210.0``) are repaired; scientific notation
  (``9.87654321E9``) has lost digits and is flagged ``corrupt``, never guessed.
* Obvious placeholders (``9999999999``, ``9876543210``...) are flagged ``placeholder`` with no
  key, so they can never join two different people.

:func:`normalize_phone` is the scalar reference implementation; :func:`normalize_phones` is the
vectorised polars twin and must agree with it exactly (a hypothesis test checks this).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Final, NamedTuple

import polars as pl

__all__ = [
    "PhoneStatus",
    "Phone",
    "VALID",
    "INTERNATIONAL",
    "PLACEHOLDER",
    "CORRUPT",
    "INVALID",
    "MISSING",
    "PHONE_STATUSES",
    "PLAIN_MOBILE_PATTERN",
    "normalize_phone",
    "normalize_phones",
    "mask_phone",
    "mask_email",
]


class PhoneStatus:
    """Status values for a normalised phone (plain strings, stored as-is in tables)."""

    VALID: Final = "valid"  # Indian mobile; key = "91" + 10 digits
    INTERNATIONAL: Final = "international"  # key = "+" + digits
    PLACEHOLDER: Final = "placeholder"  # 9999999999 and friends; flagged, no key
    CORRUPT: Final = "corrupt"  # scientific notation etc.: digits were lost
    INVALID: Final = "invalid"  # anything else that is not blank
    MISSING: Final = "missing"  # None, blank, "--", "nan"


VALID: Final = PhoneStatus.VALID
INTERNATIONAL: Final = PhoneStatus.INTERNATIONAL
PLACEHOLDER: Final = PhoneStatus.PLACEHOLDER
CORRUPT: Final = PhoneStatus.CORRUPT
INVALID: Final = PhoneStatus.INVALID
MISSING: Final = PhoneStatus.MISSING
PHONE_STATUSES: Final = (VALID, INTERNATIONAL, PLACEHOLDER, CORRUPT, INVALID, MISSING)


class Phone(NamedTuple):
    """A normalised phone: ``key`` is the join key (None unless valid/international)."""

    key: str | None
    status: str


# --------------------------------------------------------------------------------------------
# Shared rule constants. The scalar and vectorised paths are both written from these, so keep
# every pattern ASCII-only and explicit ([0-9], never \d: Python's \d matches Unicode digits).
# --------------------------------------------------------------------------------------------

# Stripped from both ends: ASCII whitespace and control characters (NUL included), and quotes
# (a leading ' is how spreadsheets force a number to stay text).
_STRIP_CHARS: Final = "".join(chr(c) for c in range(0x21)) + "\x7f'\""
# Removed anywhere: whitespace/control characters, hyphens, dots, brackets.
_SEPARATORS: Final = [chr(c) for c in range(0x21)] + ["\x7f", "-", ".", "(", ")", "[", "]"]
# Whole cell (after stripping) that means "no value".
_MISSING_TOKENS: Final = frozenset({"", "-", "--", "---", "nan", "none", "null", "na", "n/a"})
# Excel scientific notation: the digits beyond the mantissa are gone -> corrupt.
_SCI_PATTERN: Final = r"[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+"
# Excel float rendering of an integer: 9876543210.0 / 9876543210.00
_FLOAT_PATTERN: Final = r"(\+?[0-9]+)\.0{1,2}"
_WELL_FORMED_PATTERN: Final = r"\+?[0-9]+"

_PLACEHOLDERS: Final = frozenset(
    {"9876543210", "1234567890", "0123456789"} | {str(d) * 10 for d in range(10)}
)
_MOBILE_FIRST: Final = frozenset("6789")
_INTL_MIN_DIGITS: Final = 8
_INTL_MAX_DIGITS: Final = 15

_SCI_RE: Final = re.compile(_SCI_PATTERN)
_FLOAT_RE: Final = re.compile(_FLOAT_PATTERN)
_SEP_RE: Final = re.compile("[" + re.escape("".join(_SEPARATORS)) + "]")
_WELL_FORMED_RE: Final = re.compile(_WELL_FORMED_PATTERN)


def _to_ascii(value: str) -> str:
    """Map a non-ASCII cell onto the ASCII alphabet the rules are written for.

    NFKC folds full-width digits/plus/brackets and NBSP; Unicode digits (Devanagari, Bengali,
    Arabic-Indic...) become ASCII digits via ``unicodedata.digit``; Unicode spaces become a
    space, dash punctuation and the minus sign become ``-``, invisible format characters
    (BOM, zero-width space, direction marks) are dropped. Anything else is kept and makes the
    value invalid.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", value):
        if ch < "\x80":
            out.append(ch)
            continue
        digit = unicodedata.digit(ch, None)
        if digit is not None:
            out.append(str(digit))
        elif ch.isspace():
            out.append(" ")
        elif ch == "\u2212" or unicodedata.category(ch) == "Pd":
            out.append("-")
        elif unicodedata.category(ch) == "Cf":
            continue
        else:
            out.append(ch)
    return "".join(out)


def _indian_candidate(digits: str, has_plus: bool) -> str | None:
    """The 10 subscriber digits if ``digits`` has exactly one accepted Indian prefix."""
    n = len(digits)
    if has_plus:
        if n == 12 and digits.startswith("91"):
            return digits[2:]
        if n == 13 and digits.startswith("910"):  # "+91 (0) 98765 43210"
            return digits[3:]
        return None
    if n == 10:
        return digits
    if n == 11 and digits.startswith("0"):
        return digits[1:]
    if n == 12 and digits.startswith("91"):
        return digits[2:]
    if n == 13 and digits.startswith("091"):
        return digits[3:]
    if n == 14 and digits.startswith("0091"):
        return digits[4:]
    return None


def normalize_phone(value: str | None) -> Phone:
    """Normalise one raw phone cell to ``Phone(key, status)`` (the reference implementation).

    >>> normalize_phone("(+91) 98765 43210")
    Phone(key='919876543210', status='valid')
    >>> normalize_phone("9.87654321E9")
    Phone(key=None, status='corrupt')
    """
    if value is None:
        return Phone(None, MISSING)
    text = value if value.isascii() else _to_ascii(value)
    text = text.strip(_STRIP_CHARS)
    if text.lower() in _MISSING_TOKENS:
        return Phone(None, MISSING)
    if _SCI_RE.fullmatch(text):
        return Phone(None, CORRUPT)
    float_match = _FLOAT_RE.fullmatch(text)
    if float_match:
        text = float_match.group(1)
    compact = _SEP_RE.sub("", text)
    if compact == "":
        return Phone(None, MISSING)
    if not _WELL_FORMED_RE.fullmatch(compact):
        return Phone(None, INVALID)
    has_plus = compact.startswith("+")
    digits = compact[1:] if has_plus else compact

    mobile = _indian_candidate(digits, has_plus)
    if mobile is not None:
        if mobile in _PLACEHOLDERS:
            return Phone(None, PLACEHOLDER)
        if mobile[0] in _MOBILE_FIRST:
            return Phone("91" + mobile, VALID)

    if has_plus:
        intl: str | None = digits
    elif digits.startswith("00"):
        intl = digits[2:]
    else:
        intl = None
    if (
        intl is not None
        and _INTL_MIN_DIGITS <= len(intl) <= _INTL_MAX_DIGITS
        and not intl.startswith(("0", "91"))
    ):
        return Phone("+" + intl, INTERNATIONAL)
    return Phone(None, INVALID)


# --------------------------------------------------------------------------------------------
# Vectorised twin
# --------------------------------------------------------------------------------------------


def _case_variants(token: str) -> set[str]:
    """Every upper/lower-case spelling of ``token`` (so ``is_in`` can replace ``lower()``)."""
    return {"".join(p) for p in itertools.product(*({c.lower(), c.upper()} for c in token))}


_MISSING_TOKEN_VARIANTS: Final = sorted(set().union(*(_case_variants(t) for t in _MISSING_TOKENS)))


def _normalize_ascii_frame(raw: pl.Series) -> pl.DataFrame:
    """Vectorised :func:`normalize_phone` for ASCII input: columns ``phone_key``, ``phone_status``.

    Intermediate results are named columns built stage by stage (one ``with_columns`` each)
    so no sub-expression is evaluated twice: writing the rules as nested expressions that
    reuse each other made the eager version ~50x slower (each reuse re-embeds the whole
    sub-tree). Regex *replacement* is avoided on the hot path (several times slower than a
    regex match or an Aho-Corasick ``replace_many``). One lazy plan, one ``collect``.
    """
    col = pl.col
    null_str = pl.lit(None, dtype=pl.String)
    digits_ = col("digits")
    n = col("n")
    plus = col("has_plus")
    return (
        pl.DataFrame({"raw": raw})
        .lazy()
        .with_columns(text=col("raw").str.strip_chars(_STRIP_CHARS))
        .with_columns(
            is_missing_token=col("text").is_in(_MISSING_TOKEN_VARIANTS).fill_null(True),
            is_sci=col("text").str.contains(f"^(?:{_SCI_PATTERN})$"),
            is_float=col("text").str.contains(f"^(?:{_FLOAT_PATTERN})$"),
        )
        .with_columns(
            compact=pl.when(col("is_float"))
            .then(col("text").str.strip_suffix(".00").str.strip_suffix(".0"))
            .otherwise(col("text").str.replace_many(_SEPARATORS, [""] * len(_SEPARATORS)))
        )
        .with_columns(
            well_formed=col("compact").str.contains(f"^(?:{_WELL_FORMED_PATTERN})$"),
            has_plus=col("compact").str.starts_with("+"),
            digits=col("compact").str.strip_prefix("+"),
        )
        .with_columns(n=digits_.str.len_bytes())
        .with_columns(
            # Exactly the prefixes accepted by _indian_candidate; each leaves 10 digits, so the
            # tail(10) below is guarded (never a blind "take the last 10 digits").
            is_candidate=pl.when(plus)
            .then(
                ((n == 12) & digits_.str.starts_with("91"))
                | ((n == 13) & digits_.str.starts_with("910"))
            )
            .otherwise(
                (n == 10)
                | ((n == 11) & digits_.str.starts_with("0"))
                | ((n == 12) & digits_.str.starts_with("91"))
                | ((n == 13) & digits_.str.starts_with("091"))
                | ((n == 14) & digits_.str.starts_with("0091"))
            ),
            intl=pl.when(plus)
            .then(digits_)
            .when(digits_.str.starts_with("00"))
            .then(digits_.str.slice(2))
            .otherwise(null_str),
        )
        .with_columns(
            mobile=pl.when(col("is_candidate")).then(digits_.str.tail(10)).otherwise(null_str)
        )
        .with_columns(
            is_placeholder=col("mobile").is_in(list(_PLACEHOLDERS)).fill_null(False),
            is_mobile=col("mobile").str.head(1).is_in(list(_MOBILE_FIRST)).fill_null(False),
            is_intl=(
                col("intl").str.len_bytes().is_between(_INTL_MIN_DIGITS, _INTL_MAX_DIGITS)
                & ~col("intl").str.starts_with("0")
                & ~col("intl").str.starts_with("91")
            ).fill_null(False),
        )
        .with_columns(
            phone_status=pl.when(col("is_missing_token"))
            .then(pl.lit(MISSING))
            .when(col("is_sci"))
            .then(pl.lit(CORRUPT))
            .when(col("compact") == "")
            .then(pl.lit(MISSING))
            .when(~col("well_formed"))
            .then(pl.lit(INVALID))
            .when(col("is_placeholder"))
            .then(pl.lit(PLACEHOLDER))
            .when(col("is_mobile"))
            .then(pl.lit(VALID))
            .when(col("is_intl"))
            .then(pl.lit(INTERNATIONAL))
            .otherwise(pl.lit(INVALID))
            .cast(pl.String)
        )
        .select(
            phone_key=pl.when(col("phone_status") == VALID)
            .then(pl.lit("91") + col("mobile"))
            .when(col("phone_status") == INTERNATIONAL)
            .then(pl.lit("+") + col("intl"))
            .otherwise(null_str)
            .cast(pl.String),
            phone_status=col("phone_status"),
        )
        .collect()
    )


# Most cells are a mobile with an accepted prefix, spaces and hyphens at most: once those are
# removed, one cheap match settles them (the general rules give the same answer; a hypothesis
# test checks that both paths agree with the scalar reference).
PLAIN_MOBILE_PATTERN: Final = r"^(?:\+91|91|0|091|0091)?[6-9][0-9]{9}$"


def normalize_phones(series: pl.Series) -> pl.DataFrame:
    """Vectorised :func:`normalize_phone`: one row per input, same order.

    Returns a DataFrame with ``phone_key`` (String, nullable) and ``phone_status`` (String).
    Plain mobiles (``98765 43210``, ``+91-9876543210``, ``09876543210``...) take a fast path; other
    ASCII rows are handled by polars expressions; only rows containing non-ASCII characters
    (Devanagari digits, NBSP, full-width forms...) go through the scalar function.
    """
    if series.dtype != pl.String:
        # Callers should read phones as strings; a numeric column has already lost the '+' and
        # maybe digits, but render it as text rather than fail.
        series = series.cast(pl.String)
    series = series.rename("raw")
    compact = series.str.replace_many([" ", "-"], ["", ""])
    plain = compact.str.contains(PLAIN_MOBILE_PATTERN).fill_null(False)
    if not plain.any():
        return _normalize_general(series)
    mobile = compact.str.tail(10)
    placeholder = mobile.is_in(list(_PLACEHOLDERS))
    fast = pl.DataFrame({"plain": plain, "mobile": mobile, "placeholder": placeholder}).select(
        phone_key=pl.when(pl.col("plain") & ~pl.col("placeholder")).then(pl.lit("91") + pl.col("mobile")),
        phone_status=pl.when(pl.col("placeholder")).then(pl.lit(PLACEHOLDER)).otherwise(pl.lit(VALID)),
    )
    rest = (~plain).arg_true()
    if rest.len() == 0:
        return fast
    general = _normalize_general(series.gather(rest))
    return pl.DataFrame({
        "phone_key": fast["phone_key"].scatter(rest, general["phone_key"]),
        "phone_status": fast["phone_status"].scatter(rest, general["phone_status"]),
    })


def _normalize_general(series: pl.Series) -> pl.DataFrame:
    df = _normalize_ascii_frame(series)
    non_ascii_idx = (series.str.len_bytes() != series.str.len_chars()).fill_null(False).arg_true()
    if non_ascii_idx.len() == 0:
        return df
    results = [normalize_phone(v) for v in series.gather(non_ascii_idx).to_list()]
    keys = df.get_column("phone_key").scatter(
        non_ascii_idx, pl.Series([r.key for r in results], dtype=pl.String)
    )
    statuses = df.get_column("phone_status").scatter(
        non_ascii_idx, pl.Series([r.status for r in results], dtype=pl.String)
    )
    return pl.DataFrame({"phone_key": keys, "phone_status": statuses})


# --------------------------------------------------------------------------------------------
# Masking for logs and metadata
# --------------------------------------------------------------------------------------------

_MIN_DIGITS_TO_SHOW_TAIL: Final = 6


def mask_phone(key_or_raw: str | None) -> str | None:
    """Mask a phone key or raw phone for logs: only the last 2 digits survive.

    ``"919876543210"`` -> ``"91********10"``, ``"+14155550123"`` -> ``"+1*********23"``.
    The leading ``91`` / ``+`` + first digit shown are the (non-personal) country-code part.
    Anything that does not normalise to a key is rendered as stars plus at most its last two
    digits (nothing else from the raw text leaks); blank input returns None.
    """
    if key_or_raw is None:
        return None
    phone = normalize_phone(key_or_raw)
    if phone.status == MISSING:
        return None
    key = phone.key
    if key is not None and phone.status == VALID:
        return "91" + "*" * 8 + key[-2:]
    if key is not None and phone.status == INTERNATIONAL:
        return key[:2] + "*" * (len(key) - 4) + key[-2:]
    digits = [
        str(d)
        for d in (unicodedata.digit(ch, None) for ch in key_or_raw)
        if d is not None
    ]
    if len(digits) < _MIN_DIGITS_TO_SHOW_TAIL:
        return "*" * max(len(digits), 3)
    return "*" * (len(digits) - 2) + "".join(digits[-2:])


def mask_email(email: str | None) -> str | None:
    """Mask an email for logs: ``"priya.sharma@gmail.com"`` -> ``"p***@g***.com"``.

    Keeps the first character of the local part, the first character of the domain and the
    top-level domain. Returns None for blank input and ``"***"`` for text without an ``@``.
    """
    if email is None:
        return None
    text = email.strip().lower()
    if not text:
        return None
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return "***"
    masked_local = local[0] + "***"
    name, dot, tld = domain.rpartition(".")
    if not dot or not name or not tld:
        return f"{masked_local}@{domain[0]}***"
    return f"{masked_local}@{name[0]}***.{tld}"
