"""``telephony db upgrade`` through telephony.cli.main, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from telephony.cli import main
from telephony.store import SchemaOutOfDate, open_store
from telephony.store.db import describe
from telephony.store.upgrade import head_revision


def test_upgrade_makes_a_database_the_store_accepts(empty_db_url, capsys):
    if empty_db_url.startswith("postgresql"):
        # An empty PostgreSQL database is refused until upgraded (a new SQLite file would be created).
        with pytest.raises(SchemaOutOfDate, match="telephony db upgrade"):
            open_store(empty_db_url)
    assert main(["db", "upgrade", "--url", empty_db_url]) == 0
    assert capsys.readouterr().out == f"{describe(empty_db_url)}: upgraded from an empty database to revision " \
                                      f"{head_revision()}\n"
    with open_store(empty_db_url) as store:
        assert store.recent_calls("default") == []
    assert main(["db", "upgrade", "--url", empty_db_url]) == 0
    assert capsys.readouterr().out == f"{describe(empty_db_url)}: already at revision {head_revision()}\n"


def test_upgrade_creates_the_sqlite_folder(tmp_path):
    path = tmp_path / "deep" / "var" / "telephony.db"
    assert main(["db", "upgrade", "--url", f"sqlite:///{path}"]) == 0
    assert path.exists()


def test_upgrade_without_options_upgrades_the_embedded_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    assert (tmp_path / "var" / "telephony.db").exists()
    assert capsys.readouterr().out.startswith("sqlite:///var/telephony.db: upgraded")


def test_upgrade_takes_the_url_from_the_config_file(tmp_path):
    path = tmp_path / "store.db"
    config = tmp_path / "telephony.yaml"
    config.write_text(f"pbx:\n  ami:\n    secret_env: AMI_SECRET\nstore:\n  url: sqlite:///{path}\n", encoding="utf-8")
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert path.exists()


def test_a_bad_config_is_reported_with_its_line(tmp_path, capsys):
    config = tmp_path / "telephony.yaml"
    config.write_text("pbx:\n  ami:\n    secret_env: AMI_SECRET\nstore:\n  uri: sqlite:///x.db\n", encoding="utf-8")
    assert main(["db", "upgrade", "--config", str(config)]) == 1
    assert f"{config}:5: unknown setting 'store.uri'" in capsys.readouterr().err


def test_an_unreachable_database_is_reported_without_a_traceback_or_password(capsys):
    assert main(["db", "upgrade", "--url", "postgresql://postgres:s3cret@127.0.0.1:1/telephony"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cannot upgrade postgresql+psycopg://postgres:***@127.0.0.1:1/telephony: ")
    assert "s3cret" not in err and "Traceback" not in err


def test_a_url_that_is_no_url_is_a_usage_error(capsys):
    assert main(["db", "upgrade", "--url", "telephony.db"]) == 2
    assert "not a database URL" in capsys.readouterr().err


def test_url_and_config_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["db", "upgrade", "--url", "sqlite:///x.db", "--config", "x.yaml"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
