"""``telephony recordings prune [--dry-run] --config FILE``: delete the recordings past their queue's
retention (``recording.retention_days``, ``recording.queues.<name>.retention_days``).

A recording of a call with an open complaint (a wrap-up 投诉 not resolved) is kept whatever its age.
Each deleted file's row stays, marked ``deleted`` with when and why, so the call log still shows that
there was a recording.  ``--dry-run`` lists what would go and deletes nothing.  Run it where the
recording folder is (the PBX's host, or a mount of its folder).
"""
from __future__ import annotations

import argparse
import os
import sys

from telephony.commands.run import CONFIG_HELP
from telephony.commands.users import with_store


def add_parser(sub: argparse._SubParsersAction) -> None:
    recordings = sub.add_parser("recordings", help="work with call recordings")
    actions = recordings.add_subparsers(dest="recordings_command", metavar="ACTION", required=True)
    prune = actions.add_parser("prune", help="delete recordings past their queue's retention")
    prune.add_argument("--config", required=True, help=CONFIG_HELP)
    prune.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    prune.set_defaults(func=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    def work(store, config) -> int:
        due, held = store.prunable_recordings(config.recording.retention_for)
        deleted = missing = failed = 0
        for row in due:
            what = f"{row['id']}\t{row['started_at']}\t{row['queue'] or '-'}\t{row['path']}"
            if args.dry_run:
                print(f"would delete\t{what}")
                continue
            try:
                os.remove(row["path"])
                detail = "retention"
            except FileNotFoundError:
                missing += 1
                detail = "retention (the file was already gone)"
            except OSError as exc:
                failed += 1
                print(f"not deleted\t{what}\t{exc.strerror}", file=sys.stderr)
                continue
            store.mark_recording_deleted(row["id"], detail)
            deleted += 1
            print(f"deleted\t{what}")
        verb = "would delete" if args.dry_run else "deleted"
        print(f"{verb} {len(due) if args.dry_run else deleted} recording(s); kept {held} of calls with an open "
              f"complaint" + (f"; {missing} file(s) were already gone" if missing else "")
              + (f"; {failed} could not be deleted" if failed else ""))
        return 1 if failed else 0

    return with_store(args.config, work)
