"""Personal data never reaches a log: errors and tracebacks are scrubbed of numbers and names."""
from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from telephony.privacy import ScrubbingFormatter, describe_error, mask_number


def test_numbers_are_masked_and_extensions_kept():
    assert mask_number("13800138000") == "138****8000"
    assert mask_number("1001") == "1001"


def test_an_error_loses_the_values_it_quotes_but_keeps_what_failed():
    text = describe_error(ValueError("name=张三, number=021-6234-5678, mobile +86 138 0013 8000, call 1795366966.0"))
    # a Linkedid names a call, not a person: it stays
    assert text == "ValueError: name=…, number=021****5678, mobile 861******8000, call 1795366966.0"


def test_a_database_error_keeps_its_kind_code_and_constraint_never_its_parameters():
    class Diag:
        message_primary = 'duplicate key value violates unique constraint "uq_calls_pbx_linkedid"'
        constraint_name, table_name = "uq_calls_pbx_linkedid", "calls"

    class UniqueViolation(Exception):
        sqlstate, diag = "23505", Diag()

        def __str__(self):
            return ('duplicate key value violates unique constraint "uq_calls_pbx_linkedid"\n'
                    "DETAIL:  Key (caller)=(13800138000) already exists.")

    error = IntegrityError("INSERT INTO calls (caller, caller_name) VALUES (%s, %s)", ("13800138000", "张三"),
                           UniqueViolation())
    text = describe_error(error)
    assert text == ("UniqueViolation: duplicate key value violates unique constraint …; SQLSTATE 23505; "
                    "constraint uq_calls_pbx_linkedid; table calls")


def test_a_traceback_in_the_log_is_scrubbed():
    formatter = ScrubbingFormatter("%(message)s")
    try:
        raise KeyError("caller 13800138000 张三")
    except KeyError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, __import__("sys").exc_info())
    text = formatter.format(record)
    assert "Traceback" in text and "KeyError" in text
    assert "13800138000" not in text and "张三" not in text and "138****8000" in text
