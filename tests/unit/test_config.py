"""Config loading: the shipped files validate; every error names file, line and the fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from telephony.cli import main
from telephony.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = "pbx:\n  ami:\n    secret_env: TELEPHONY_AMI_SECRET\n"


@pytest.mark.parametrize("name", ["example.yaml", "demo.yaml"])
def test_shipped_configs_are_valid(name, capsys, monkeypatch):
    monkeypatch.setenv("TELEPHONY_AMI_SECRET", "set-where-the-daemon-runs")
    assert main(["config", "check", str(ROOT / "config" / name)]) == 0
    assert "OK" in capsys.readouterr().out


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "ops.yaml")
    return [str(p) for p in info.value.problems]


def test_unknown_key_names_line_and_suggests_the_right_one():
    (p,) = problems(MINIMAL + "rings:\n  alowed: 3\n")
    assert p.startswith("ops.yaml:5: unknown setting 'rings.alowed'") and "did you mean 'allowed'?" in p


def test_nested_queue_override_errors_point_at_their_line():
    found = problems(MINIMAL + "queues:\n  sales:\n    rings:\n      mode: acting\n      cycle_s: zero\n")
    assert found[0].startswith("ops.yaml:7: 'queues.sales.rings.mode'") and "'act' or 'observe'" in found[0]
    assert found[1].startswith("ops.yaml:8: 'queues.sales.rings.cycle_s'") and "write a number" in found[1]


def test_an_inline_secret_is_refused_with_the_alternatives():
    found = problems("pbx:\n  ami:\n    secret: hunter2\n")
    assert any("unknown setting 'pbx.ami.secret'" in p and "secret_env" in p for p in found)
    assert not any("hunter2" in p for p in found), "a secret never reaches an error message"


def test_missing_secret_source_is_explained():
    (p,) = problems("pbx:\n  ami:\n    host: 10.0.0.5\n")
    assert "secret_env" in p and "secret_file" in p and p.startswith("ops.yaml:2")


def test_yaml_syntax_error_names_the_line():
    (p,) = problems(MINIMAL + "rings:\n  allowed: [3\n")
    assert p.startswith("ops.yaml:6") and "not valid YAML" in p


def test_bad_time_zone_and_listen_address():
    found = problems(MINIMAL + "timezone: Mars/Olympus\nweb:\n  listen: localhost\n")
    assert any("ops.yaml:4" in p and "unknown time zone" in p for p in found)
    assert any("ops.yaml:6" in p and "HOST:PORT" in p for p in found)


def test_queue_overrides_apply_on_top_of_the_defaults():
    config = parse_config(MINIMAL + "rings:\n  cycle_s: 4\nqueues:\n  sales:\n    rings:\n      allowed: 2\n")
    assert (config.ring_policy("sales").allowed, config.ring_policy("sales").cycle_s) == (2, 4.0)
    assert config.ring_policy("support").allowed == 3
    assert config.ring_policy("sales").deadline_s == 8.0


def test_cli_reports_every_problem_and_fails(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL + "rings:\n  alowed: 3\n  mode: acting\n", encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:5" in err and f"{bad}:6" in err and "2 problem(s)" in err


def test_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.yaml")


def test_secret_is_read_from_the_environment_or_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEPHONY_AMI_SECRET", "s3cret")
    assert parse_config(MINIMAL).pbx.ami.secret() == "s3cret"
    monkeypatch.delenv("TELEPHONY_AMI_SECRET")
    with pytest.raises(ConfigError, match="TELEPHONY_AMI_SECRET"):
        parse_config(MINIMAL).pbx.ami.secret()
    secret = tmp_path / "ami.secret"
    secret.write_text("from-file\n")
    config = parse_config(f"pbx:\n  ami:\n    secret_file: {secret}\n")
    assert config.pbx.ami.secret() == "from-file"


def test_shifts_may_cross_midnight_but_not_overlap():
    config = parse_config(MINIMAL + "shifts:\n  - {name: 早班, start: '08:00', end: '16:00'}\n"
                                    "  - {name: 夜班, start: '22:00', end: '06:00'}\n")
    assert [s.name for s in config.shifts] == ["早班", "夜班"]
    found = problems(MINIMAL + "shifts:\n  - {name: a, start: '08:00', end: '16:00'}\n"
                               "  - {name: b, start: '15:00', end: '23:00'}\n")
    assert any("ops.yaml:4" in p and "overlap at 15:00" in p for p in found)
    found = problems(MINIMAL + "shifts:\n  - {name: a, start: '08:00', end: '08:00'}\n")
    assert any("give it a length" in p for p in found)
    found = problems(MINIMAL + "shifts:\n  - {name: a, start: '8 am', end: '16:00'}\n")
    assert any("shifts.0.start" in p for p in found)


def test_a_secret_that_cannot_be_read_fails_the_check_and_the_start_naming_the_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TELEPHONY_AMI_SECRET", raising=False)
    by_env = tmp_path / "env.yaml"
    by_env.write_text("pbx:\n  name: lab\n  ami:\n    secret_env: TELEPHONY_AMI_SECRET\n", encoding="utf-8")
    assert main(["config", "check", str(by_env)]) == 1
    err = capsys.readouterr().err
    assert f"{by_env}:4: the environment variable TELEPHONY_AMI_SECRET (ami.secret_env) is not set" in err
    assert main(["run", "--config", str(by_env)]) == 2, "no start, no endless retrying"
    assert "TELEPHONY_AMI_SECRET (ami.secret_env) is not set" in capsys.readouterr().err

    by_file = tmp_path / "file.yaml"
    by_file.write_text(f"pbx:\n  ami:\n    host: 127.0.0.1\n    secret_file: {tmp_path / 'absent'}\n",
                       encoding="utf-8")
    assert main(["config", "check", str(by_file)]) == 1
    err = capsys.readouterr().err
    assert f"{by_file}:4: cannot read ami.secret_file {tmp_path / 'absent'}: No such file or directory" in err
    (tmp_path / "absent").write_text("\n")
    assert main(["config", "check", str(by_file)]) == 1
    assert "is empty" in capsys.readouterr().err
