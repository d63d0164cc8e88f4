"""``telephony user add|list|remove|passwd``: the people who sign in to the screens.

    telephony user add wang --role agent --extension 1001 --password-file -   # the password on stdin
    telephony user passwd wang --password-file /run/secrets/wang
    telephony user list
    telephony user remove wang

The password is read from a file (``-``: stdin, its first line), never from the command line where
``ps`` and the shell history would show it.  ``--config`` names the store (default: the embedded
demo's, ``$TELEPHONY_CONFIG`` when set).  Changing a password or removing a user ends his sessions.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from telephony.commands.run import CONFIG_HELP, load_or_explain
from telephony.privacy import describe_error
from telephony.store.facade import SyncStore, open_store
from telephony.store.model import ROLES
from telephony.store.people import UserProblem
from telephony.store.upgrade import SchemaOutOfDate

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=os.environ.get("TELEPHONY_CONFIG", str(DEFAULT_CONFIG)),
                        help=f"{CONFIG_HELP}; its store is used (default: $TELEPHONY_CONFIG, else config/demo.yaml)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="people who sign in to the agent screen and the supervisor board")
    actions = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user")
    add.add_argument("name", help="the user name he signs in with")
    add.add_argument("--role", required=True, choices=ROLES, help="what he may see and do")
    add.add_argument("--extension", help="the agent's phone extension (required for an agent), e.g. 1001")
    add.add_argument("--password-file", required=True, help="file holding the password; - reads it from stdin")
    passwd = actions.add_parser("passwd", help="change a user's password (ends his sessions)")
    passwd.add_argument("name", help="the user name")
    passwd.add_argument("--password-file", required=True, help="file holding the password; - reads it from stdin")
    remove = actions.add_parser("remove", help="remove a user (ends his sessions)")
    remove.add_argument("name", help="the user name")
    listing = actions.add_parser("list", help="list the users")
    for parser in (add, passwd, remove, listing):
        add_config_option(parser)
    user.set_defaults(func=run)


def read_password(path: str) -> str:
    """The first line of the file (or of stdin for ``-``), without its line break."""
    text = sys.stdin.readline() if path == "-" else Path(path).read_text(encoding="utf-8").split("\n", 1)[0]
    return text.rstrip("\r\n")


def with_store(config_path: str, work) -> int:
    """Run ``work(store, config)`` on the config's store; problems are printed with what to do, exit 1/2."""
    config = load_or_explain(config_path)
    if config is None:
        return 2
    try:
        with open_store(config.store.url) as store:
            return work(store, config)
    except UserProblem as exc:
        print(exc, file=sys.stderr)
        return 2
    except SchemaOutOfDate as exc:
        print(exc, file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"the store cannot be reached: {describe_error(exc)}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    command = args.user_command
    password = None
    if command in ("add", "passwd"):
        try:
            password = read_password(args.password_file)
        except OSError as exc:
            print(f"cannot read the password: {exc.filename}: {exc.strerror}", file=sys.stderr)
            return 2

    def work(store: SyncStore, _config) -> int:
        if command == "add":
            store.add_user(args.name, args.role, password, extension=args.extension)
            print(f"user {args.name} added ({args.role}{', extension ' + args.extension if args.extension else ''})")
        elif command == "passwd":
            store.set_password(args.name, password)
            print(f"password of {args.name} changed; his sessions are ended")
        elif command == "remove":
            if not store.remove_user(args.name):
                print(f"no user {args.name!r}", file=sys.stderr)
                return 1
            print(f"user {args.name} removed")
        else:
            for name, role, extension in store.list_users():
                print(f"{name}\t{role}\t{extension or ''}")
        return 0

    return with_store(args.config, work)
