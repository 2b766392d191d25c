"""`bot run` with channels configured: start them, serve webhooks, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from bot.channels.server import server
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.web import create_app
from bot.content.loader import load_content
from bot.core.engine import Engine
from bot.service.conversation import Conversations
from bot.service.worker import EngineProcess
from bot.settings import Settings
from bot.storage.sqlite import SqliteStore
from bot.storage.store import StoreUnavailable, Upkeep, load_secret

log = logging.getLogger("bot.run")

PURGE_EVERY = 24 * 3600.0  # seconds between applications of the retention rules


async def purge_daily(store: Upkeep, report_days: int, stop: asyncio.Event) -> None:
    """Apply the retention rules at start and then once a day, until `stop` is set."""
    while not stop.is_set():
        try:
            sessions, reports = store.purge(time.time(), report_days)
            log.info("purged", extra={"sessions": sessions, "reports": reports})
        except StoreUnavailable as exc:
            log.error("purge failed: %s", exc)  # tried again tomorrow
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_EVERY)


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run every configured channel until `stop` is set (or SIGTERM/SIGINT arrives)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    store = SqliteStore(settings.db_path)
    # The turns run in a second process, on another core; this one only talks to the channels.
    engine_process = EngineProcess(
        settings.db_path, settings.data_dir, settings.log_format, settings.log_level
    )
    secret = load_secret(settings.data_dir)  # before the child starts, so both read one key
    conversations = Conversations(Engine(load_content()), store, secret, remote=engine_process)
    telegram = None
    if settings.telegram_token is not None:
        telegram = TelegramChannel(conversations, settings, max_rate=settings.telegram_max_rate)
    whatsapp = None
    if settings.whatsapp_token:
        # Imported only when configured: pywa is a fifth of a Telegram-only start.
        from bot.channels.whatsapp.channel import WhatsAppChannel

        whatsapp = WhatsAppChannel(conversations, settings)
    web = None
    web_task: asyncio.Task[None] | None = None
    purging: asyncio.Task[None] | None = None
    try:
        # The engine's process loads its model while the channels connect: both take a while.
        channels = [c for c in (telegram, whatsapp) if c is not None]
        await asyncio.gather(engine_process.start(), *(c.start() for c in channels))
        # Served in polling mode too: /healthz is what a container's health check asks.
        hook = telegram if settings.telegram_webhook_url else None
        app = create_app(
            store, telegram=hook, whatsapp=whatsapp, engine_alive=lambda: engine_process.alive
        )
        web = server(app, settings.port, settings.host)
        web_task = asyncio.create_task(web.serve())
        purging = asyncio.create_task(purge_daily(store, settings.report_retention_days, stop))
        log.info("running", extra={"channels": ",".join(settings.channels)})
        await stop.wait()
    finally:
        # Stop taking updates first, then finish the ones in hand, then close the database.
        if web is not None and web_task is not None:
            web.should_exit = True
            await web_task
        if purging is not None:
            purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purging
        if telegram is not None:
            await telegram.stop()
        if whatsapp is not None:
            await whatsapp.close()
        await engine_process.close()
        store.close()
        log.info("stopped")
