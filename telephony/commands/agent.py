"""``telephony agent unpause EXT``: put an agent back into every queue after the ring guard (or
anyone) paused him.  Says it to Asterisk over AMI; the running daemon sees the ``QueueMemberPause``
events like any other unpause and records it."""
from __future__ import annotations

import argparse
import sys

from telephony.ami.oneshot import ami_session
from telephony.commands.run import load_or_explain


def add_parser(sub: argparse._SubParsersAction) -> None:
    agent = sub.add_parser("agent", help="act on an agent's queue membership")
    actions = agent.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    unpause = actions.add_parser("unpause", help="unpause an agent in every queue")
    unpause.add_argument("extension", help="the agent's extension, e.g. 1001")
    unpause.add_argument("--config", required=True)
    unpause.add_argument("--interface", help="the queue member interface (default PJSIP/<extension>)")
    unpause.set_defaults(func=run_unpause)


def run_unpause(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config)
    if config is None:
        return 2
    if not args.extension.isdigit():
        print(f"'{args.extension}' is not an extension: give the agent's number, e.g. 1001", file=sys.stderr)
        return 2
    interface = args.interface or f"PJSIP/{args.extension}"
    outcome: dict[str, str] = {}

    def work(client):  # a failure (not connected, refused, Interface not found) ends up in outcome
        return client.action("QueuePause", [("Interface", interface), ("Paused", False), ("Reason", "")])

    def go(reactor):
        done = ami_session(reactor, config.pbx.ami, work)
        done.addCallback(lambda result: outcome.setdefault("ok", result.response.get("Message") or "done"))
        done.addErrback(lambda failure: outcome.setdefault("error", failure.getErrorMessage()))
        return done

    _react(go)
    if "error" in outcome:
        print(f"{interface} not unpaused: {outcome['error']}", file=sys.stderr)
        return 1
    print(f"{interface}: {outcome['ok']}")
    return 0


def _react(go) -> None:
    """task.react without its sys.exit: run the reactor until ``go`` has fired."""
    from twisted.internet import reactor

    def start() -> None:
        go(reactor).addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()

