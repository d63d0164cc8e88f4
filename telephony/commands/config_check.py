"""``telephony config check FILE``: validate a config file the way the daemon would at start-up,
secret included (run it where the daemon runs, with its environment)."""
from __future__ import annotations

import argparse
import sys

from telephony.config import ConfigError, load_config, secret_problems


def add_parser(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="work with the config file")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a config file; errors name file, line and the fix")
    check.add_argument("file", help="the YAML config to check")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
        problems = secret_problems(config)
    except ConfigError as exc:
        problems = exc.problems
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    queues = ", ".join(sorted(config.queues)) or "none"
    print(f"{args.file}: OK (pbx {config.pbx.name}, AMI {config.pbx.ami.host}:{config.pbx.ami.port}, "
          f"queues with their own ring rules: {queues})")
    return 0
