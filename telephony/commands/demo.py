"""``telephony demo``: the embedded default, in one process.

The simulated PBX listens on loopback and plays the ``demo`` scenario (agents of every kind, so the
ring guard acts within the first minute); the daemon connects to it over real AMI/TCP, keeps its
call log in SQLite under ``var/`` and serves the live page.  The AMI secret is made up for the run
unless the config's environment variable already holds one; it is never printed.

The demo signs people in like the real thing: at every start it (re)creates its demo users — an
agent per simulated phone (``agent1001`` … with extension 1001 …) and ``supervisor`` — with fresh
random passwords, and prints them once (to stdout, not to the log).

The demo needs no fixed port: the simulator listens where ``sim.listen`` says (any free port by
default, so a real Asterisk on 5038 is no obstacle) and the page falls back to a free port when its
own is taken.  The last line of the start says where the page is.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from twisted.application.service import Service

from telephony.commands.run import CONFIG_HELP, LOG_LEVEL_HELP, load_or_explain, serve
from telephony.config import Config
from telephony.logs import setup_logging

if TYPE_CHECKING:
    from telephony.service import InOrder

log = logging.getLogger("telephony.demo")

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="simulated PBX + daemon + live page on 127.0.0.1 (the embedded default)")
    demo.add_argument("--config", default=str(DEFAULT_CONFIG), help=f"{CONFIG_HELP}; default: config/demo.yaml")
    demo.add_argument("--log-level", default="INFO", help=LOG_LEVEL_HELP)
    demo.set_defaults(func=main)


def build_demo(config: Config, reactor) -> InOrder:
    from telephony.service import InOrder, build_daemon
    from telephony.sim.scenarios import scenario
    from telephony.sim.service import SimulatorService
    from telephony.sim.simulator import SimulatedPBX
    from telephony.store.upgrade import upgrade

    sim_config = config.sim
    if sim_config is None:
        raise ValueError(f"{config.source}: a demo config needs a 'sim:' section (see config/demo.yaml)")
    ami = config.pbx.ami
    if ami.secret_env is not None and not os.environ.get(ami.secret_env):
        os.environ[ami.secret_env] = secrets.token_urlsafe(18)
    upgrade(config.store.url)  # the embedded default must just work, also on an old demo database
    preset = scenario(sim_config.scenario)
    demo_users = _demo_users(config, sorted(agent.extension for agent in preset.config().agents))
    sim = SimulatedPBX(reactor, config=preset.config(), users={ami.username: ami.secret()}, seed=sim_config.seed,
                       time_scale=sim_config.time_scale)
    host, sim_port = sim_config.address
    simulator = SimulatorService(sim, reactor, port=sim_port, interface=host, scenario=preset)
    port = simulator.listen()
    # The daemon talks to the simulator exactly as it would to Asterisk: same user, same secret.
    config = config.model_copy(update={"pbx": config.pbx.model_copy(update={
        "ami": ami.model_copy(update={"host": host, "port": port})})})
    root = InOrder()  # the daemon stops before the PBX it watches
    simulator.setServiceParent(root)
    daemon = build_daemon(config, reactor, web_fallback=True)
    daemon.root.setServiceParent(root)

    def started() -> str:
        web_host, web_port = daemon.web.address
        print("demo users (sign in at /login; new passwords at every start):", flush=True)
        for name, role, extension, password in demo_users:
            print(f"  {name:<12} {password}   {role}{' ' + extension if extension else ''}", flush=True)
        return (f"demo: simulated Asterisk on {host}:{port} playing {preset.name!r}; "
                f"live page on http://{web_host}:{web_port}/")

    # Started last, so the line appears once everything above listens: scripts and tests wait for it.
    _Announce(started).setServiceParent(root)
    return root


def _demo_users(config: Config, extensions: list[str]) -> list[tuple[str, str, str | None, str]]:
    """Create (or reset) the demo's users → (name, role, extension, password) of each."""
    from telephony.store.facade import open_store

    users = [(f"agent{ext}", "agent", ext, secrets.token_urlsafe(9)) for ext in extensions]
    users.append(("supervisor", "supervisor", None, secrets.token_urlsafe(9)))
    with open_store(config.store.url) as store:
        existing = {name for name, _, _ in store.list_users()}
        for name, role, extension, password in users:
            if name in existing:
                store.set_password(name, password)
            else:
                store.add_user(name, role, password, extension=extension)
    return users


class _Announce(Service):
    def __init__(self, line: Callable[[], str]) -> None:
        self.line = line

    def startService(self) -> None:
        super().startService()
        log.info("%s", self.line())


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    config = load_or_explain(args.config)
    if config is None:
        return 2
    Path("var").mkdir(exist_ok=True)
    listens = {config.web.address: "web.listen"}
    if config.sim is not None:
        listens[config.sim.address] = "sim.listen"
    return serve(lambda reactor: build_demo(config, reactor), config, listens=listens)
