"""Logging for the daemon and the CLI: one stdlib format, Twisted's own log routed into it.

What goes into logs is decided where it is written: secrets never, phone numbers masked
(:func:`telephony.privacy.mask_number`).
"""
from __future__ import annotations

import logging
import sys

from twisted.logger import STDLibLogObserver, globalLogBeginner

_started = False


def setup_logging(level: str = "INFO") -> None:
    global _started
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    if not _started:
        globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)
        _started = True
