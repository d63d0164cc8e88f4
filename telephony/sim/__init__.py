"""The simulated PBX: real AMI over TCP, faithful to the captures in ``tests/fixtures/ami-real``.

Used by the demo, the tests and the benchmarks wherever a real Asterisk cannot run.  The public
API is :class:`SimulatedPBX` (see :mod:`.simulator`); the layers under it are

* :mod:`.pbx` — the engine (clock only, no network): endpoints, channels, bridges, device states;
* :mod:`.app_queue`, :mod:`.app_dial`, :mod:`.dialplan` — what app_queue, app_dial, Originate
  and the capture PBX's dialplan do, and in which order the stream says it;
* :mod:`.render` — the event builders (header sets and order copied from the captures);
* :mod:`.actions` — the AMI actions served through :mod:`telephony.ami.server`;
* :mod:`.generator`, :mod:`.scenarios` — callers and named presets; :mod:`.service` — an IService.
"""
from .behaviour import Answer, Decline, Mixed, NeverAnswer, Reject
from .calls import CallHandle, CallSpec
from .config import AgentConfig, MemberConfig, PBXConfig, QueueConfig
from .generator import CallGenerator, GeneratorSpec
from .simulator import AgentHandle, LoopbackClient, SimulatedPBX

__all__ = [
    "AgentConfig",
    "AgentHandle",
    "Answer",
    "CallGenerator",
    "CallHandle",
    "CallSpec",
    "Decline",
    "GeneratorSpec",
    "LoopbackClient",
    "MemberConfig",
    "Mixed",
    "NeverAnswer",
    "PBXConfig",
    "QueueConfig",
    "Reject",
    "SimulatedPBX",
]
