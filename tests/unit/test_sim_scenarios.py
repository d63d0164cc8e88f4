"""Named scenarios, the call generator and the ``telephony sim`` command line."""
from __future__ import annotations

import argparse

import pytest
from twisted.internet.task import Clock

from telephony.cli import build_parser
from telephony.commands.sim import parse_listen, read_secret, run
from telephony.sim import GeneratorSpec, SimulatedPBX
from telephony.sim.generator import CHINESE_NAMES
from telephony.sim.scenarios import SCENARIOS, ScenarioRun, scenario
from tests.simmatch import advance_to
from tests.unit.test_sim_queue import Rig


def _play(name: str, until: float, seed: int = 1) -> tuple[SimulatedPBX, ScenarioRun, list]:
    preset = scenario(name)
    clock = Clock()
    sim = SimulatedPBX(clock, config=preset.config(), seed=seed)
    events: list = []
    sim.tap(events.append)
    run = ScenarioRun(sim, preset).start()
    advance_to(clock, until)
    return sim, run, events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_demo_answers_one_quickly_rings_one_out_and_loses_one_in_its_first_minute(seed: int) -> None:
    sim, run, events = _play("demo", 60.0, seed)
    quick, rung_out, impatient = run.calls[:3]
    assert quick.agent == "1001" and quick.answered_at - quick.placed_at < 5.0
    no_answers = [e for e in events if e.startswith(b"Event: AgentRingNoAnswer")
                  and f"Channel: {rung_out.channel}\r\n".encode() in e]
    # no guard runs here: app_queue's own backstop, 18 s (just past the guard's 15 s), ends the ring
    assert no_answers and b"RingTime: 18000" in no_answers[0]
    assert rung_out.agent == "1003"  # the slow agent, after the retry
    assert impatient.outcome == "abandoned"
    assert any(e.startswith(b"Event: QueueCallerAbandon") for e in events)


def test_idle_places_no_call() -> None:
    sim, _, events = _play("idle", 120.0)
    assert sim.stats.calls_placed == 0
    assert not [e for e in events if e.startswith(b"Event: Newchannel")]


def test_busy_hour_brings_forty_distinct_callers_in_about_three_minutes() -> None:
    sim, run, _ = _play("busy-hour", 600.0)
    handles = run.generator.handles
    assert len(handles) == 40
    assert len({h.spec.caller for h in handles}) == 40
    assert all(len(h.spec.caller) == 11 and h.spec.caller.startswith("1") for h in handles)
    assert {h.spec.dial for h in handles} == {"4000", "4001"}
    arrivals = [h.placed_at - handles[0].placed_at for h in handles]
    assert 90 < arrivals[-1] < 360
    assert any(h.spec.name in CHINESE_NAMES for h in handles)
    assert all(h.ended for h in handles)
    assert {h.outcome for h in handles} <= {"answered", "abandoned"} and "answered" in {h.outcome for h in handles}


def test_the_generator_makes_some_callers_impatient_and_stops_at_max_calls() -> None:
    rig = Rig()
    generator = rig.sim.run_generator(GeneratorSpec(rate_per_min=60.0, max_calls=30, impatient_share=0.5,
                                                    agents={"1001": "never", "1002": "never", "1003": "never"}))
    rig.run(400)
    patience = [h.spec.patience_s for h in generator.handles]
    assert len(patience) == 30 and not generator.running
    assert any(p is None for p in patience) and all(p is None or 10 <= p <= 40 for p in patience)
    assert sum(h.outcome == "abandoned" for h in generator.handles) == sum(p is not None for p in patience)


def test_every_capture_script_and_preset_is_known_by_name() -> None:
    assert {"idle", "demo", "busy-hour", "load", "capture-16", "capture-23a"} <= set(SCENARIOS)
    assert scenario("load", agents=20, calls=100).config().agents[-1].extension == "1020"
    with pytest.raises(KeyError, match="unknown scenario"):
        scenario("nope")


def test_listen_and_secret_come_from_the_right_places(tmp_path, monkeypatch) -> None:
    assert parse_listen("127.0.0.1:5038") == ("127.0.0.1", 5038)
    with pytest.raises(ValueError):
        parse_listen("5038")
    args = build_parser().parse_args(["sim", "--secret-env", "SIM_TEST_SECRET"])
    monkeypatch.delenv("SIM_TEST_SECRET", raising=False)
    with pytest.raises(ValueError, match="SIM_TEST_SECRET is not set"):
        read_secret(args)
    monkeypatch.setenv("SIM_TEST_SECRET", "from-env")
    assert read_secret(args) == "from-env"
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n", encoding="utf-8")
    args = build_parser().parse_args(["sim", "--secret-file", str(secret_file)])
    assert read_secret(args) == "from-file"


def test_telephony_sim_refuses_to_start_without_a_secret(monkeypatch, capsys) -> None:
    monkeypatch.delenv("SIM_TEST_SECRET", raising=False)
    args = build_parser().parse_args(["sim", "--secret-env", "SIM_TEST_SECRET", "--listen", "127.0.0.1:0"])
    assert isinstance(args, argparse.Namespace)
    assert run(args) == 2
    err = capsys.readouterr().err
    assert "SIM_TEST_SECRET" in err
