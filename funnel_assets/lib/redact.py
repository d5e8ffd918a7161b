"""Keep secrets and personal data out of logs, messages and Dagster metadata.

Two kinds of text leave the pipeline for people to read: log lines and error messages, and the
metadata shown in the UI. Neither may carry a token, a full phone number or an email address.

* `scrub_secrets` removes known secret values (an access token) *by value*, in every form a URL
  or an exception message may quote it (plain, percent-encoded, ``+`` for spaces), whatever the
  query parameter or header that carried it was called.
* `mask_personal_data` masks email addresses and phone-number-looking digit runs anywhere in free
  text (a phone typed into a UTM column ends up in a list of "unmapped sources"):
  ``"fb, 98471 23456, a.b@gmail.com"`` -> ``"fb, 91********56, a***@g***.com"``. Dates, counts
  and hashes are left alone.
* `safe_text` does both.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

from funnel_assets.lib.phones import mask_email, mask_phone

__all__ = ["REDACTED", "mask_personal_data", "safe_text", "scrub_secrets", "secret_forms"]

REDACTED = "***"
MIN_SECRET_CHARS = 4
"""Shorter "secrets" are not scrubbed (replacing every ``1`` or ``abc`` would mangle messages)."""

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# A run of digits with the separators people type in phone numbers; the digit count decides.
# A word character right before or after means it is part of a word, an id or a hash; an ``@``
# after it is a Zoom session key (``<webinar id>@<date>``), not a phone.
_PHONE_LIKE = re.compile(r"(?<![\w.:])\+?\(?\d[\d\s\-().]{6,}\d(?![\w:@])")
# An Indian mobile glued to a word (``lead_9847123456``, ``call9847123456``): ten digits starting
# 6-9 (optionally after 91), not inside a longer number or a hexadecimal hash.
_GLUED_MOBILE = re.compile(r"(?<![0-9A-Fa-f+])(?:\+?91[\s-]?)?[6-9]\d{9}(?![0-9A-Fa-f@])")
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 10, 15
_DATE_LIKE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}$")


def secret_forms(secret: str) -> list[str]:
    """The ways ``secret`` can appear in a URL or a message: as is, percent-encoded (upper and
    lower case hex), and form-encoded (``+`` for spaces); longest first."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret, safe="")}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in list(forms)}
    return sorted((f for f in forms if len(f) >= MIN_SECRET_CHARS), key=len, reverse=True)


def scrub_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every known secret value (in each of its `secret_forms`) replaced by ``***``."""
    for secret in sorted({s.strip() for s in secrets if s and len(s.strip()) >= MIN_SECRET_CHARS}, key=len, reverse=True):
        for form in secret_forms(secret):
            text = text.replace(form, REDACTED)
    return text


def _mask_phone_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    stripped = text.strip()
    if not (_MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS) or _DATE_LIKE.match(stripped):
        return text
    masked = mask_phone(stripped) or REDACTED
    # keep surrounding whitespace the pattern may have swallowed
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{masked}{trail}"


def mask_personal_data(text: str) -> str:
    """Mask email addresses and phone-number-looking digit runs in free text.

    ``"lead 98765 43210 (priya@gmail.com) failed"`` -> ``"lead 91********10 (p***@g***.com) failed"``.
    Dates and short numbers (counts, ids) are left alone; a 10-15 digit number is masked even
    when it is not a phone (better an over-masked count than a leaked number).
    """
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)) or REDACTED, text)
    text = _PHONE_LIKE.sub(_mask_phone_match, text)
    return _GLUED_MOBILE.sub(lambda m: mask_phone(m.group(0)) or REDACTED, text)


def safe_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without the known secrets and with personal data masked."""
    return mask_personal_data(scrub_secrets(text, secrets))
