"""`telephony user …` and `telephony token add` against a real SQLite store: what an operator types and reads."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest

from telephony.cli import main
from telephony.store.facade import open_store
from telephony.store.upgrade import upgrade


@pytest.fixture
def config(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 't.db'}"
    upgrade(url)
    path = tmp_path / "c.yaml"
    path.write_text(f"pbx:\n  ami:\n    host: 127.0.0.1\n    username: u\n    secret_env: NOPE\nstore:\n  url: {url}\n",
                    encoding="utf-8")
    monkeypatch.setenv("TELEPHONY_CONFIG", str(path))
    return url


def run(monkeypatch, capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_passwd_remove(config, monkeypatch, capsys, tmp_path):
    code, out, _ = run(monkeypatch, capsys, "user", "add", "wang", "--role", "agent", "--extension", "1001",
                       "--password-file", "-", stdin="s3cret-pass\n")
    assert (code, out) == (0, "user wang added (agent, extension 1001)\n")
    secret = tmp_path / "pw"
    secret.write_text("boss-password\nignored second line\n", encoding="utf-8")
    assert run(monkeypatch, capsys, "user", "add", "li", "--role", "supervisor", "--password-file", str(secret))[0] == 0
    code, out, _ = run(monkeypatch, capsys, "user", "list")
    assert out == "li\tsupervisor\t\nwang\tagent\t1001\n"
    with open_store(config) as store:
        assert store.sign_in("li", "boss-password", timedelta(hours=1)) is not None
        assert store.sign_in("wang", "s3cret-pass", timedelta(hours=1)) is not None
    assert run(monkeypatch, capsys, "user", "passwd", "wang", "--password-file", "-", stdin="another-pass\n")[0] == 0
    with open_store(config) as store:
        assert store.sign_in("wang", "s3cret-pass", timedelta(hours=1)) is None
    assert run(monkeypatch, capsys, "user", "remove", "wang")[:2] == (0, "user wang removed\n")
    code, _, err = run(monkeypatch, capsys, "user", "remove", "wang")
    assert (code, err) == (1, "no user 'wang'\n")


@pytest.mark.parametrize("argv, stdin, message", [
    (("--role", "agent"), "long-enough-pw\n", "an agent needs --extension"),
    (("--role", "supervisor"), "short\n", "at least 8 characters"),
    (("--role", "agent", "--extension", "10 01"), "long-enough-pw\n", "extension '10 01'"),
])
def test_what_cannot_be_a_user_is_refused_with_what_to_change(config, monkeypatch, capsys, argv, stdin, message):
    code, out, err = run(monkeypatch, capsys, "user", "add", "zhao", *argv, "--password-file", "-", stdin=stdin)
    assert (code, out) == (2, "")
    assert message in err


def test_a_password_file_that_cannot_be_read_is_named(config, monkeypatch, capsys, tmp_path):
    code, _, err = run(monkeypatch, capsys, "user", "add", "zhao", "--role", "ops",
                       "--password-file", str(tmp_path / "missing"))
    assert code == 2 and "missing" in err


def test_a_token_is_printed_once_and_signs_a_program_in(config, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "token", "add", "crm", "--role", "supervisor")
    token = out.strip()
    assert code == 0 and len(token) >= 40
    with open_store(config) as store:
        assert store.principal_for_token(token).role == "supervisor"
    code, _, err = run(monkeypatch, capsys, "token", "add", "crm", "--role", "supervisor")
    assert code == 2 and "exists already" in err
