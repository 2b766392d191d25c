"""The conversation core, as a person would meet it."""

from __future__ import annotations

import copy

from bot.content.i18n import LANGS, NATIVE_NAMES
from bot.core.engine import Engine
from bot.core.types import Effect, Inbound, Kind, Session
from tests.conftest import Chat, ids


def test_main_menu_always_offers_the_emergency_entry(chat: Chat) -> None:
    [menu] = chat.command("start")
    assert ids(menu)[0] == "emergency"
    assert "999" in menu.text and "55" in menu.text


def test_emergency_card_says_999_then_55(chat: Chat) -> None:
    [card] = chat.press("emergency")
    assert "Call 999" in card.text
    assert "stay on the line and listen" in card.text and "press 55 when" in card.text
    assert "101" in card.text
    assert "act:exit" in ids(card)


def test_danger_in_free_text_answers_999_first(chat: Chat) -> None:
    replies = chat.say("he has a knife outside my door")
    assert "Call 999" in replies[0].text
    assert "press 55" in replies[0].text
    assert ("emergency", "text") in chat.events


def test_ordinary_question_does_not_raise_the_alarm(chat: Chat) -> None:
    replies = chat.say("tips to keep my bike safe")
    assert all("press 55" not in r.text for r in replies)


def test_free_text_finds_services(chat: Chat) -> None:
    [reply] = chat.say("anonymous crime report")
    assert "Crimestoppers" in reply.text
    assert "0800 555 111" in reply.text
    assert "svc:crimestoppers" in ids(reply)


def test_typed_number_picks_a_button_of_the_current_screen(chat: Chat) -> None:
    chat.command("start")
    [reply] = chat.say("2")
    assert chat.session.node == "help"
    assert "topic:vawg" in ids(reply)


def test_typed_button_words_work_like_a_press(chat: Chat) -> None:
    chat.command("start")
    chat.say("safety tips")
    assert chat.session.node == "tips"


def test_topic_lists_services_and_each_opens_a_card(chat: Chat) -> None:
    [topic] = chat.press("topic:vawg")
    assert "The Angelou Partnership" in [c.label for c in topic.choices]
    assert "act:exit" in ids(topic)  # a sensitive screen carries quick exit
    [card] = chat.press("svc:angelou")
    assert "0808 801 0660" in card.text
    assert "topic:vawg" in ids(card)  # back goes to the topic
    assert "menu" in ids(card)


def test_stale_or_forged_button_gets_the_menu(chat: Chat) -> None:
    [reply] = chat.press("svc:does-not-exist")
    assert "no longer works" in reply.text
    assert "emergency" in ids(reply)


def test_bad_input_keeps_the_current_screen(chat: Chat) -> None:
    chat.press("tips")
    [reply] = chat.send(Inbound(Kind.UNSUPPORTED))
    assert "only read text" in reply.text
    assert chat.session.node == "tips"
    assert "tips.fraud" in ids(reply)


def test_empty_and_control_only_messages_get_a_kind_answer(chat: Chat) -> None:
    chat.press("tips")
    [reply] = chat.say("\u202e\u0000\u200f  ")
    assert "didn't catch that" in reply.text
    assert chat.session.node == "tips"


def test_quick_exit_erases_chat_and_session(chat: Chat) -> None:
    chat.press("topic:vawg")
    [reply] = chat.command("exit")
    assert Effect.ERASE_CHAT in reply.effects and Effect.RESET in reply.effects
    assert "violence" not in reply.text.lower()
    assert chat.session == Session()


def test_forget_needs_confirmation(chat: Chat) -> None:
    chat.press("menu")
    [reply] = chat.press("act:forget_confirmed")  # not from the confirmation screen
    assert reply.effects == ()
    [confirm] = chat.command("forget")
    assert "act:forget_confirmed" in ids(confirm)
    [done] = chat.press("act:forget_confirmed")
    assert done.effects == (Effect.FORGET,)
    assert "erased" in done.text


def test_deep_link_opens_topic_and_language(engine: Engine) -> None:
    chat = Chat(engine, lang=None)
    [reply] = chat.command("start", "so_youth")
    assert chat.session.lang == "so"
    assert chat.session.node == "topic:youth"
    assert "svc:midaye" in ids(reply)


