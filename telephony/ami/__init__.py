"""Asterisk Manager Interface: wire format (``protocol``), client (``client``), the reconnecting,
resyncing connection (``connection``), the server side (``server``) and captures (``capture``)."""
from .client import (
    AMIError,
    AMIProtocol,
    ActionFailed,
    ActionResult,
    ActionTimeout,
    ConnectionLost,
    LoginFailed,
)
from .connection import AMIConnection, NotConnected, Snapshot
from .protocol import Message, ProtocolError

__all__ = [
    "AMIConnection",
    "AMIError",
    "AMIProtocol",
    "ActionFailed",
    "ActionResult",
    "ActionTimeout",
    "ConnectionLost",
    "LoginFailed",
    "Message",
    "NotConnected",
    "ProtocolError",
    "Snapshot",
]
