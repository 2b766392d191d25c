"""Telegram rendering: escaped HTML, split long texts, opaque buttons, typed input read right."""

from __future__ import annotations

import pytest
from telegram import Chat, Location, Message, User

from bot.channels.telegram.render import MAX_TEXT, inbound_from, keyboard, to_html
from bot.channels.telegram.sent import DELETE_WINDOW, SentMessages
from bot.core.engine import Engine
from bot.core.types import Choice, Kind
from bot.understanding.text import split_text
from tests.conftest import Chat as EngineChat


def test_html_escapes_what_people_typed_and_keeps_bold() -> None:
    text = "**Where:** <script>alert(1)</script> & Golborne Rd"
    assert to_html(text) == (
        "<b>Where:</b> &lt;script&gt;alert(1)&lt;/script&gt; &amp; Golborne Rd"
    )


def test_markup_typed_into_a_report_is_shown_as_text(engine: Engine) -> None:
    chat = EngineChat(engine)
    chat.press("report.form")
    typed = "<b>loud</b> music & <a href='http://x'>parties</a>"
    replies = chat.say(typed)
    while chat.session.node != "report.form.confirm":
        replies = chat.say("Golborne Road W10") if "where" in chat.session.node else chat.say("1")
    summary = to_html(replies[-1].text)
    assert (
        "&lt;b&gt;loud&lt;/b&gt; music &amp; &lt;a href='http://x'&gt;parties&lt;/a&gt;" in summary
    )
    assert "<a href" not in summary


def test_long_text_is_split_at_paragraphs_under_the_limit() -> None:
    paragraph = ("Streetline takes reports of noise. " * 20).strip()
    text = "\n\n".join([paragraph] * 12)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p) <= MAX_TEXT for p in parts)
    assert "".join(p.replace("\n", "") for p in parts) == text.replace("\n", "")
    assert all(p.startswith("Streetline") for p in parts)  # cut between paragraphs


def test_an_unbroken_text_is_cut_hard() -> None:
    parts = split_text("x" * 9000)
    assert [len(p) for p in parts] == [4096, 4096, 808]


def test_buttons_carry_choice_ids_not_words_and_short_ones_share_a_row() -> None:
    markup = keyboard((Choice("lang:en", "English"), Choice("lang:ar", "العربية"),
                       Choice("svc:streetline", "A much longer button label")))  # fmt: skip
    assert markup is not None
    rows = [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]
    assert rows == [
        [("English", "lang:en"), ("العربية", "lang:ar")],
        [("A much longer button label", "svc:streetline")],
    ]
    assert keyboard(()) is None


def test_a_choice_id_over_64_bytes_is_refused() -> None:
    with pytest.raises(ValueError):
        keyboard((Choice("x" * 65, "Too long"),))


def _message(**fields: object) -> Message:
    user = User(7, "Resident", False, language_code="fr")
    chat = Chat(7, Chat.PRIVATE)
    return Message(1, None, chat, from_user=user, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "kind", "text", "arg"),
    [
        ({"text": "/start so_youth"}, Kind.COMMAND, "start", "so_youth"),
        ({"text": "/exit@SaferKCBot"}, Kind.COMMAND, "exit", ""),
        ({"text": "my neighbour is noisy"}, Kind.TEXT, "my neighbour is noisy", ""),
        ({"location": Location(-0.2, 51.52)}, Kind.LOCATION, "", ""),
        ({}, Kind.UNSUPPORTED, "", ""),  # a sticker, photo or voice note
    ],
)
def test_what_a_person_sends_becomes_an_inbound_event(
    fields: dict[str, object], kind: Kind, text: str, arg: str
) -> None:
    inbound = inbound_from(_message(**fields), "fr")
    assert (inbound.kind, inbound.text, inbound.arg, inbound.lang_hint) == (kind, text, arg, "fr")
    if kind is Kind.LOCATION:
        assert inbound.location == (51.52, -0.2)


def test_quick_exit_remembers_only_messages_still_deletable() -> None:
    now = [1_000_000.0]
    sent = SentMessages(clock=lambda: now[0])
    sent.add(5, 1)
    now[0] += DELETE_WINDOW / 2
    sent.add(5, 2)
    sent.add(6, 9)
    now[0] += DELETE_WINDOW / 2 + 1
    sent.add(5, 3)
    assert sent.take(5) == [2, 3]  # message 1 is past Telegram's 48 hours
    assert sent.take(5) == []  # taken once
    assert sent.take(6) == [9]


def test_ids_kept_before_a_restart_join_the_quick_exit_and_are_written_once() -> None:
    now = [1_000_000.0]
    sent = SentMessages(clock=lambda: now[0])
    sent.add(5, 20)
    sent.add(7, 4)
    assert sent.unsaved() == [(5, 20, now[0]), (7, 4, now[0])]
    assert sent.unsaved() == []  # each written once
    sent.add(5, 21)
    sent.add(7, 5)
    stored = [(now[0] - DELETE_WINDOW - 1, 1), (now[0] - 60, 12)]  # from before a restart
    assert sent.take(5, stored) == [12, 20, 21]  # 1 is past the 48 hours
    assert sent.unsaved() == [(7, 5, now[0])]  # nothing more about the erased chat
    sent.add(7, 6)
    sent.drop_unsaved(7)  # forget me
    assert sent.unsaved() == []
    assert sent.take(7) == [4, 5, 6]  # quick exit still deletes them until a restart
