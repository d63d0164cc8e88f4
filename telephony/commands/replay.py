"""``telephony replay FILE.ami``: one JSON object per finished call, as the live model saw it."""
from __future__ import annotations

import argparse
import json
import sys

from telephony.ami.capture import CaptureError
from telephony.config import ConfigError, load_config
from telephony.live.model import LiveModel
from telephony.replay import call_as_json, calls_from_capture


def add_parser(sub: argparse._SubParsersAction) -> None:
    replay = sub.add_parser("replay", help="replay a raw AMI capture; print one JSON line per call")
    replay.add_argument("capture", help="an 'AMI capture v1' file")
    replay.add_argument("--pbx", default=None, help="PBX name to key calls by (default: from --config, else 'default')")
    replay.add_argument("--config", help="config file whose ring rules (cycle, apology threshold) apply")
    replay.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    pbx, policy = "default", None
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        pbx, policy = config.pbx.name, config.ring_policy
    model = LiveModel(args.pbx or pbx, policy=policy)
    try:
        for call, t0 in calls_from_capture(args.capture, model=model):
            print(json.dumps(call_as_json(call, t0), ensure_ascii=False), flush=False)
    except (OSError, CaptureError) as exc:
        print(f"telephony replay: {exc}", file=sys.stderr)
        return 1
    return 0
