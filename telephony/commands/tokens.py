"""``telephony token add NAME --role …``: a bearer token for a program (a CRM reading the pop feed).

The token is printed once; only its hash is kept.  A program sends it as ``Authorization: Bearer …``.
"""
from __future__ import annotations

import argparse

from telephony.commands.users import add_config_option, with_store
from telephony.store.model import ROLES


def add_parser(sub: argparse._SubParsersAction) -> None:
    token = sub.add_parser("token", help="bearer tokens for programs")
    actions = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="make a token and print it (once)")
    add.add_argument("name", help="the program's name, e.g. crm")
    add.add_argument("--role", required=True, choices=ROLES, help="what the program may read and do")
    add.add_argument("--extension", help="for a program that acts as one agent (reads only his feed)")
    add_config_option(add)
    token.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def work(store, _config) -> int:
        print(store.add_token(args.name, args.role, extension=args.extension))
        return 0

    return with_store(args.config, work)
