"""Tests for funnel_assets.lib.text (vectorised expressions and their scalar twins)."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel_assets.lib.text import (
    clean_token,
    clean_token_expr,
    email_is_valid,
    email_is_valid_expr,
    normalize_email,
    normalize_email_expr,
    normalize_emails,
    proper_case,
    proper_case_expr,
    strip_invisible,
)


def _apply(expr_fn, values: list[str | None]) -> list:
    df = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return df.select(out=expr_fn(pl.col("v"))).get_column("out").to_list()


PROPER_CASES = [
    ("PRIYA  sharma", "Priya Sharma"),
    ("priya sharma", "Priya Sharma"),
    ("  priya   SHARMA  ", "Priya Sharma"),
    ("o'brien", "O'Brien"),
    ("O'BRIEN", "O'Brien"),
    ("d'souza", "D'Souza"),
    ("anita d’souza", "Anita D’Souza"),
    ("mc donald's", "Mc Donald's"),
    ("NEW DELHI", "New Delhi"),
    ("navi mumbai", "Navi Mumbai"),
    ("mary-jane watson", "Mary-Jane Watson"),
    ("a.k. sharma", "A.K. Sharma"),
    ("vikram (vicky) singh", "Vikram (Vicky) Singh"),
    ("ÉLODIE éclair", "Élodie Éclair"),
    ("प्रिया शर्मा", "प्रिया शर्मा"),
    ("pri\x00ya sharma", "Priya Sharma"),
    ("\x00priya\x00", "Priya"),
    ("priya\tsharma\r\n", "Priya Sharma"),
    ("priya\u00a0sharma", "Priya Sharma"),
    ("\ufeffpriya\u200b", "Priya"),
    ("1st cross road", "1st Cross Road"),
    ("", None),
    ("   ", None),
    ("\x00", None),
    (None, None),
]


@pytest.mark.parametrize(("raw", "expected"), PROPER_CASES)
def test_proper_case_scalar(raw: str | None, expected: str | None) -> None:
    assert proper_case(raw) == expected


def test_proper_case_expr() -> None:
    raws = [r for r, _ in PROPER_CASES]
    assert _apply(proper_case_expr, raws) == [e for _, e in PROPER_CASES]


def test_proper_case_expr_dtype_and_nulls() -> None:
    df = pl.DataFrame({"v": [None, None]}, schema={"v": pl.String})
    out = df.select(proper_case_expr(pl.col("v")))
    assert out.dtypes == [pl.String]
    assert out.to_series().to_list() == [None, None]


EMAIL_CASES = [
    ("Priya.Sharma@Gmail.COM", "priya.sharma@gmail.com", True),
    ("  priya@gmail.com\u00a0", "priya@gmail.com", True),
    ("\x00priya@gmail.com\x00", "priya@gmail.com", True),
    ("\ufeffpriya@gmail.com", "priya@gmail.com", True),
    ("x.y+tag@mail.example.co.in", "x.y+tag@mail.example.co.in", True),
    ("priya@gmail", "priya@gmail", False),
    ("priya sharma@gmail.com", "priya sharma@gmail.com", False),
    ("priya@@gmail.com", "priya@@gmail.com", False),
    ("@gmail.com", "@gmail.com", False),
    ("priya@.com", "priya@.com", False),
    ("priya@gmail..com", "priya@gmail..com", False),
    ("priya@gmail.c", "priya@gmail.c", False),
    ("a@b.com,c@d.com", "a@b.com,c@d.com", False),
    ("--", "--", False),
    ("   ", None, False),
    ("", None, False),
    (None, None, False),
]


@pytest.mark.parametrize(("raw", "normalized", "valid"), EMAIL_CASES)
def test_email_scalar(raw: str | None, normalized: str | None, valid: bool) -> None:
    assert normalize_email(raw) == normalized
    assert email_is_valid(normalized) is valid


def test_email_exprs() -> None:
    raws = [r for r, _, _ in EMAIL_CASES]
    df = pl.DataFrame({"v": raws}, schema={"v": pl.String})
    out = df.select(email=normalize_email_expr(pl.col("v"))).with_columns(
        valid=email_is_valid_expr(pl.col("email"))
    )
    assert out.schema == pl.Schema({"email": pl.String, "valid": pl.Boolean})
    assert out.rows() == [(n, v) for _, n, v in EMAIL_CASES]


def test_normalize_emails_fast_path_matches_the_expression() -> None:
    raws = [r for r, _, _ in EMAIL_CASES] + ["", "PLAIN@EXAMPLE.COM", "a b@x.in"]
    series = pl.Series(raws, dtype=pl.String)
    assert normalize_emails(series).to_list() == _apply(normalize_email_expr, raws)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12), st.from_regex(r"[A-Za-z0-9.]{1,6}@[A-Za-z]{1,5}\.[a-z]{2,3}", fullmatch=True)), max_size=20))
def test_normalize_emails_agrees_with_the_expression_on_anything(raws: list[str | None]) -> None:
    assert normalize_emails(pl.Series(raws, dtype=pl.String)).to_list() == _apply(normalize_email_expr, raws)


def test_email_validity_is_strict_about_trailing_newline() -> None:
    # Python's "$" would accept this; the Rust engine and the scalar twin must not.
    assert email_is_valid("a@b.com\n") is False
    assert _apply(email_is_valid_expr, ["a@b.com\n"]) == [False]


TOKEN_CASES = [
    (" Google  ADS ", "google ads"),
    ("FB\tAds", "fb ads"),
    ("Instagram", "instagram"),
    ("summer_sale-2025", "summer_sale-2025"),
    ("\x00email\x00", "email"),
    ("", None),
    ("  ", None),
    (None, None),
]


@pytest.mark.parametrize(("raw", "expected"), TOKEN_CASES)
def test_clean_token_scalar(raw: str | None, expected: str | None) -> None:
    assert clean_token(raw) == expected


def test_clean_token_expr() -> None:
    assert _apply(clean_token_expr, [r for r, _ in TOKEN_CASES]) == [e for _, e in TOKEN_CASES]


# Alphabet for agreement tests: letters in several scripts, apostrophes, segment breaks,
# whitespace of every kind, control characters, invisible characters, email punctuation.
_ALPHABET = st.sampled_from(
    list("abcxyzABCXYZ éÉßİıΣσςदि्") + list("'’-.()@+_,;0123456789")
    + [" ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u00a0", "\u2009",
       "\u3000", "\x00", "\x07", "\x7f", "\x9f", "\u200b", "\ufeff"]
)
_TEXT = st.lists(_ALPHABET, max_size=12).map("".join) | st.none()


@settings(max_examples=40, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=40))
def test_exprs_agree_with_scalar_twins(values: list[str | None]) -> None:
    df = pl.DataFrame({"v": values}, schema={"v": pl.String})
    out = df.select(
        proper=proper_case_expr(pl.col("v")),
        email=normalize_email_expr(pl.col("v")),
        valid_raw=email_is_valid_expr(pl.col("v")),
        token=clean_token_expr(pl.col("v")),
    )
    assert out.get_column("proper").to_list() == [proper_case(v) for v in values]
    assert out.get_column("email").to_list() == [normalize_email(v) for v in values]
    assert out.get_column("valid_raw").to_list() == [email_is_valid(v) for v in values]
    assert out.get_column("token").to_list() == [clean_token(v) for v in values]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("91 + 10-digit mobile (or +<digits> abroad)", r"91 + 10-digit mobile (or +\<digits\> abroad)"),
        ("Zoom: <webinar id>@<session date>", r"Zoom: \<webinar id\>@\<session date\>"),
        ("filed under `processed/<session date>/`, else <b>", r"filed under `processed/<session date>/`, else \<b\>"),
        (r"escaped before: \<digits\>", r"escaped before: \<digits\>"),
        ("no brackets: 91 + 10 digits", "no brackets: 91 + 10 digits"),
    ],
)
def test_markdown_literal_keeps_angle_bracketed_words_visible(text: str, shown: str) -> None:
    """Dagster's UI renders descriptions as markdown and drops raw HTML: "<digits>" would vanish."""
    from funnel_assets.lib.text import markdown_html_tags, markdown_literal

    assert markdown_literal(text) == shown
    assert markdown_html_tags(markdown_literal(text)) == []
    assert markdown_literal(None) is None


def test_markdown_html_tags_finds_what_the_ui_would_drop() -> None:
    from funnel_assets.lib.text import markdown_html_tags

    assert markdown_html_tags("91 + <digits>") == ["<digits>"]
    assert markdown_html_tags("else email:<email>; else row:</x> <!-- c -->") == ["<email>", "</x>", "<!-- c -->"]
    assert markdown_html_tags("a `<b>` code span, 3 < 5, a \\<c\\>") == []


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("acca_webinar_meta\u200b", "acca_webinar_meta"),
        ("\ufeffsource", "source"),
        ("ACCA\u00a0Webinar\u2060", "ACCA Webinar"),
        ("\u00a0funnel\u202f", "funnel"),
        ("ACCA  Webinar", "ACCA  Webinar"),  # inner spaces as written
        ("\u0915\u094d\u200d\u0937", "\u0915\u094d\u200d\u0937"),  # ZWJ in Devanagari kept
        ("a\x00b\x1f", "ab"),
    ],
)
def test_strip_invisible(raw, clean):
    assert strip_invisible(raw) == clean
