"""WhatsApp rendering: every screen in every language fits WhatsApp's buttons and lists."""

from __future__ import annotations

import pytest

from bot.channels.whatsapp.render import (
    CLEAR_CHAT,
    MAX_BODY,
    MAX_BUTTON_TITLE,
    MAX_LIST_BUTTON,
    MAX_ROW_DESCRIPTION,
    MAX_ROW_TITLE,
    MAX_ROWS,
    MAX_TEXT,
    PAGE_PREFIX,
    Outgoing,
    render,
    to_whatsapp,
)
from bot.content.i18n import LANGS
from bot.content.loader import Content
from bot.core.engine import Engine
from bot.core.screens import MENU
from bot.core.types import Choice, Effect, Reply
from bot.understanding.langid import LanguageGuesser
from tests.conftest import Chat
from tests.content.test_flows import all_screens, open_screen


def check_limits(out: list[Outgoing]) -> None:
    for message in out:
        buttons = message.buttons
        if buttons is None:
            assert 0 < len(message.text) <= MAX_TEXT
        elif isinstance(buttons, list):
            assert 0 < len(message.text) <= MAX_BODY
            assert 1 <= len(buttons) <= 3
            assert all(0 < len(b.title) <= MAX_BUTTON_TITLE for b in buttons)
        else:
            assert 0 < len(message.text) <= MAX_BODY
            assert 0 < len(buttons.button_title) <= MAX_LIST_BUTTON
            rows = [r for s in buttons.sections for r in s.rows]
            assert 1 <= len(rows) <= MAX_ROWS
            assert all(0 < len(r.title) <= MAX_ROW_TITLE for r in rows)
            assert all(len(r.description or "") <= MAX_ROW_DESCRIPTION for r in rows)


def pages(reply: Reply, engine: Engine) -> list[list[Outgoing]]:
    """Every page of a reply, following its "More" rows."""
    _ = engine.content.catalogs.get(reply.lang)
    found, page = [], 0
    while True:
        out = render(reply, _, page)
        found.append(out)
        last = out[-1].buttons
        rows = (
            [r for s in last.sections for r in s.rows]
            if last and not isinstance(last, list)
            else []
        )
        if not rows or not str(rows[-1].callback_data).startswith(PAGE_PREFIX):
            return found
        page += 1


@pytest.mark.parametrize("lang", LANGS)
def test_every_screen_fits_whatsapp_in_every_language(
    engine: Engine, content: Content, lang: str
) -> None:
    for screen in all_screens(content):
        _chat, [reply] = open_screen(engine, lang, screen)
        offered: list[str] = []
        for out in pages(reply, engine):
            check_limits(out)
            for message in out:
                if isinstance(message.buttons, list):
                    offered += [b.callback_data for b in message.buttons]
                elif message.buttons is not None:
                    offered += [r.callback_data for s in message.buttons.sections for r in s.rows]
        # Every choice is offered once, across the pages.
        assert [c for c in offered if not c.startswith(PAGE_PREFIX)] == [
            c.id for c in reply.choices
        ]


def test_three_short_choices_are_reply_buttons_and_more_are_a_list(engine: Engine) -> None:
    _ = engine.content.catalogs.get("en")
    three = Reply("Pick one", (Choice("a", "Yes"), Choice("b", "No"), Choice(MENU, "🏠 Main menu")))
    [out] = render(three, _)
    assert isinstance(out.buttons, list) and [b.title for b in out.buttons] == [
        "Yes",
        "No",
        "🏠 Main menu",
    ]
    many = Reply("Pick", tuple(Choice(f"c{i}", f"Choice {i}") for i in range(12)))
    [first] = render(many, _)
    assert first.buttons is not None and not isinstance(first.buttons, list)
    rows = [r for s in first.buttons.sections for r in s.rows]
    assert [r.title for r in rows][-1] == "➡️ More" and len(rows) == 10
    assert rows[0].description == "Or type 1"
    [second] = render(many, _, page=1)
    assert second.buttons is not None and not isinstance(second.buttons, list)
    rows2 = [r for s in second.buttons.sections for r in s.rows]
    assert [r.title for r in rows2] == ["Choice 9", "Choice 10", "Choice 11"]
    assert rows2[0].description == "Or type 10"  # the number the engine reads for it
    assert second.text == "Choose from the list, or type the number."


def test_long_text_goes_first_then_the_choices(engine: Engine) -> None:
    _ = engine.content.catalogs.get("en")
    reply = Reply("x " * 800, (Choice("a", "Yes"),))
    first, second = render(reply, _)
    assert first.buttons is None and len(first.text) > MAX_BODY
    assert second.text == "Choose from the list, or type the number."


def test_sensitive_screens_say_how_to_clear_the_chat(engine: Engine) -> None:
    chat = Chat(engine, "so")
    [reply] = chat.press("topic:vawg")
    _ = engine.content.catalogs.get("so")
    text = " ".join(o.text for o in render(reply, _))
    assert _(CLEAR_CHAT) in text
    exit_reply = Reply("Cleared.", effects=(Effect.ERASE_CHAT, Effect.RESET))
    assert (
        "WhatsApp keeps this chat" in render(exit_reply, engine.content.catalogs.get("en"))[0].text
    )
    [menu] = Chat(engine, "en").press(MENU)
    assert "WhatsApp keeps" not in " ".join(o.text for o in render(menu, _))


def test_bold_uses_whatsapp_asterisks() -> None:
    assert to_whatsapp("**Call 999** now") == "*Call 999* now"


@pytest.fixture(scope="module")
def guesser(content: Content) -> LanguageGuesser:
    """The language guesser, built once: it reads every example (about a second)."""
    return LanguageGuesser(content.catalogs, content.root / "locales")


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("my neighbour plays loud music every night", "en"),
        ("mon mari me frappe", "fr"),
        ("ابني يتعاطى مخدرات", "ar"),
        ("همسایه هر شب آهنگ بلند میذاره", "fa"),
        ("ninkayga ayaa i garaaca", "so"),
        ("meu vizinho faz barulho", "pt"),
        ("mi vecino hace ruido toda la noche", "es"),
        ("hello", None),  # unclear: the person is asked
        ("ok", None),
    ],
)
def test_first_message_language_is_guessed_only_when_clear(
    guesser: LanguageGuesser, text: str, lang: str | None
) -> None:
    assert guesser.guess(text) == lang
