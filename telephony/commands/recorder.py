"""``telephony recorder``: the SIP recorder backend as its own process.

    telephony recorder --listen 127.0.0.1:5070 --folder /var/spool/telephony/recordings

A SIP endpoint (pjsua2) that answers every call sent to it and records it to a WAV file under
``--folder`` (see :mod:`telephony.recorder.sip`).  It is a process of its own so that a crash in the
native SIP stack cannot take the daemon down; the daemon runs it as a child and reads its stdout,
which carries JSON lines and nothing else:

    {"event": "listening", "host": "127.0.0.1", "port": 5070, "folder": "…"}
    {"event": "recording", "linkedid": "1718000000.12", "path": "…/1718000000.12-20260101T101500Z.wav",
     "started_at": 1767262500.1, "ended_at": 1767262562.4, "seconds": 62.3, "sip_call_id": "…",
     "remote": "\\"1718000000.12\\" <sip:1718000000.12@pbx>", "error": null}

one ``recording`` line per call that ended (``path`` null and ``error`` set when no audio came).
Logs, pjsip's included, go to stderr.  SIGINT or SIGTERM hangs up the calls, closes their files,
reports them, and exits 0.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO, Any

from telephony.commands.run import LOG_LEVEL_HELP

DESCRIPTION = ("Run the SIP recorder: a SIP endpoint that answers every call sent to it (the ChanSpy legs "
               "the daemon originates) and records each to a WAV file, printing one JSON line per finished "
               "recording on stdout.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", default="127.0.0.1:5070", metavar="HOST:PORT",
                        help="UDP address to take SIP calls on; port 0 takes a free one, printed in the first "
                             "JSON line (default 127.0.0.1:5070)")
    parser.add_argument("--folder", required=True, metavar="DIR",
                        help="where the WAV files are written (made if missing)")
    parser.add_argument("--rtp-port", type=int, default=0, metavar="PORT",
                        help="first UDP port for the calls' audio (RTP), taken upwards from there, on the "
                             "--listen address; 0 (default) takes any free ones")
    parser.add_argument("--clock-rate", type=int, default=8000, choices=(8000, 16000, 32000, 48000),
                        metavar="HZ", help="sample rate of the WAV files: 8000 (default, telephone audio), "
                                           "16000, 32000 or 48000")
    parser.add_argument("--log-level", default="INFO", help=LOG_LEVEL_HELP)
    parser.set_defaults(func=run)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("recorder", help="run the SIP recorder (answers calls, records them to WAV files)",
                            description=DESCRIPTION)
    add_arguments(parser)


def _private_stdout() -> IO[str]:
    """A stream on the original stdout, for the JSON lines alone; fd 1 then points at stderr.

    pjlib prints its first lines to fd 1 before any configuration can stop it (``libCreate``), and
    a native library may print anything later: on the daemon's pipe that would be a line it cannot
    parse.  So the process's own stdout becomes stderr and the JSON goes through a copy."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return out


def run(args: argparse.Namespace) -> int:
    from twisted.internet import reactor

    from telephony.commands.sim import parse_listen
    from telephony.logs import setup_logging
    from telephony.recorder.sip import Recording, SipRecorder

    setup_logging(args.log_level)
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        print(f"telephony recorder: {exc}", file=sys.stderr)
        return 2
    out = _private_stdout()

    def emit(line: dict[str, Any]) -> None:
        try:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        except (OSError, ValueError) as exc:
            # the reader went away: the file is written all the same, and the log says which
            print(f"telephony recorder: cannot report {line.get('path')}: {exc}", file=sys.stderr)

    def recorded(recording: Recording) -> None:
        emit({"event": "recording", **recording.as_dict()})

    recorder = SipRecorder(reactor, host=host, port=port, folder=args.folder, on_recording=recorded,
                           clock_rate=args.clock_rate, log_level=args.log_level, rtp_port=args.rtp_port)
    outcome = {"code": 0}

    def started(bound: int) -> None:
        emit({"event": "listening", "host": host, "port": bound, "folder": os.path.abspath(args.folder)})

    def failed(failure: Any) -> None:
        print(f"telephony recorder: {failure.getErrorMessage()}", file=sys.stderr)
        outcome["code"] = 1
        reactor.stop()

    def start() -> None:
        recorder.start().addCallbacks(started, failed)

    # from the start, so that a signal during pjsua2's set-up still waits for its thread to finish:
    # leaving the interpreter while that thread is inside pjsua2 is how such a process crashes
    reactor.addSystemEventTrigger("before", "shutdown", recorder.stop)
    reactor.callWhenRunning(start)
    reactor.run()
    return outcome["code"]


def main(argv: list[str] | None = None) -> int:
    """``python -m telephony.commands.recorder …``: the same command, before ``telephony.cli`` lists it."""
    parser = argparse.ArgumentParser(prog="telephony recorder", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
