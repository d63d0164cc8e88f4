"""``telephony sim``: run the simulated PBX on its own, for anyone who wants an Asterisk to point a
client at.

    telephony sim --listen 127.0.0.1:5038 --scenario demo --seed 1 --time-scale 1 \\
                  --username telephony --secret-env TELEPHONY_AMI_SECRET

The AMI secret comes from an environment variable (``--secret-env``, default
``TELEPHONY_AMI_SECRET``) or a file (``--secret-file``), never from the command line, and is
never printed.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    from telephony.sim.scenarios import SCENARIOS

    parser = sub.add_parser("sim", help="run the simulated PBX (real AMI over TCP)",
                            description="Run the simulated PBX: real AMI over TCP, events as Asterisk 22.10 "
                                        "sends them, calls from a scenario.")
    parser.add_argument("--listen", default="127.0.0.1:5038", metavar="HOST:PORT",
                        help="where to accept AMI connections (default 127.0.0.1:5038)")
    parser.add_argument("--scenario", default="demo", choices=sorted(SCENARIOS),
                        help="what happens (default demo)")
    parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed replays the same run")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="10 runs ten times faster than real time (default 1)")
    parser.add_argument("--username", default="telephony", help="AMI user (default telephony)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--secret-env", default="TELEPHONY_AMI_SECRET", metavar="VAR",
                        help="environment variable holding the AMI secret (default TELEPHONY_AMI_SECRET)")
    secret.add_argument("--secret-file", metavar="PATH", help="file holding the AMI secret")
    parser.add_argument("--agents", type=int, default=None, help="agents for --scenario load (default 50)")
    parser.add_argument("--calls", type=int, default=None,
                        help="concurrent calls for --scenario load (default 500)")
    parser.set_defaults(func=run)


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"--listen wants HOST:PORT, not {text!r}")
    return host, int(port)


def read_secret(args: argparse.Namespace) -> str:
    """The secret from ``--secret-file`` or the ``--secret-env`` variable; ValueError says where it looked."""
    if args.secret_file:
        try:
            value = Path(args.secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read --secret-file {args.secret_file}: {exc.strerror}") from None
        if not value:
            raise ValueError(f"--secret-file {args.secret_file} is empty")
        return value
    value = os.environ.get(args.secret_env, "")
    if not value:
        raise ValueError(f"the environment variable {args.secret_env} is not set: export it, or give --secret-file")
    return value


def run(args: argparse.Namespace) -> int:
    from twisted.internet import reactor

    from telephony.sim.scenarios import scenario
    from telephony.sim.service import SimulatorService
    from telephony.sim.simulator import SimulatedPBX

    try:
        host, port = parse_listen(args.listen)
        secret = read_secret(args)
        if args.time_scale <= 0:
            raise ValueError("--time-scale must be positive")
    except ValueError as exc:
        print(f"telephony sim: {exc}", file=sys.stderr)
        return 2
    preset = scenario(args.scenario, agents=args.agents, calls=args.calls)
    sim = SimulatedPBX(reactor, config=preset.config(), users={args.username: secret}, seed=args.seed,
                       time_scale=args.time_scale)
    service = SimulatorService(sim, reactor, port=port, interface=host, scenario=preset)
    try:
        service.startService()
    except OSError as exc:
        print(f"telephony sim: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 1
    source = args.secret_file or f"${args.secret_env}"
    print(f"simulated Asterisk {sim.config.version} listening on {host}:{service.port} "
          f"(AMI user {args.username}, secret from {source}); "
          f"scenario {preset.name}: {preset.summary}; seed {args.seed}, time scale {args.time_scale:g}",
          flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    return 0
