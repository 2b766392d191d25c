"""Faults at the edges: timeouts, server errors and rate limits, and a restart mid-conversation.

The real python-telegram-bot and pywa talk to the fake APIs on 127.0.0.1. A fake's `stall` holds a
call unanswered until the client gives up: with effect=True the message was delivered and only the
answer was lost on its way back; with effect=False the request never got anywhere.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.channels.retry import ATTEMPTS
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.render import to_html
from bot.content.i18n import LANGS
from bot.core.engine import Engine
from bot.core.types import Inbound
from bot.service.conversation import Conversations
from bot.storage.sqlite import SqliteStore
from bot.storage.store import load_secret
from tests.channels import test_telegram, test_whatsapp
from tests.channels.test_telegram import JSON, Running, buttons, expected, replies_to, settings_for
from tests.channels.test_whatsapp import ME, WhatsAppRig, body, options
from tests.fake_telegram import FakeTelegram
from tests.fake_whatsapp import text_message

# The rigs of the channel tests, found by pytest under these names.
start = test_telegram.start
rig = test_whatsapp.rig

# How long the WhatsApp channel waits for the Graph API in these tests, instead of its 15 s.
GRAPH_TIMEOUT = 0.3
# Words a person types that must never reach a log line.
PRIVATE_WORDS = "my neighbour at number 12 shouts at his kids every night"


@pytest.fixture(autouse=True)
def _warm(engine: Engine) -> None:
    """Build the indexes first: building them blocks the event loop, and the timings here count."""
    engine.warm()
    engine.languages.guess("hello")  # WhatsApp's language guess is built on first use too


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every line logged, tracebacks included, as an operator would read them."""
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def send_statuses(fake: FakeTelegram, chat_id: int) -> list[int]:
    """What Telegram answered to each sendMessage to one chat (0: no answer ever came)."""
    return [
        c.status
        for c in fake.calls
        if c.method == "sendMessage" and c.params.get("chat_id") == chat_id
    ]


# Telegram: timeouts and server errors.
async def test_a_telegram_send_that_times_out_is_sent_again_and_the_bot_answers_on(
    fake: FakeTelegram, start: Callable[..., Awaitable[Running]], engine: Engine
) -> None:
    running = await start()
    # The channel sets no timeouts of its own: python-telegram-bot's 5 s read timeout applies.
    request = running.channel.app.bot.request
    assert request.read_timeout == 5.0
    # The same code path with a shorter wait, so the suite stays fast.
    request._read_timeout = limit = 1.0
    [menu] = expected(engine, "en", Inbound.command("start"))
    # Person 51: Telegram posts the menu, but its answer never comes back.
    fake.stall("sendMessage", effect=True)
    fake.user_message(51, "/start")
    await fake.wait_for(lambda: len(fake.sent(51)) == 1)
    # Person 52, meanwhile: the request is lost on its way to Telegram.
    fake.stall("sendMessage", effect=False)
    fake.user_message(52, "/start")
    started = time.monotonic()
    await fake.wait_for(lambda: len(fake.sent(51)) == 2 and len(fake.sent(52)) == 1, limit + 5)
    assert time.monotonic() - started >= limit - 0.5  # each waited out the full timeout
    # Sent again after the timeout: person 52 sees the menu once; person 51 twice, because
    # nothing tells the bot that its first try got through.
    assert fake.texts(52) == [to_html(menu.text)]
    assert send_statuses(fake, 52) == [0, 200]
    assert fake.texts(51) == [to_html(menu.text)] * 2
    assert send_statuses(fake, 51) == [200, 200]
    # And both get exactly one answer to their next message.
    [about] = expected(engine, "en", Inbound.command("help"))
    for person in (51, 52):
        fake.user_message(person, "/help")
    for person, before in ((51, 2), (52, 1)):
        sent = await replies_to(fake, person, before + 1)
        assert [m["text"] for m in sent[before:]] == [to_html(about.text)]
    await asyncio.sleep(0.2)
    assert (len(fake.sent(51)), len(fake.sent(52))) == (3, 2)


