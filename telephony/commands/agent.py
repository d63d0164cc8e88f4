"""``telephony agent unpause EXT``: put an agent back into every queue after the ring guard (or
anyone) paused him.  Says it to Asterisk over AMI; the running daemon sees the ``QueueMemberPause``
events like any other unpause and records them.

Asterisk's events do not say who asked, so the request is recorded in the call log first (``--by``:
the agent himself by default, or a supervisor), and the daemon credits the unpause to it.  When the
call log cannot be reached the agent is unpaused all the same, and the unpause is recorded as made
by ``asterisk``: it is said so.
"""
from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from telephony.ami.oneshot import ami_session
from telephony.commands.run import CONFIG_HELP, load_or_explain
from telephony.privacy import describe_error
from telephony.store.facade import open_store
from telephony.store.upgrade import SchemaOutOfDate


def add_parser(sub: argparse._SubParsersAction) -> None:
    agent = sub.add_parser("agent", help="act on an agent's queue membership")
    actions = agent.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    unpause = actions.add_parser("unpause", help="unpause an agent in every queue")
    unpause.add_argument("extension", help="the agent's extension, e.g. 1001")
    unpause.add_argument("--config", required=True, help=CONFIG_HELP)
    unpause.add_argument("--interface", help="the queue member interface (default PJSIP/<extension>)")
    unpause.add_argument("--by", choices=("agent", "supervisor"), default="agent",
                         help="who asks: the agent himself (default) or a supervisor; the call log records it")
    unpause.set_defaults(func=run_unpause)


def run_unpause(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config, need_secret=True)
    if config is None:
        return 2
    if not args.extension.isdigit():
        print(f"'{args.extension}' is not an extension: give the agent's number, e.g. 1001", file=sys.stderr)
        return 2
    interface = args.interface or f"PJSIP/{args.extension}"
    request = _record_request(config, args.extension, args.by)
    outcome: dict[str, str] = {}

    def work(client):  # a failure (not connected, refused, Interface not found) ends up in outcome
        return client.action("QueuePause", [("Interface", interface), ("Paused", False), ("Reason", "")])

    def go(reactor):
        done = ami_session(reactor, config.pbx.ami, work)
        done.addCallback(lambda result: outcome.setdefault("ok", result.response.get("Message") or "done"))
        done.addErrback(lambda failure: outcome.setdefault("error", failure.getErrorMessage()))
        return done

    _react(go)
    if request is not None:
        store, request_id = request
        if "error" in outcome:
            store.forget_pause_request(request_id)  # refused: it credits nothing
        store.close()
    if "error" in outcome:
        print(f"{interface} not unpaused: {outcome['error']}", file=sys.stderr)
        return 1
    print(f"{interface}: {outcome['ok']}")
    return 0


def _record_request(config, extension: str, by: str):
    """(store, request id), or None after saying why the unpause will be credited to nobody."""
    store = None
    try:
        store = open_store(config.store.url)
        return store, store.request_pause_change(config.pbx.name, extension, paused=False, by=by)
    except (SQLAlchemyError, SchemaOutOfDate) as exc:
        if store is not None:
            store.close()
        print(f"the call log cannot be reached ({describe_error(exc)}); unpausing anyway, recorded as made by "
              "asterisk", file=sys.stderr)
        return None


def _react(go) -> None:
    """task.react without its sys.exit: run the reactor until ``go`` has fired."""
    from twisted.internet import reactor

    def start() -> None:
        go(reactor).addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
