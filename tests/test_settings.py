"""Configuration: typed, fail-fast, secrets never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_need_nothing(tmp_path: Path) -> None:
    s = Settings.from_env({}, tmp_path / ".env")
    assert s.data_dir == Path("data") and s.channels == []


def test_secrets_are_masked(tmp_path: Path) -> None:
    s = Settings.from_env({"TELEGRAM_BOT_TOKEN": "123:ABCsecret"}, tmp_path / ".env")
    assert "ABCsecret" not in repr(s) and "ABCsecret" not in str(s)
    assert s.telegram_token is not None and s.telegram_token.value == "123:ABCsecret"
    assert s.channels == ["telegram"]


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# comment\nBOT_DATA_DIR='/srv/x'\nPORT=9000\n")
    s = Settings.from_env({"PORT": "9100"}, env)
    assert s.data_dir == Path("/srv/x") and s.port == 9100


def test_bad_values_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PORT must be a whole number"):
        Settings.from_env({"PORT": "eighty"}, tmp_path / ".env")
    with pytest.raises(SettingsError, match="STAFF_CHAT_ID"):
        Settings.from_env({"STAFF_CHAT_ID": "abc"}, tmp_path / ".env")
