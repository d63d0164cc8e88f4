"""``telephony replay FILE.ami``: one JSON object per finished call, as the daemon would see it.

With ``--guard`` the ring guard rides along in observe mode and its events (deadlines, misses,
alerts) are printed too, each as a JSON object with a ``type``, in the order they happened.

A damaged capture (cut in the middle, a torn record) loses nothing before the damage: every call
completed before it is printed, the calls still open there are printed as ``incomplete``, then the
damage is named on stderr and the exit code is 1.  An empty file is an error too.
"""
from __future__ import annotations

import argparse
import json
import sys
from zoneinfo import ZoneInfo

from telephony.ami.capture import read_capture_prefix
from telephony.config import ConfigError, load_config
from telephony.live import events as ev
from telephony.live.model import LiveModel
from telephony.replay import call_as_json, capture_start, replay_events

GUARD_EVENTS = (ev.RingDeadline, ev.AgentMissed, ev.SupervisorAlert)


def add_parser(sub: argparse._SubParsersAction) -> None:
    replay = sub.add_parser("replay", help="replay a raw AMI capture; print one JSON line per call")
    replay.add_argument("capture", help="an 'AMI capture v1' file")
    replay.add_argument("--pbx", default=None, help="PBX name to key calls by (default: from --config, else 'default')")
    replay.add_argument("--config", help="config file whose ring rules (cycle, apology threshold) apply")
    replay.add_argument("--guard", action="store_true",
                        help="run the ring guard in observe mode and print what it would have done")
    replay.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    pbx, policy, tz, shifts, agents = "default", None, "Asia/Shanghai", [], []
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        pbx, policy, tz, shifts, agents = (config.pbx.name, config.ring_policy, config.timezone, config.shifts,
                                           config.pbx.agents)
    model = LiveModel(args.pbx or pbx, policy=policy, agent_endpoints=agents)
    try:
        records, damage = read_capture_prefix(args.capture)
    except OSError as exc:
        print(f"telephony replay: cannot read {args.capture}: {exc.strerror}", file=sys.stderr)
        return 1
    t0 = capture_start(records)
    for event in replay_events(records, model, guard_tz=ZoneInfo(tz) if args.guard else None, shifts=shifts):
        if isinstance(event, ev.CallEnded):
            print(json.dumps(call_as_json(event.call, t0), ensure_ascii=False))
        elif isinstance(event, GUARD_EVENTS):
            data = event.to_dict()
            data["t0_s"] = round(event.at - t0, 3)
            print(json.dumps(data, ensure_ascii=False))
    if damage is not None:
        sys.stdout.flush()
        print(f"telephony replay: {damage}; the calls before it are printed, those still open there as "
              "incomplete", file=sys.stderr)
        return 1
    return 0
