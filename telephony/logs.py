"""Logging for the daemon and the CLI: one stdlib format, Twisted's own log routed into it.

What goes into logs is decided where it is written: secrets never, phone numbers masked
(:func:`telephony.privacy.mask_number`); tracebacks, which quote whatever value failed, are scrubbed
on the way out (:class:`telephony.privacy.ScrubbingFormatter`).
"""
from __future__ import annotations

import logging
import sys

from twisted.logger import STDLibLogObserver, globalLogBeginner

from telephony.privacy import ScrubbingFormatter

_started = False


def setup_logging(level: str = "INFO") -> None:
    global _started
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    if not _started:
        globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)
        _started = True
