"""Personal data rules: phone numbers are masked wherever people who should not see them may look
(logs, alerts, the demo page)."""
from __future__ import annotations


def mask_number(number: str | None) -> str | None:
    """``13800138000`` → ``138****8000``: enough to tell calls apart, not enough to call back.

    Short numbers (extensions, up to 6 characters) are not personal and stay as they are.
    """
    if number is None:
        return None
    if len(number) <= 6:
        return number
    keep_head = 3 if len(number) >= 10 else 2
    return number[:keep_head] + "*" * (len(number) - keep_head - 4) + number[-4:]
