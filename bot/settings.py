"""Configuration from the environment (and a .env file), read once, typed, secrets masked."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variable and how to fix it."""


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed or logged."""

    value: str

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored; surrounding quotes removed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


_BOT_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True)
class Settings:
    """Everything the operator can set."""

    data_dir: Path = Path("data")
    telegram_token: Secret | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: Secret | None = None
    whatsapp_token: Secret | None = None
    whatsapp_phone_number_id: str = ""
    whatsapp_app_secret: Secret | None = None
    whatsapp_verify_token: Secret | None = None
    whatsapp_api_url: str = "https://graph.facebook.com"
    staff_chat_id: int | None = None
    port: int = 8080
    host: str = "0.0.0.0"
    telegram_max_rate: float = 30.0
    report_retention_days: int = 365
    log_format: str = "text"
    log_level: str = "INFO"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path = Path(".env")
    ) -> Settings:
        """Read the settings; the real environment wins over the .env file."""
        env = {**read_env_file(env_file), **(environ if environ is not None else os.environ)}

        def secret(name: str) -> Secret | None:
            return Secret(env[name]) if env.get(name) else None

        def integer(name: str, default: int | None) -> int | None:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None

        retention = integer("BOT_REPORT_RETENTION_DAYS", 365)
        assert retention is not None
        if retention < 1:
            raise SettingsError("BOT_REPORT_RETENTION_DAYS must be at least 1 (days)")
        port = integer("PORT", 8080)
        assert port is not None
        if not 0 < port < 65536:
            raise SettingsError(f"PORT must be between 1 and 65535, not {port}")
        raw_rate = env.get("TELEGRAM_MAX_RATE", "").strip() or "30"
        try:
            max_rate = float(raw_rate)
        except ValueError:
            raise SettingsError(
                f"TELEGRAM_MAX_RATE must be messages per second (a number), not {raw_rate!r}"
            ) from None
        if max_rate < 0:
            raise SettingsError("TELEGRAM_MAX_RATE must be 0 (no limit) or more")
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if token and not _BOT_TOKEN.fullmatch(token):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then letters "
                "and digits). Copy it again from @BotFather's /token command."
            )
        webhook_url = env.get("TELEGRAM_WEBHOOK_URL", "").strip()
        if webhook_url and not webhook_url.startswith("https://"):
            raise SettingsError(
                "TELEGRAM_WEBHOOK_URL must be an https:// address (Telegram sends webhooks only "
                "over HTTPS); leave it empty to use polling instead."
            )
        hook_secret = env.get("TELEGRAM_WEBHOOK_SECRET", "")
        if hook_secret and not _WEBHOOK_SECRET.fullmatch(hook_secret):
            raise SettingsError(
                "TELEGRAM_WEBHOOK_SECRET may hold only letters, digits, _ and -, 1 to 256 of "
                "them; leave it empty and one is derived from the data directory's key."
            )
        for name in ("TELEGRAM_API_URL", "WHATSAPP_API_URL"):
            url = env.get(name, "").strip()
            if url and not url.startswith(("https://", "http://")):
                raise SettingsError(f"{name} must start with https:// (or http://), not {url!r}")
        staff = env.get("STAFF_CHAT_ID", "").strip()
        if staff and not staff.lstrip("-").isdigit():
            raise SettingsError(
                f"STAFF_CHAT_ID must be a Telegram chat id, a whole number such as -1001234567890 "
                f"for a group, not {staff!r}. The deployment guide shows how to find it."
            )
        log_format = env.get("LOG_FORMAT", "").strip().lower() or "text"
        if log_format not in ("text", "json"):
            raise SettingsError(f"LOG_FORMAT must be text or json, not {log_format!r}")
        log_level = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(
                f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}"
            )
        if env.get("WHATSAPP_TOKEN"):
            needed = ("WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")
            missing = [name for name in needed if not env.get(name)]
            if missing:
                raise SettingsError(
                    f"WhatsApp is enabled (WHATSAPP_TOKEN is set) but {', '.join(missing)} "
                    "is not set. The app secret (Meta app > Settings > Basic) proves updates "
                    "come from Meta; the verify token is any secret you also give Meta's "
                    "webhook setup; the phone number id is in WhatsApp > API Setup."
                )
        return cls(
            data_dir=Path(env.get("BOT_DATA_DIR") or "data"),
            telegram_token=secret("TELEGRAM_BOT_TOKEN"),
            telegram_api_url=env.get("TELEGRAM_API_URL") or cls.telegram_api_url,
            telegram_webhook_url=env.get("TELEGRAM_WEBHOOK_URL", ""),
            telegram_webhook_secret=secret("TELEGRAM_WEBHOOK_SECRET"),
            whatsapp_token=secret("WHATSAPP_TOKEN"),
            whatsapp_phone_number_id=env.get("WHATSAPP_PHONE_NUMBER_ID", ""),
            whatsapp_app_secret=secret("WHATSAPP_APP_SECRET"),
            whatsapp_verify_token=secret("WHATSAPP_VERIFY_TOKEN"),
            whatsapp_api_url=env.get("WHATSAPP_API_URL") or cls.whatsapp_api_url,
            staff_chat_id=integer("STAFF_CHAT_ID", None),
            port=port,
            host=env.get("HOST") or cls.host,
            telegram_max_rate=max_rate,
            report_retention_days=retention,
            log_format=log_format,
            log_level=log_level,
        )

    @property
    def db_path(self) -> Path:
        """The SQLite database file."""
        return self.data_dir / "bot.db"

    @property
    def channels(self) -> list[str]:
        """The channels that are configured."""
        found = []
        if self.telegram_token:
            found.append("telegram")
        if self.whatsapp_token:
            found.append("whatsapp")
        return found
