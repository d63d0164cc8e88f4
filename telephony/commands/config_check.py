"""``telephony config check FILE``: validate a config file the way the daemon would at start-up."""
from __future__ import annotations

import argparse
import sys

from telephony.config import ConfigError, load_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="work with the config file")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a config file; errors name file, line and the fix")
    check.add_argument("file")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    queues = ", ".join(sorted(config.queues)) or "none"
    print(f"{args.file}: OK (pbx {config.pbx.name}, AMI {config.pbx.ami.host}:{config.pbx.ami.port}, "
          f"queues with their own ring rules: {queues})")
    return 0
