"""``telephony run --config FILE``: the daemon, connected to a real Asterisk.

Stops cleanly on Ctrl-C / SIGTERM: the AMI connection closes first, pending store writes finish
(or go to the journal).  Anything that stops the start (a port in use, a stale database, a secret
that cannot be read) ends the process at once with a non-zero code and what to change.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Mapping

from twisted.application.service import IService
from twisted.internet import defer
from twisted.internet.error import CannotListenError

from telephony.config import Config, ConfigError, load_config, secret_problems
from telephony.logs import setup_logging

log = logging.getLogger("telephony")

CONFIG_HELP = "the YAML config (see config/example.yaml; check it with `telephony config check FILE`)"
LOG_LEVEL_HELP = "DEBUG, INFO (default), WARNING or ERROR"


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the daemon against the Asterisk in the config")
    run.add_argument("--config", required=True, help=CONFIG_HELP)
    run.add_argument("--log-level", default="INFO", help=LOG_LEVEL_HELP)
    run.set_defaults(func=main)


def load_or_explain(path: str, *, need_secret: bool = False) -> Config | None:
    """The config, or None after printing every problem (file, line, fix) to stderr.  With
    ``need_secret`` the AMI secret must be readable now, as it must be for anything that logs in."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None
    problems = secret_problems(config) if need_secret else []
    for problem in problems:
        print(problem, file=sys.stderr)
    return None if problems else config


def explain_start_failure(exc: BaseException, config: Config, listens: Mapping[tuple[str, int], str]) -> str:
    """What stopped the start, and what to change."""
    if isinstance(exc, CannotListenError):
        key = listens.get((exc.interface, exc.port), "the listening address")
        why = getattr(exc.socketError, "strerror", None) or str(exc.socketError)
        return (f"cannot listen on {exc.interface or '*'}:{exc.port} ({why}): another program holds that address; "
                f"set {key} in {config.source} to a free HOST:PORT")
    return str(exc) or type(exc).__name__


def serve(build: Callable[[object], IService], config: Config, *,
          listens: Mapping[tuple[str, int], str] = {}) -> int:
    """Run the reactor with the service ``build(reactor)`` returns; 1 if it could not start.

    ``listens`` maps the addresses the services listen on to the config keys that set them, so a
    port in use names the setting to change."""
    from twisted.internet import reactor

    outcome = {"code": 0}

    def start() -> None:
        root = None
        try:
            root = build(reactor)
            root.startService()
        except Exception as exc:  # anything that stops start-up is told to the operator, then we stop
            log.error("could not start: %s", explain_start_failure(exc, config, listens))
            outcome["code"] = 1
            stopped = defer.maybeDeferred(root.stopService) if root is not None else defer.succeed(None)
            stopped.addErrback(lambda failure: log.error("while stopping: %s", failure.getErrorMessage()))
            stopped.addBoth(lambda _: reactor.stop())
            return
        reactor.addSystemEventTrigger("before", "shutdown", root.stopService)
        from telephony.service import settle_after_start

        settle_after_start()

    reactor.callWhenRunning(start)
    reactor.run()
    return outcome["code"]


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    config = load_or_explain(args.config, need_secret=True)
    if config is None:
        return 2
    from telephony.service import build_daemon

    listens = {config.web.address: "web.listen"}
    return serve(lambda reactor: build_daemon(config, reactor).root, config, listens=listens)
