"""Text clean-up for names, cities, emails and UTM tokens.

Each vectorised polars expression builder (``*_expr``) has a scalar twin with the same name
minus the suffix; the twins are the readable specification and a hypothesis test checks that
both agree. All character classes are spelled out explicitly (no ``\\s``/``\\w``) because
Python's ``re`` and polars' Rust regex engine disagree on what those shorthands match.
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

__all__ = [
    "proper_case_expr",
    "proper_case",
    "normalize_email_expr",
    "normalize_email",
    "normalize_emails",
    "email_is_valid_expr",
    "email_is_valid",
    "clean_token_expr",
    "clean_token",
    "header_key",
    "markdown_literal",
    "markdown_html_tags",
    "strip_invisible",
]

# Unicode White_Space (what Rust's \s matches; Python's \s additionally matches \x1c-\x1f).
_WS_CLASS_BODY: Final = r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_WS_CHARS: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_WS_RUN: Final = f"[{_WS_CLASS_BODY}]+"
# Control characters that are not whitespace (NUL, \x1c-\x1f, DEL, C1 controls) and invisible
# format characters that sneak in from copy-paste (zero-width space, word joiner, BOM).
_JUNK_CLASS: Final = r"[\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F\u200B\u2060\uFEFF]"

# proper_case: a new capitalised segment starts after one of these characters.
_SEGMENT_BREAKS: Final = (" ", "-", ".", "(")
_APOSTROPHES: Final = "'\u2019"

# Pragmatic email check: one @, non-empty local part, dotted domain, TLD of 2+ characters,
# no whitespace/control characters or characters that indicate two addresses pasted together.
_EMAIL_BAD: Final = r"\x00-\x20\x7F" + _WS_CLASS_BODY + r"@,;:<>()\[\]\\\""
_EMAIL_BODY: Final = rf"[^{_EMAIL_BAD}]+@(?:[^{_EMAIL_BAD}.]+\.)+[^{_EMAIL_BAD}.]{{2,}}"

_JUNK_RE: Final = re.compile(_JUNK_CLASS)
_WS_RUN_RE: Final = re.compile(_WS_RUN)
_SEGMENT_SPLIT_RE: Final = re.compile(
    "(?<=[" + "".join(re.escape(b) for b in _SEGMENT_BREAKS) + "])"
)
_EMAIL_RE: Final = re.compile(_EMAIL_BODY)


def _squash_expr(expr: pl.Expr) -> pl.Expr:
    """Drop control/invisible characters, collapse whitespace runs to one space, strip."""
    return (
        expr.str.replace_all(_JUNK_CLASS, "")
        .str.replace_all(_WS_RUN, " ")
        .str.strip_chars(" ")
    )


def _squash(value: str) -> str:
    return _WS_RUN_RE.sub(" ", _JUNK_RE.sub("", value)).strip(" ")


def _empty_to_null(expr: pl.Expr) -> pl.Expr:
    # Not when(expr != "").then(expr): polars does not de-duplicate the two copies of ``expr``
    # and would run the whole cleaning pipeline twice.
    return expr.replace("", None)


# ------------------------------------------------------------------------------------------
# Names and cities
# ------------------------------------------------------------------------------------------


def _capitalize_segment_expr(seg: pl.Expr) -> pl.Expr:
    first_upper = seg.str.head(1).str.to_uppercase()
    elided = seg.str.contains(rf"^\p{{L}}[{_APOSTROPHES}]\p{{L}}")  # o'brien, d'souza
    return (
        pl.when(elided)
        .then(
            first_upper
            + seg.str.slice(1, 1)
            + seg.str.slice(2, 1).str.to_uppercase()
            + seg.str.slice(3)
        )
        .otherwise(first_upper + seg.str.slice(1))
    )


def proper_case_expr(expr: pl.Expr) -> pl.Expr:
    """Properly case a person's name or a city name.

    Removes NUL and other control/invisible characters, collapses whitespace, strips,
    lower-cases, then capitalises the first letter after a space, hyphen, period or ``(``
    and after a one-letter elision (``o'brien`` -> ``O'Brien``, ``d'souza`` -> ``D'Souza``;
    ``donald's`` stays ``Donald's``). Empty results become null.
    "PRIYA  sharma" -> "Priya Sharma", "NEW DELHI" -> "New Delhi".
    """
    lowered = _squash_expr(expr).str.to_lowercase()
    # Split after each break character. A NUL sentinel (removed by _squash_expr, so it cannot
    # occur in the text) plus a literal split: regex split (literal=False) is new in polars 2
    # and pyproject still allows polars 1.x; Aho-Corasick replace_many is also faster.
    marked = lowered.str.replace_many(_SEGMENT_BREAKS, [b + "\x00" for b in _SEGMENT_BREAKS])
    cased = (
        marked.str.split("\x00")
        .list.eval(_capitalize_segment_expr(pl.element()))
        .list.join("")
    )
    return _empty_to_null(cased)


def _capitalize_segment(seg: str) -> str:
    if len(seg) >= 3 and seg[0].isalpha() and seg[1] in _APOSTROPHES and seg[2].isalpha():
        return seg[0].upper() + seg[1] + seg[2].upper() + seg[3:]
    return seg[:1].upper() + seg[1:]


def proper_case(value: str | None) -> str | None:
    """Scalar twin of :func:`proper_case_expr`."""
    if value is None:
        return None
    lowered = _squash(value).lower()
    cased = "".join(_capitalize_segment(s) for s in _SEGMENT_SPLIT_RE.split(lowered))
    return cased or None


# ------------------------------------------------------------------------------------------
# Emails
# ------------------------------------------------------------------------------------------


def normalize_email_expr(expr: pl.Expr) -> pl.Expr:
    """Normalise an email: drop NULs/control/zero-width characters, strip whitespace (incl.
    non-breaking spaces), lower-case. Empty results become null. Validity is not checked
    here: see :func:`email_is_valid_expr`."""
    cleaned = (
        expr.str.replace_all(_JUNK_CLASS, "").str.strip_chars(_WS_CHARS).str.to_lowercase()
    )
    return _empty_to_null(cleaned)


def normalize_email(value: str | None) -> str | None:
    """Scalar twin of :func:`normalize_email_expr`."""
    if value is None:
        return None
    return _JUNK_RE.sub("", value).strip(_WS_CHARS).lower() or None


def normalize_emails(series: pl.Series) -> pl.Series:
    """:func:`normalize_email_expr` on a Series, with a fast path: a cell of printable ASCII
    without spaces only needs lower-casing; the rest get the full clean-up."""
    simple = series.str.contains(r"^[\x21-\x7E]+$").fill_null(False)
    out = series.str.to_lowercase()
    rest = (~simple).arg_true()
    if rest.len():
        cleaned = pl.select(normalize_email_expr(pl.lit(series.gather(rest)))).to_series()
        out = out.scatter(rest, cleaned)
    return out


def email_is_valid_expr(expr: pl.Expr) -> pl.Expr:
    """Pragmatic email validity (Boolean, never null): exactly one ``@``, non-empty local part,
    a domain with at least one dot and a TLD of 2+ characters, no whitespace, no control
    characters, no ``,;:<>()[]\\"``. Apply it to a normalised email; null -> False."""
    return expr.str.contains(f"^(?:{_EMAIL_BODY})$").fill_null(False)


def email_is_valid(value: str | None) -> bool:
    """Scalar twin of :func:`email_is_valid_expr`."""
    # fullmatch, not search with "$": Python's "$" also matches before a trailing "\\n".
    return value is not None and _EMAIL_RE.fullmatch(value) is not None


# ------------------------------------------------------------------------------------------
# Tokens (UTM values, sources)
# ------------------------------------------------------------------------------------------


def clean_token_expr(expr: pl.Expr) -> pl.Expr:
    """Normalise a categorical token such as a UTM value: drop control characters, collapse
    whitespace, strip, lower-case. Empty results become null. ``" Google  ADS "`` ->
    ``"google ads"``."""
    return _empty_to_null(_squash_expr(expr).str.to_lowercase())


def clean_token(value: str | None) -> str | None:
    """Scalar twin of :func:`clean_token_expr`."""
    if value is None:
        return None
    return _squash(value).lower() or None


def header_key(header: str) -> str:
    """A spreadsheet column header as compared when matching columns: lower-cased, without spaces,
    underscores, hyphens or dots ("utm_Source", "UTM source" and "utmSource" are one column)."""
    return re.sub(r"[\s_\-.]+", "", header.strip().lower())


# What CommonMark reads as raw HTML (an opening or closing tag, a comment, a declaration or a
# processing instruction): Dagster's UI renders descriptions as markdown and its sanitizer drops
# raw HTML, so "91 + <digits>" would show as "91 + ".
_HTML_START: Final = re.compile(r"(?<!\\)<(?=[A-Za-z/!?])")
_CODE_SPAN: Final = re.compile(r"(`+)(?:.+?)\1", re.DOTALL)


def _outside_code_spans(text: str, change) -> str:
    out, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(change(text[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(change(text[last:]))
    return "".join(out)


def markdown_literal(text: str | None) -> str | None:
    """``text`` as markdown that renders as exactly that text in Dagster's UI: ``<`` and ``>``
    outside code spans are backslash-escaped (``\\<digits\\>``), so ``<digits>`` or
    ``<webinar id>`` are shown instead of being read as HTML tags and dropped. Code spans
    (```...```) already render literally and are left alone; text escaped before stays as it is."""
    if text is None:
        return None
    return _outside_code_spans(text, lambda part: re.sub(r"(?<!\\)([<>])", r"\\\1", part))


def markdown_html_tags(text: str | None) -> list[str]:
    """The places where markdown would read ``text`` as raw HTML (and Dagster's UI would drop
    it): each unescaped ``<`` outside code spans that starts a tag, up to its ``>``."""
    if not text:
        return []
    found: list[str] = []

    def collect(part: str) -> str:
        for m in _HTML_START.finditer(part):
            close = part.find(">", m.start())
            found.append(part[m.start():close + 1] if 0 <= close - m.start() <= 60 else part[m.start():m.start() + 24])
        return part

    _outside_code_spans(text, collect)
    return found


def strip_invisible(value: str) -> str:
    """A hand-edited cell as its author sees it: zero-width spaces, word joiners, stray BOMs and
    control characters removed, non-breaking and other odd spaces turned into plain spaces,
    surrounding whitespace stripped. Inner runs of spaces are kept as they are (``"a  b"``).
    Zero-width (non-)joiners are kept: Indic scripts need them."""
    cleaned = _JUNK_RE.sub("", value)
    if not cleaned.isascii():
        cleaned = "".join(" " if c in _WS_CHARS else c for c in cleaned)
    return cleaned.strip()