def test_unknown_language_asks_in_every_language(engine: Engine) -> None:
    chat = Chat(engine, lang=None)
    [reply] = chat.command("start", "vawg")
    assert [c.id for c in reply.choices] == [f"lang:{lang}" for lang in LANGS]
    assert [c.label for c in reply.choices] == [NATIVE_NAMES[lang] for lang in LANGS]
    # The question itself is asked in every language: nobody can read one they don't know.
    for question in ("Choose your language.", "اختر لغتك.", "Choisissez votre langue.",
                     "Dooro luqaddaada.", "Elija su idioma."):  # fmt: skip
        assert question in reply.text
    [after] = chat.press("lang:fr")
    assert chat.session.lang == "fr"
    assert chat.session.node == "topic:vawg"  # the deep link is not lost
    assert "svc:angelou" in ids(after)


def test_device_language_is_used_when_known(engine: Engine) -> None:
    chat = Chat(engine, lang=None)
    chat.send(Inbound.command("start", lang_hint="pt-br"))
    assert chat.session.lang == "pt"


def test_danger_comes_before_the_language_question(engine: Engine) -> None:
    chat = Chat(engine, lang=None)
    replies = chat.say("help me he is hitting me")
    assert "999" in replies[0].text and "55" in replies[0].text


def test_unknown_command_gets_the_menu(chat: Chat) -> None:
    [reply] = chat.command("frobnicate")
    assert "don't know that command" in reply.text
    assert "emergency" in ids(reply)


def test_session_keeps_no_typed_words(chat: Chat) -> None:
    chat.say("my neighbour Mrs Smith at 12 Acacia Road plays drums")
    assert "Smith" not in repr(chat.session)
    assert "Acacia" not in repr(chat.session)


def test_location_is_acknowledged_and_not_kept(chat: Chat) -> None:
    [reply] = chat.send(Inbound(Kind.LOCATION, location=(51.5, -0.2)))
    assert "location" in reply.text
    assert "51.5" not in repr(chat.session)


def test_results_screen_survives_a_number(chat: Chat) -> None:
    [found] = chat.say("anonymous crime report")
    second = found.choices[1].id
    chat.say("2")
    assert chat.session.node == second


def test_a_turn_leaves_the_callers_session_as_it_was(engine: Engine) -> None:
    """The engine is pure: the draft it fills is its own copy, never the caller's."""
    session = Session("en", "report.form", 1.0, draft={"category": "noise"})
    before = copy.deepcopy(session)
    turn = engine.handle(session, Inbound.typed("Loud music from the flat above every night"))
    assert session == before
    assert turn.session.draft["what"] == "Loud music from the flat above every night"
    assert turn.session.node == "report.form.where"


def test_every_flow_action_does_something_and_forget_always_asks_first(engine: Engine) -> None:
    chat = Chat(engine)
    chat.press("lang:en")
    # "forget" as a flow button's action opens the question; it erases nothing yet.
    [ask] = chat.press("act:forget")
    assert chat.session.node == "privacy.forget" and Effect.FORGET not in ask.effects
    assert "Yes, erase everything" in [c.label for c in ask.choices]
    # An old "Yes, erase" pressed from another screen asks again rather than erasing.
    chat.press("menu")
    [again] = chat.press("act:forget_confirmed")
    assert Effect.FORGET not in again.effects and chat.session.node == "privacy.forget"
    [done] = chat.press("act:forget_confirmed")
    assert Effect.FORGET in done.effects
    assert set(engine.actions.handlers) == {
        "exit", "forget", "forget_confirmed", "file_report", "cancel_report", "decide"
    }  # fmt: skip


def test_quick_exit_is_on_the_topics_the_directory_marks_sensitive(engine: Engine) -> None:
    topics = engine.content.directory.topics
    assert {t for t in topics if topics[t].sensitive} >= {"vawg", "youth", "safeguarding"}
    for topic in topics:
        [screen] = Chat(engine, "en").press(f"topic:{topic}")
        assert ("act:exit" in ids(screen)) is topics[topic].sensitive, topic
        assert ("999" in screen.text) is topics[topic].sensitive, topic
