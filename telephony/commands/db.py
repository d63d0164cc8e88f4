"""``telephony db upgrade [--url URL | --config FILE]``: bring the database's schema up to date.

The daemon refuses to start on an old schema rather than migrate behind the operator's back;
this is the command its message names.  Without options it upgrades the embedded default
(``sqlite:///var/telephony.db``, relative to the working directory).
"""
from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import ArgumentError, DBAPIError

from telephony.config import ConfigError, load_config
from telephony.store.db import DEFAULT_URL, describe
from telephony.store.upgrade import upgrade


def add_parser(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="work with the database")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="migrate the database to this version's schema")
    where = up.add_mutually_exclusive_group()
    where.add_argument("--url", help=f"SQLAlchemy URL of the database (default {DEFAULT_URL})")
    where.add_argument("--config", metavar="FILE", help="take the URL from this config file's store.url")
    up.set_defaults(func=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    if args.config:
        try:
            url = load_config(args.config).store.url
        except ConfigError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return 1
    else:
        url = args.url or DEFAULT_URL
    try:
        shown = describe(url)
        before, after = upgrade(url)
    except ArgumentError as exc:
        print(f"not a database URL: {exc}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        # The driver's own words say what is wrong: unreachable, refused, no such database…
        print(f"cannot upgrade {shown}: {exc.orig}", file=sys.stderr)
        return 1
    except OSError as exc:  # the SQLite file's folder cannot be created
        print(f"cannot upgrade {shown}: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    if before == after:
        print(f"{shown}: already at revision {after}")
    else:
        print(f"{shown}: upgraded from {before or 'an empty database'} to revision {after}")
    return 0
