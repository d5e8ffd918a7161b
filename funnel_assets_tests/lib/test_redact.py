"""Secrets scrubbed by value, phones and emails masked wherever they sit in free text."""

from __future__ import annotations

import pytest

from funnel_assets.lib.redact import mask_personal_data, safe_text, scrub_secrets

TOKEN = "Zx9-crm/T0ken+value=4d9f"


def test_a_secret_is_scrubbed_in_every_form_a_url_or_message_quotes_it():
    text = (
        f"GET /dump?access={TOKEN} failed; retried /dump?access=Zx9-crm%2FT0ken%2Bvalue%3D4d9f "
        f"and /dump?access=Zx9-crm%2fT0ken%2bvalue%3d4d9f; server said: token {TOKEN} expired"
    )
    scrubbed = scrub_secrets(text, [TOKEN])
    assert "T0ken" not in scrubbed and "4d9f" not in scrubbed
    assert scrubbed.count("access=***") == 3 and "token *** expired" in scrubbed


def test_blank_and_tiny_secrets_do_not_mangle_messages():
    assert scrub_secrets("row 1 of 12", ["", None, "1", " "]) == "row 1 of 12"


@pytest.mark.parametrize(
    ("text", "full", "masked"),
    [
        ("ACCA_Webinar_Meta, +91 98471 23456, meera.krishnan.work@gmail.com",
         ["98471 23456", "9847123456", "meera.krishnan.work@gmail.com"], ["91********56", "m***@g***.com"]),
        ("lead_9847123456 (3)", ["9847123456"], ["lead_91********56"]),
        ("call me 098471-23456", ["98471-23456", "9847123456"], ["91********56"]),
        ("| 919847123456 | 4 |", ["919847123456"], ["91********56"]),
    ],
)
def test_phones_and_emails_in_free_text_are_masked(text, full, masked):
    out = mask_personal_data(text)
    assert not [f for f in full if f in out], out
    assert all(m in out for m in masked), out


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-01 .. 2025-03-31",
        "| 2025-03-03 | 12 |\n| 2025-03-04 | 9 |",
        "81234567890@2025-03-01, 91876543210@2025-03-02",  # Zoom session keys: webinar id @ date
        "source_sha256 0a98471234567ffe3c9d1b2e4f6a8c0e2d4f6a8b0c2e4f6a8b0c2d4e6f8a0b2c",
        "run 1f3e5a7c-1234-4567-8901-123456789012 had 1234 of 99999 rows (12.5%)",
        "sheet rows 12, 13, 14",
    ],
)
def test_dates_ids_hashes_and_counts_are_left_alone(text):
    assert mask_personal_data(text) == text


def test_safe_text_does_both():
    assert safe_text(f"?access={TOKEN} for 98471 23456", [TOKEN]) == "?access=*** for 91********56"
