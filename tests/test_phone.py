"""E.164 normalisation against the reference table (section 4)."""

from __future__ import annotations

import pytest

from smsgw.phone import InvalidNumber, mask, to_e164


@pytest.mark.parametrize("raw,region,expected", [
    ("0712345678", "KE", "+254712345678"),
    ("712345678", "KE", "+254712345678"),
    ("254712345678", "KE", "+254712345678"),
    ("+254 712 345 678", "KE", "+254712345678"),
    ("0712-345-678", "KE", "+254712345678"),
    ("+2540712345678", "KE", "+254712345678"),
    ("0110123456", "KE", "+254110123456"),
    ("0201234567", "KE", "+254201234567"),
    ("00254712345678", "KE", "+254712345678"),
    ("000254712345678", "KE", "+254712345678"),
    ("0241234567", "GH", "+233241234567"),
    ("0551234567", "GH", "+233551234567"),
    ("0201234567", "GH", "+233201234567"),
    ("771234567", "SN", "+221771234567"),
    ("338211234", "SN", "+221338211234"),
    ("08031234567", "NG", "+2348031234567"),
    ("8031234567", "NG", "+2348031234567"),
    ("07011234567", "NG", "+2347011234567"),
    ("09031234567", "NG", "+2349031234567"),
    ("+15005550006", "KE", "+15005550006"),
])
def test_reference_numbers_normalise(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw,region", [
    ("07123456789", "KE"), ("0771234567", "SN"), ("+447700900123", "KE"), ("abc", "KE"),
    ("", "KE"), ("whatsapp:+254712345678", "KE"), ("12", "KE"),
])
def test_invalid_numbers_are_refused(raw, region):
    with pytest.raises(InvalidNumber):
        to_e164(raw, region)


def test_mask_hides_the_middle_digits():
    assert mask("+254712345678") == "+254******678"
    assert "712345" not in mask("+254712345678")
    assert mask("12345") == "*****"


def test_numbers_are_checked_once_then_remembered_and_the_answer_stays_the_same():
    from handlers import phone

    phone._e164.cache_clear()
    for _ in range(3):
        assert to_e164("0712 345678", "KE") == "+254712345678"
        with pytest.raises(InvalidNumber, match="not a valid phone number"):
            to_e164("+254 1234", "KE")
        with pytest.raises(InvalidNumber, match="not a phone number"):
            to_e164("+", "KE")
    info = phone._e164.cache_info()
    assert info.misses == 3 and info.hits == 6  # libphonenumber ran once per number
