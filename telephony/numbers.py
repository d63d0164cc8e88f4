"""Phone numbers in one normal form (E.164), so one customer is one customer however the number was
written: ``013800138000``, ``+86 138 0013 8000`` and ``13800138000`` are all ``+8613800138000``.

Parsing uses ``phonenumbers`` (Google's libphonenumber metadata) with the centre's default region
(``CN``) for numbers written without a country code.  An internal extension (``1001``), a queue
number or anything else that is not a valid telephone number has no normal form: it is nobody's
customer, and :func:`e164` says why instead of inventing one.
"""
from __future__ import annotations

import phonenumbers

__all__ = ["DEFAULT_REGION", "NotAPhoneNumber", "e164", "e164_or_none"]

DEFAULT_REGION = "CN"


class NotAPhoneNumber(ValueError):
    """The text is not a valid telephone number; the message says what is wrong with it."""


def e164(number: str, region: str = DEFAULT_REGION) -> str:
    """``number`` in E.164 (``+8613800138000``); raises :class:`NotAPhoneNumber` with the reason."""
    text = (number or "").strip()
    if not text:
        raise NotAPhoneNumber("no number given")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise NotAPhoneNumber(f"{text!r} is not a phone number: {_REASONS.get(exc.error_type, exc._msg)}") from None
    if not phonenumbers.is_valid_number(parsed):
        why = _POSSIBILITY.get(phonenumbers.is_possible_number_with_reason(parsed), "no such number exists")
        raise NotAPhoneNumber(f"{text!r} is not a valid phone number ({why})")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def e164_or_none(number: str | None, region: str = DEFAULT_REGION) -> str | None:
    """The normal form, or None for what is not a phone number (an extension, an anonymous caller)."""
    if number is None:
        return None
    try:
        return e164(number, region)
    except NotAPhoneNumber:
        return None


_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "it has no digits to dial",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}
_POSSIBILITY = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length for its area",
}