async def test_quick_exit_deletes_even_a_reply_whose_answer_timed_out(
    fake: FakeTelegram, start: Callable[..., Awaitable[Running]]
) -> None:
    running = await start()
    running.channel.app.bot.request._read_timeout = 1.0
    fake.user_message(54, "/start")
    await replies_to(fake, 54, 1)
    fake.user_press(54, "help")
    await replies_to(fake, 54, 2)
    fake.stall("sendMessage", effect=True)
    fake.user_press(54, "topic:vawg")  # the domestic abuse screen: in the chat twice, see above
    await fake.wait_for(lambda: len(fake.sent(54)) == 4, timeout=6)
    assert "9 services can help" in fake.texts(54)[-1]
    fake.user_press(54, "act:exit")
    await fake.wait_for(lambda: fake.texts(54)[-1].startswith("Cleared"))
    left = [m.get("text", "") for m in fake.messages[54].values()]
    assert left == ["Cleared. Send any message to start again."]


async def test_telegram_500s_are_retried_and_when_they_persist_the_bot_gives_up_quietly(
    fake: FakeTelegram,
    start: Callable[..., Awaitable[Running]],
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    await start()
    chat = 7700900555  # long enough that it cannot appear in a log line by chance
    fake.fail("sendMessage", 500)
    fake.user_message(chat, "/start")
    [menu] = await replies_to(fake, chat, 1)
    assert menu["text"] == to_html(expected(engine, "en", Inbound.command("start"))[0].text)
    assert send_statuses(fake, chat) == [500, 200]
    # Telegram keeps failing: after ATTEMPTS tries the reply is dropped, and the log says so
    # without the person's words or chat id.
    fake.fail("sendMessage", 500, times=ATTEMPTS)
    fake.user_message(chat, PRIVATE_WORDS)
    await fake.wait_for(lambda: len(send_statuses(fake, chat)) == 2 + ATTEMPTS)
    await fake.wait_for(lambda: "telegram handler failed" in logged(caplog))
    assert len(fake.sent(chat)) == 1
    assert "ERROR bot.telegram: telegram handler failed: NetworkError" in logged(caplog)
    assert "shouts" not in logged(caplog) and str(chat) not in logged(caplog)
    # The next message is answered as usual.
    fake.user_message(chat, "/help")
    sent = await replies_to(fake, chat, 2)
    assert sent[1]["text"] == to_html(expected(engine, "en", Inbound.command("help"))[0].text)


# WhatsApp: timeouts, server errors and rate limits on sending.
@pytest.fixture
def short_timeout(rig: WhatsAppRig) -> WhatsAppRig:
    """The rig, its channel waiting GRAPH_TIMEOUT for the Graph API instead of 15 s."""
    # The channel takes no timeout setting; its HTTP client is the one place to set it.
    rig.channel.http.timeout = httpx.Timeout(GRAPH_TIMEOUT)
    return rig


async def timed_post(rig: WhatsAppRig, payload: JSON) -> tuple[httpx.Response, float]:
    """Post a signed update to the webhook; the answer and the seconds it took."""
    started = time.monotonic()
    answer = await rig.post(payload)
    return answer, time.monotonic() - started


@pytest.mark.parametrize(
    ("effect", "copies"), [(False, 1), (True, 2)], ids=["request lost", "answer lost"]
)
async def test_a_graph_timeout_is_sent_again_and_the_webhook_still_answers_200(
    short_timeout: WhatsAppRig, effect: bool, copies: int
) -> None:
    rig = short_timeout
    rig.graph.stall(effect=effect)
    answer, took = await timed_post(rig, text_message(ME, "hello"))
    assert answer.status_code == 200 and took < 0.5  # Meta is answered at once
    started = time.monotonic()
    await rig.channel.idle()
    took = time.monotonic() - started
    assert GRAPH_TIMEOUT * 0.9 <= took < GRAPH_TIMEOUT + 2.0  # one timeout, then the retry
    sent = rig.graph.sent(ME)
    # Once if the first try never arrived; twice if it did and only Meta's answer was lost.
    assert len(sent) == copies
    for message in sent:
        assert len(options(message)) == len(LANGS)  # the language question
    assert [c.status for c in rig.graph.calls if c.kind == "send"] == [200 if effect else 0, 200]
    # The next message is answered once.
    [menu] = await rig.say(text_message(ME, "English"))
    assert "999" in body(menu)


@pytest.mark.parametrize(("status", "code"), [(500, 131000), (429, 80007), (429, 131056)], ids=str)
async def test_graph_server_errors_and_rate_limits_are_waited_out(
    rig: WhatsAppRig, status: int, code: int
) -> None:
    rig.graph.fail(status, code=code)
    [ask] = await rig.say(text_message(ME, "hello"))
    assert len(options(ask)) == len(LANGS)
    sends = [c for c in rig.graph.calls if c.kind == "send"]
    assert [c.status for c in sends] == [status, 200]
    assert sends[0].response["error"]["code"] == code


@pytest.mark.parametrize(
    ("fault", "line"),
    [
        ("server error", "ERROR bot.whatsapp: whatsapp send failed: UnknownError"),
        ("timeout", "ERROR bot.whatsapp: whatsapp send failed: ReadTimeout"),
    ],
    ids=["server error", "timeout"],
)
async def test_when_graph_keeps_failing_the_failure_is_logged_without_number_or_words(
    short_timeout: WhatsAppRig, caplog: pytest.LogCaptureFixture, fault: str, line: str
) -> None:
    rig = short_timeout
    caplog.set_level(logging.INFO)
    await rig.say(text_message(ME, "hello"))
    await rig.say(text_message(ME, "English"))
    if fault == "timeout":
        rig.graph.stall(ATTEMPTS, effect=False)
    else:
        rig.graph.fail(500, ATTEMPTS)
    answer, took = await timed_post(rig, text_message(ME, PRIVATE_WORDS))
    assert answer.status_code == 200 and took < 0.5  # else Meta would deliver it again
    await rig.channel.idle()
    statuses = [c.status for c in rig.graph.calls if c.kind == "send"]
    assert statuses[-ATTEMPTS:] == [0 if fault == "timeout" else 500] * ATTEMPTS
    assert len(rig.graph.sent(ME)) == 2  # nothing more reached the person
    lines = logged(caplog)
    head, _sep, tail = line.partition("[{hash}]")
    assert any(x.startswith(head) and tail in x for x in lines.splitlines()), lines
    assert ME not in lines and ME[2:] not in lines and "shouts" not in lines, lines
    # The next message is answered as usual.
    [menu] = await rig.say(text_message(ME, "menu"))
    assert "999" in body(menu)


async def test_metas_redelivery_of_a_slow_webhook_is_not_answered_twice(rig: WhatsAppRig) -> None:
    rig.graph.stall(effect=True, seconds=1.0)  # slow, but within the channel's timeout
    first = text_message(ME, "hello")
    slow = asyncio.create_task(timed_post(rig, first))
    await rig.graph.wait_for(lambda: len(rig.graph.sent(ME)) == 1)
    # Meta gave up waiting and delivers the message again: same id, new bytes.
    again = json.loads(json.dumps(first))
    again["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "1700000999"
    answer, took = await timed_post(rig, again)
    assert answer.status_code == 200 and took < 0.5
    (first_answer, _took) = await slow
    assert first_answer.status_code == 200
    await rig.channel.idle()
    assert len(rig.graph.sent(ME)) == 1


async def test_the_webhook_answers_before_a_slow_graph_api_does(rig: WhatsAppRig) -> None:
    rig.graph.stall(effect=True, seconds=1.0)
    answer, took = await timed_post(rig, text_message(ME, "hello"))
    assert answer.status_code == 200
    assert took < 0.5
    await rig.channel.idle()  # the reply follows once Graph answers
    assert len(rig.graph.sent(ME)) == 1


# A restart: the process dies, and a new one starts on the same data directory.
@dataclass
class Life:
    """One run of the bot process: its database, conversations and Telegram channel."""

    store: SqliteStore
    conversations: Conversations
    channel: TelegramChannel
    alive: bool = True

    async def die(self) -> None:
        """The process ends: what it held in memory is gone; the database file stays."""
        if self.alive:
            self.alive = False
            await self.channel.stop()
            self.store.close()


@pytest.fixture
async def boot(
    fake: FakeTelegram, engine: Engine, tmp_path: Path
) -> AsyncIterator[Callable[[], Awaitable[Life]]]:
    """Start the bot as `bot run` does, on tmp_path, as many times as a test likes."""
    lives: list[Life] = []

    async def _boot() -> Life:
        settings = settings_for(fake, tmp_path)
        store = SqliteStore(settings.db_path)
        conversations = Conversations(engine, store, load_secret(settings.data_dir))
        channel = TelegramChannel(conversations, settings, max_rate=0)
        channel._retry_pause = 0.01
        await channel.start()
        lives.append(Life(store, conversations, channel))
        return lives[-1]

    yield _boot
    for life in lives:
        await life.die()


class Resident:
    """A person in a private Telegram chat, pressing the buttons they see."""

    def __init__(self, fake: FakeTelegram, chat_id: int, device_lang: str = "en") -> None:
        self.fake = fake
        self.chat_id = chat_id
        self.lang = device_lang
        self.updates: list[JSON] = []  # what Telegram delivered to the bot, in order

    async def say(self, text: str, answers: int = 1) -> list[JSON]:
        """Type a message; return the bot's answers."""
        update = self.fake.user_message(self.chat_id, text, language_code=self.lang)
        return await self._answered(update, answers)

    async def press(self, data: str, answers: int = 1) -> list[JSON]:
        """Press a button on the last message that has it; return the bot's answers."""
        update = self.fake.user_press(self.chat_id, data, language_code=self.lang)
        return await self._answered(update, answers)

    async def _answered(self, update: JSON, answers: int) -> list[JSON]:
        self.updates.append(update)
        # The bot runs only when this coroutine waits, so nothing is answered before this count.
        before = len(self.fake.sent(self.chat_id))
        await self.fake.wait_for(lambda: len(self.fake.sent(self.chat_id)) >= before + answers)
        return self.fake.sent(self.chat_id)[before:]

    async def start_a_noise_report(self, what: str, where: str) -> None:
        """From /start to the question "when", by the buttons, typing what and where."""
        await self.say("/start")
        for screen in ("report", "report.what", "report.noise", "report.noise.other"):
            await self.press(screen)
        await self.press("report.noise.other#category=noise>report.form")  # Leave a report
        await self.say(what, answers=2)  # where? and the share-location keyboard
        await self.say(where)

    async def fill_in_a_report(self) -> None:
        """A whole anonymous noise report, up to the screen with Send."""
        await self.start_a_noise_report("Loud music from flat 3 every night", "Golborne Road W10")
        await self.press("report.form.when#when=week>report.form.ongoing")  # this week
        await self.press("report.form.ongoing#ongoing=yes>report.form.contact")  # yes
        await self.press("report.form.contact#contact=>report.form.confirm")  # stay anonymous


async def test_after_a_crash_mid_form_the_person_carries_on_and_is_told_the_answers_are_gone(
    fake: FakeTelegram, boot: Callable[[], Awaitable[Life]], engine: Engine
) -> None:
    fr = engine.content.catalogs.get("fr")
    first = await boot()
    person = Resident(fake, 61, device_lang="fr")
    await person.start_a_noise_report("Musique très forte au 3e étage", "Golborne Road W10 5NR")
    when = fake.sent(61)[-1]
    assert when["text"] == to_html(fr("When did it happen?"))
    stored = first.store.load_session(first.conversations.key("telegram", "61"), time.time())
    assert stored is not None and stored.node == "report.form.when"

    await first.die()
    second = await boot()
    # The person presses "This week" on the question still in front of them: the new process
    # carries on from the stored screen, in French.
    [ongoing] = await person.press("report.form.when#when=week>report.form.ongoing")
    assert ongoing["text"] == to_html(fr("Is it still going on?"))
    assert [label for label, _id in buttons(ongoing)][:3] == [fr("Yes"), fr("No"), fr("Not sure")]
    await person.press("report.form.ongoing#ongoing=yes>report.form.contact")
    # What they typed before the crash lived only in the old process. Rather than an empty
    # summary whose Send would file nothing, they are told, and the form starts again.
    lost = (
        "Sorry, what you typed for this report was lost: our system restarted. Nothing was "
        "sent. Please fill it in again."
    )
    replies = await person.press(
        "report.form.contact#contact=>report.form.confirm", answers=2
    )  # stay anonymous
    assert replies[0]["text"] == to_html(fr(lost))
    assert (
        "En quelques mots (500 caractères au maximum)" in replies[1]["text"]
    )  # the first question
    assert "Musique" not in replies[1]["text"]
    assert second.store.load_session(second.conversations.key("telegram", "61"), time.time())
    assert second.store.reports() == []


async def test_updates_redelivered_after_a_restart_file_nothing_twice(
    fake: FakeTelegram, boot: Callable[[], Awaitable[Life]]
) -> None:
    first = await boot()
    person = Resident(fake, 62)
    await person.fill_in_a_report()
    [thanks] = await person.press("act:file_report")  # Send
    [report] = first.store.reports()
    assert report.reference in thanks["text"]
    await first.die()
    # The process died before Telegram heard that its last two updates were handled, so Telegram
    # delivers them again to the next one.
    redelivered = copy.deepcopy(person.updates[-2:])  # "Stay anonymous", then Send
    for update in redelivered:
        fake.user_update(update)
    before = len(fake.sent(62))
    second = await boot()
    await fake.wait_for(lambda: len(fake.sent(62)) > before)
    await asyncio.sleep(0.3)
    # The press on "Stay anonymous" is not answered again; Send gets the same confirmation with
    # the same reference, since the bot cannot know whether the first one reached the person.
    assert [m["text"] for m in fake.sent(62)[before:]] == [thanks["text"]]
    assert not fake.pending_updates
    assert second.store.reports() == [report]


async def test_a_confirmation_lost_in_a_crash_arrives_when_telegram_delivers_send_again(
    fake: FakeTelegram, boot: Callable[[], Awaitable[Life]]
) -> None:
    first = await boot()
    person = Resident(fake, 63)
    await person.fill_in_a_report()
    # Send is pressed, the report is filed, and then no confirmation gets out, as if the process
    # had died just after writing to the database.
    fake.fail("sendMessage", 500, times=ATTEMPTS)
    refused = len(send_statuses(fake, 63)) + ATTEMPTS
    await person.press("act:file_report", answers=0)
    await fake.wait_for(lambda: len(send_statuses(fake, 63)) == refused)
    [report] = first.store.reports()  # the report and the update id: one transaction
    assert not any(report.reference in text for text in fake.texts(63))
    await first.die()
    fake.user_update(copy.deepcopy(person.updates[-1]))  # Telegram delivers Send again
    second = await boot()
    await fake.wait_for(lambda: any(report.reference in text for text in fake.texts(63)))
    thanks = fake.sent(63)[-1]
    assert thanks["text"].startswith("<b>Thank you. Your report has been sent.</b>")
    assert report.reference in thanks["text"]
    assert second.store.reports() == [report]
