"""``telephony run --config FILE``: the daemon, connected to a real Asterisk.

Stops cleanly on Ctrl-C / SIGTERM: the AMI connection closes first, pending store writes finish.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from twisted.application.service import IService

from telephony.config import Config, ConfigError, load_config
from telephony.logs import setup_logging

log = logging.getLogger("telephony")


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the daemon against the Asterisk in the config")
    run.add_argument("--config", required=True, help="the YAML config (see config/example.yaml)")
    run.add_argument("--log-level", default="INFO")
    run.set_defaults(func=main)


def load_or_explain(path: str) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def serve(build: Callable[[object], IService]) -> int:
    """Run the reactor with the service ``build(reactor)`` returns; 1 if it could not start."""
    from twisted.internet import reactor

    outcome = {"code": 0}

    def start() -> None:
        try:
            root = build(reactor)
            root.startService()
        except Exception as exc:  # anything that stops start-up is reported to the operator, then we stop
            log.error("could not start: %s", exc)
            outcome["code"] = 1
            reactor.stop()
            return
        reactor.addSystemEventTrigger("before", "shutdown", root.stopService)

    reactor.callWhenRunning(start)
    reactor.run()
    return outcome["code"]


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    config = load_or_explain(args.config)
    if config is None:
        return 2
    from telephony.service import build_daemon

    return serve(lambda reactor: build_daemon(config, reactor).root)
