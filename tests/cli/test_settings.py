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
    with pytest.raises(SettingsError, match="TELEGRAM_MAX_RATE"):
        Settings.from_env({"TELEGRAM_MAX_RATE": "fast"}, tmp_path / ".env")


def test_whatsapp_refuses_to_start_without_its_app_secret(tmp_path: Path) -> None:
    env = {
        "WHATSAPP_TOKEN": "EAAx",
        "WHATSAPP_PHONE_NUMBER_ID": "1065",
        "WHATSAPP_VERIFY_TOKEN": "v",
    }
    with pytest.raises(SettingsError, match="WHATSAPP_APP_SECRET is not set"):
        Settings.from_env(env, tmp_path / ".env")
    s = Settings.from_env({**env, "WHATSAPP_APP_SECRET": "s3cret"}, tmp_path / ".env")
    assert s.channels == ["whatsapp"] and "s3cret" not in repr(s)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"TELEGRAM_BOT_TOKEN": "not a token"},
            "TELEGRAM_BOT_TOKEN does not look like a bot token",
        ),
        ({"TELEGRAM_WEBHOOK_URL": "http://bot.example.org/hook"}, "must be an https:// address"),
        ({"TELEGRAM_WEBHOOK_SECRET": "has spaces!"}, "TELEGRAM_WEBHOOK_SECRET may hold only"),
        ({"TELEGRAM_API_URL": "localhost:8081"}, "TELEGRAM_API_URL must start with https://"),
        ({"WHATSAPP_API_URL": "graph.facebook.com"}, "WHATSAPP_API_URL must start with"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be text or json"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR"),
        ({"BOT_REPORT_RETENTION_DAYS": "0"}, "BOT_REPORT_RETENTION_DAYS must be at least 1"),
        ({"PORT": "70000"}, "PORT must be between 1 and 65535"),
    ],
)
def test_each_bad_setting_is_named_with_how_to_fix_it(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    with pytest.raises(SettingsError, match=says):
        Settings.from_env(env, tmp_path / ".env")


def test_a_malformed_token_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"TELEGRAM_BOT_TOKEN": "123 SECRETPART"}, tmp_path / ".env")
    assert "SECRETPART" not in str(raised.value)


def test_logging_choices_are_read(tmp_path: Path) -> None:
    s = Settings.from_env({"LOG_FORMAT": "JSON", "LOG_LEVEL": "warning"}, tmp_path / ".env")
    assert (s.log_format, s.log_level) == ("json", "WARNING")
