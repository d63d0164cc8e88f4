"""The ``telephony`` command: one entry point, a subcommand per job.

Each subcommand lives beside the code it drives and registers itself through ``add_parser``;
this module only assembles them, so no feature's code is imported before it is needed.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

#: subcommand name -> module that provides ``add_parser(subparsers)``; the parser it adds sets
#: ``func(args) -> int``.
SUBCOMMANDS = {
    "agent": "telephony.commands.agent",
    "config": "telephony.commands.config_check",
    "db": "telephony.commands.db",
    "demo": "telephony.commands.demo",
    "recorder": "telephony.commands.recorder",
    "recordings": "telephony.commands.recordings",
    "replay": "telephony.commands.replay",
    "report": "telephony.commands.report",
    "run": "telephony.commands.run",
    "sim": "telephony.commands.sim",
    "token": "telephony.commands.tokens",
    "user": "telephony.commands.users",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="telephony", description="Asterisk call-centre daemon (三声之内必有应答)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, where a reader that went away can be told from a failure
        return code
    except BrokenPipeError:
        # The reader went away (`telephony report … | head -1`): that is its choice, not an error to
        # print.  Point stdout at /dev/null so the interpreter's last flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
