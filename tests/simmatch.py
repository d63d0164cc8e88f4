"""Does a simulated AMI stream look like a real one?  (CONTRACTS.md "The simulator matches a capture".)

Both streams are lists of :class:`~telephony.ami.protocol.Message` as a client received them
(events, responses, list items).  :func:`compare` returns a list of problems, empty when they match:

* **per channel role** (caller leg ``PJSIP/carrier-…``, member leg ``PJSIP/<agent>-…``): the
  channels of a role, in the order they appear, have the same events in the same order.
  ``VarSet`` counts as ``VarSet:<Variable>``.  Two things the real stream itself does not keep in
  order are compared without their position: ``RTCPSent``/``RTCPReceived`` (sent by the RTP
  stacks on their own clocks; their count per channel must agree within one) and app_queue's
  ``AgentComplete`` once the caller's last bridge is being torn down (21 shows it in six
  places between ``HangupRequest`` and ``Hangup``);
* **other events** (no channel, plus ``Cdr``/``OriginateResponse``): the same multiset, keyed
  by what they say (``DeviceStateChange`` device and state, member queue/interface/status…),
  apart from the phones' periodic re-REGISTER noise (``ChallengeSent``/``SuccessfulAuth`` of
  ``Service: PJSIP``), whose timing is the phones' own;
* **responses**: the same ``Response``/``Message`` sequence;
* **headers**: for every event name both streams have, the same header names in the same order;
* **value forms**: for every event and header, the same set of forms (integer, decimal,
  ``<unknown>``, empty, channel name, UTF-8 text, other text);
* the share of ``VarSet`` among all events within ±10 points.

``grammar=True`` is for generator runs compared with a busy capture (21), where the calls
differ: instead of channel-by-channel equality every event-to-event step the simulator takes must
be one the capture takes (per role), the simulator must cover most of the capture's steps, and
headers and forms of the simulator must be among the capture's.  ``also_allowed`` adds the
messages of other captures of the same Asterisk to what the simulator may do (a generated caller
may abandon while an agent rings, as in 05 and 17, which 21 happens not to show); coverage is still
measured on ``capture`` alone.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable

from telephony.ami.capture import Record
from telephony.ami.protocol import Framer, Message

RTCP = ("RTCPSent", "RTCPReceived")
OTHER_EVENTS = ("Cdr", "OriginateResponse")
CHANNEL = re.compile(r"^(PJSIP|Local)/[^\s/]+-[0-9a-f]{8}(;\d)?$")
INTEGER = re.compile(r"^-?\d+$")
DECIMAL = re.compile(r"^-?\d+\.\d+$")
VARSET_TOLERANCE = 0.10
GRAMMAR_COVERAGE = 0.85


def capture_messages(records: Iterable[Record], *, until: float | None = None) -> list[Message]:
    """Every message Asterisk sent, all connections, in arrival order (up to ``until`` seconds)."""
    framers: dict[str, Framer] = {}
    out: list[Message] = []
    for record in records:
        if until is not None and record.t > until:
            break
        if record.kind == "OPEN":
            framers[record.connection] = Framer()
        elif record.kind == "RECV":
            out.extend(framers.setdefault(record.connection, Framer()).feed(record.payload))
    return out


def value_form(value: str) -> str:
    if value == "":
        return "empty"
    if value == "<unknown>":
        return "unknown"
    if INTEGER.match(value):
        return "int"
    if DECIMAL.match(value):
        return "decimal"
    if CHANNEL.match(value):
        return "channel"
    if not value.isascii():
        return "utf8"
    return "text"


def _name(message: Message) -> str:
    event = message.event or f"Response:{message.get('Response')}"
    if event == "VarSet":
        return f"VarSet:{message.get('Variable')}"
    return event


def _is_noise(message: Message) -> bool:
    return message.event in ("ChallengeSent", "SuccessfulAuth") and message.get("Service") == "PJSIP"


def _role(channel: str, agents: set[str], carrier: str) -> str:
    endpoint = channel.split("/", 1)[-1].rsplit("-", 1)[0]
    if channel.startswith("PJSIP/") and endpoint == carrier:
        return "caller"
    if channel.startswith("PJSIP/") and endpoint in agents:
        return "member"
    return "other"


def _other_key(message: Message) -> str:
    event = message.event or ""
    if event == "DeviceStateChange":
        return f"{event} {message.get('Device')}={message.get('State')}"
    if event in ("QueueMemberStatus", "QueueMemberPause"):
        return (f"{event} {message.get('Queue')} {message.get('Interface')} Status={message.get('Status')} "
                f"Paused={message.get('Paused')}")
    if event in ("QueueCallerJoin", "QueueCallerLeave"):
        return f"{event} {message.get('Queue')}"
    return event


class _Split:
    """A stream cut into per-channel sequences, other events and responses."""

    def __init__(self, messages: list[Message], agents: set[str], carrier: str) -> None:
        self.channels: dict[str, list[str]] = {}
        self.rtcp: Counter[str] = Counter()
        self.roles: dict[str, list[str]] = defaultdict(list)
        self.other: Counter[str] = Counter()
        self.other_names: set[str] = set()
        self.responses: list[tuple[str, str]] = []
        self.headers: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        self.forms: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.events = 0
        self.varsets = 0
        for message in messages:
            name = _name(message)
            if not _is_noise(message):
                self.headers[name].add(tuple(k for k, _ in message.headers))
                for key, value in message.headers:
                    self.forms[(name, key)].add(value_form(value))
            if message.event is None:
                self.responses.append((message.get("Response") or "", message.get("Message") or ""))
                continue
            self.events += 1
            if message.event == "VarSet":
                self.varsets += 1
            channel = message.get("Channel")
            if channel and message.event not in OTHER_EVENTS and CHANNEL.match(channel):
                if channel not in self.channels:
                    self.channels[channel] = []
                    self.roles[_role(channel, agents, carrier)].append(channel)
                if message.event in RTCP:
                    self.rtcp[channel] += 1
                else:
                    self.channels[channel].append(name)
            elif not _is_noise(message) and message.event not in RTCP:
                self.other[_other_key(message)] += 1
                self.other_names.add(message.event)
        for channel, sequence in self.channels.items():
            self.channels[channel] = _float_agent_complete(sequence)

    @property
    def varset_share(self) -> float:
        return self.varsets / self.events if self.events else 0.0


def _float_agent_complete(sequence: list[str]) -> list[str]:
    """Move an ``AgentComplete`` that follows the channel's last ``BridgeEnter`` to just before its
    last event: where app_queue's thread lands among the bridge's tear-down is a race."""
    if "AgentComplete" not in sequence or "BridgeEnter" not in sequence:
        return sequence
    last_enter = len(sequence) - 1 - sequence[::-1].index("BridgeEnter")
    index = sequence.index("AgentComplete", last_enter) if "AgentComplete" in sequence[last_enter:] else -1
    if index < 0:
        return sequence
    moved = sequence[:index] + sequence[index + 1:]
    return moved[:-1] + ["AgentComplete", moved[-1]] if moved else ["AgentComplete"]


def _first_difference(a: list[str], b: list[str]) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"event {i}: capture {x!r}, simulator {y!r} (capture …{a[max(0, i - 2):i + 3]}, " \
                   f"simulator …{b[max(0, i - 2):i + 3]})"
    return f"capture has {len(a)} events, simulator {len(b)} (tails {a[len(b):][:4]} / {b[len(a):][:4]})"


def compare(capture: list[Message], simulated: list[Message], *, agents: Iterable[str] = ("1001", "1002", "1003"),
            carrier: str = "carrier", grammar: bool = False, also_allowed: list[Message] = ()) -> list[str]:
    """Problems that tell ``simulated`` from ``capture``; see the module docstring."""
    agent_set = set(agents)
    real, sim = _Split(capture, agent_set, carrier), _Split(simulated, agent_set, carrier)
    problems: list[str] = []
    if grammar:
        allowed = _Split([*capture, *also_allowed], agent_set, carrier)
        problems += _compare_grammar(real, allowed, sim)
        problems += _compare_headers(allowed, sim, subset=True)
    else:
        problems += _compare_channels(real, sim)
        if real.other != sim.other:
            missing, extra = real.other - sim.other, sim.other - real.other
            problems.append(f"other events differ: missing {dict(missing)}, extra {dict(extra)}")
        if real.responses != sim.responses:
            problems.append(f"responses differ: capture {real.responses}, simulator {sim.responses}")
        problems += _compare_headers(real, sim, subset=False)
    if abs(real.varset_share - sim.varset_share) > VARSET_TOLERANCE:
        problems.append(f"VarSet share {sim.varset_share:.0%} is not within 10 points of the capture's "
                        f"{real.varset_share:.0%}")
    return problems


def _compare_channels(real: _Split, sim: _Split) -> list[str]:
    problems: list[str] = []
    for role in ("caller", "member", "other"):
        ours, theirs = sim.roles.get(role, []), real.roles.get(role, [])
        if len(ours) != len(theirs):
            problems.append(f"{role} legs: capture has {len(theirs)} ({theirs}), simulator {len(ours)} ({ours})")
        for real_channel, sim_channel in zip(theirs, ours):
            a, b = real.channels[real_channel], sim.channels[sim_channel]
            if a != b:
                problems.append(f"{role} leg {real_channel} / {sim_channel}: {_first_difference(a, b)}")
            if abs(real.rtcp[real_channel] - sim.rtcp[sim_channel]) > 1:
                problems.append(f"{role} leg {real_channel}: {real.rtcp[real_channel]} RTCP events, simulator "
                                f"{sim.rtcp[sim_channel]}")
    return problems


def _steps(split: _Split, role: str) -> set[tuple[str, str]]:
    steps: set[tuple[str, str]] = set()
    for channel in split.roles.get(role, []):
        sequence = ["<start>", *split.channels[channel], "<end>"]
        steps.update(zip(sequence, sequence[1:]))
    return steps


def _compare_grammar(real: _Split, allowed: _Split, sim: _Split) -> list[str]:
    problems: list[str] = []
    for role in ("caller", "member"):
        theirs, ours = _steps(real, role), _steps(sim, role)
        invented = ours - _steps(allowed, role)
        if invented:
            problems.append(f"{role} legs take steps the capture never takes: {sorted(invented)[:8]}")
        if theirs and len(ours & theirs) / len(theirs) < GRAMMAR_COVERAGE:
            problems.append(f"{role} legs cover only {len(ours & theirs)} of the capture's {len(theirs)} steps; "
                            f"missing {sorted(theirs - ours)[:8]}")
    extra = sim.other_names - allowed.other_names
    if extra:
        problems.append(f"events the capture never sends: {sorted(extra)}")
    return problems


def _compare_headers(real: _Split, sim: _Split, *, subset: bool) -> list[str]:
    problems: list[str] = []
    for name in sorted(set(real.headers) & set(sim.headers)):
        a, b = real.headers[name], sim.headers[name]
        if (not b <= a) if subset else a != b:
            problems.append(f"{name}: header sets differ: capture {sorted(a)}, simulator {sorted(b)}")
    for key in sorted(set(real.forms) & set(sim.forms)):
        a, b = real.forms[key], sim.forms[key]
        if (not b <= a) if subset else a != b:
            problems.append(f"{key[0]} {key[1]}: value forms differ: capture {sorted(a)}, simulator {sorted(b)}")
    return problems


# -- running the simulator the way the captures ran Asterisk -------------------------------------------


def advance_to(clock, until: float) -> None:
    """Advance a ``task.Clock`` call by call, so every call sees its own time (``Clock.advance``
    alone would run them all at the final time)."""
    while clock.calls and clock.calls[0].getTime() <= until:
        clock.advance(max(0.0, clock.calls[0].getTime() - clock.seconds()))
    clock.advance(max(0.0, until - clock.seconds()))


def run_capture_scenario(name: str, *, seed: int = 1, logoff: bool = True) -> list[Message]:
    """Play ``telephony.sim.scenarios`` preset ``name`` with the capture rig's login (and logoff),
    and return everything its AMI clients received."""
    from twisted.internet.task import Clock

    from telephony.sim.scenarios import ScenarioRun, scenario
    from telephony.sim.simulator import SimulatedPBX

    preset = scenario(name)
    clock = Clock()
    sim = SimulatedPBX(clock, config=preset.config(), users={"heldout": "heldout-secret"}, seed=seed)
    run = ScenarioRun(sim, preset).start()
    advance_to(clock, preset.length_s)
    # a generated run ends when its last call does, like the capture rig waited for its callers
    deadline = preset.length_s + 600.0
    while (sim.engine.calls or (run.generator is not None and run.generator.running)) and clock.seconds() < deadline:
        advance_to(clock, clock.seconds() + 10.0)
    if logoff and not run.client.closed:
        run.client.send("Logoff")
    return [m for client in run.clients for m in client.messages]
