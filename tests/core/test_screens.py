"""What a resident meets: the silent call told right, screens that fit, Back, the form's summary."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.channels.console import run_chat, run_jsonl
from bot.content.i18n import LANGS
from bot.content.loader import Content
from bot.core.cards import TOPIC_PAGE
from bot.core.engine import Engine
from bot.core.types import Inbound
from bot.service.conversation import Conversations
from bot.storage.memory import MemoryStore
from bot.storage.sqlite import SqliteStore
from tests.conftest import Chat, ids
from tests.core.test_reporting import FORM


@pytest.mark.parametrize("lang", LANGS)
def test_the_silent_call_is_told_as_it_works_in_every_language(engine: Engine, lang: str) -> None:
    chat = Chat(engine, lang)
    [card] = chat.press("emergency")
    [menu] = chat.press("menu")
    for text in (card.text, menu.text):
        assert "999" in text and "55" in text
        assert text.index("999") < text.index("55")  # call first; 55 only when asked
    _ = engine.content.catalogs.get(lang)
    english = engine.content.catalogs.get("en")
    # The wording is the new one, translated: no language still shows the old promise.
    assert "stay on the line" in english(engine.content.nodes["emergency"].text)
    assert "The police will know you need help" not in card.text
    if lang == "en":
        assert "stay on the line and listen" in card.text
        assert "press 55 when a recorded voice asks" in card.text
        assert "On a landline, just stay on the line." in card.text
        assert "where you are" not in card.text  # never promised


def test_the_housing_team_is_reached_by_a_homeowner_next_to_a_council_home(chat: Chat) -> None:
    [question] = chat.press("report.noise")
    assert "council estate" in question.text
    assert "You do not need to be a council tenant yourself" in question.text
    assert "Do you rent your home" not in question.text
    [yes, *_rest] = question.choices
    assert yes.label == "Yes"
    [answer] = chat.press(yes.id)
    assert "housing ASB team" in answer.text


def test_a_topic_with_many_services_shows_five_at_a_time(engine: Engine, content: Content) -> None:
    services = [s.id for s in content.directory.in_topic("youth")]
    assert len(services) > 2 * TOPIC_PAGE  # the case that needed it
    chat = Chat(engine)
    seen: list[str] = []
    [page] = chat.press("topic:youth")
    assert "services can help" in page.text
    for name in (content.directory.services[s].name for s in services):
        assert name not in page.text  # named once, on its button, not twice
    while True:
        shown = [i.removeprefix("svc:") for i in ids(page) if i.startswith("svc:")]
        assert 0 < len(shown) <= TOPIC_PAGE
        seen += shown
        more = [c.id for c in page.choices if c.label == "More services"]
        if not more:
            break
        [page] = chat.press(more[0])
    assert seen == services  # every one reachable, in order, none twice
    # Back from a service goes to the page it was on.
    [card] = chat.press(f"svc:{seen[-1]}")
    back = [c.id for c in card.choices if c.label == "⬅️ Back"]
    assert back == [f"topic:youth/{(len(services) - 1) // TOPIC_PAGE + 1}"]


def test_back_after_a_typed_question_returns_to_the_screen_it_was_typed_on(chat: Chat) -> None:
    chat.press("report.noise")
    replies = chat.say("my neighbour plays loud music every night")
    back = [c.id for r in replies for c in r.choices if c.label == "⬅️ Back"]
    assert back == ["report.noise"]
    [screen] = chat.press("report.noise")
    assert "council estate" in screen.text


def test_one_answer_can_be_changed_on_the_summary_before_send(engine: Engine) -> None:
    conv = Conversations(engine, MemoryStore(), b"s" * 32)
    for inbound in FORM:
        conv.handle("telegram", "u1", inbound)
    [summary] = conv.handle(
        "telegram", "u1", Inbound.choice("report.form.contact#contact=>report.form.confirm")
    )
    assert "report.form.change" in ids(summary)
    [which] = conv.handle("telegram", "u1", Inbound.choice("report.form.change"))
    assert [c.label for c in which.choices][:5] == [
        "What", "Where", "When", "Still going on", "Contact"
    ]  # fmt: skip
    conv.handle(
        "telegram", "u1", Inbound.choice("report.form.change#editing=yes>report.form.where")
    )  # Where
    [summary] = conv.handle("telegram", "u1", Inbound.message("Portobello Road W11"))
    assert "Portobello Road W11" in summary.text and "Golborne Road" not in summary.text
    assert "Loud music from flat 3 every night" in summary.text  # the rest kept
    conv.handle("telegram", "u1", Inbound.choice("report.form.change"))
    conv.handle(
        "telegram", "u1", Inbound.choice("report.form.change#editing=yes>report.form.when")
    )  # When
    [summary] = conv.handle(
        "telegram", "u1", Inbound.choice("report.form.when#when=today>report.form.ongoing")
    )  # Today
    assert "When: Today" in summary.text and "Still going on: Yes" in summary.text
    [done] = conv.handle("telegram", "u1", Inbound.choice("act:file_report"))
    [report] = conv.store.reports()
    assert (report.where, report.when) == ("Portobello Road W11", "today")
    assert "Note it somewhere safe" in done.text and report.reference in done.text


def test_an_answer_over_the_limit_is_cut_and_the_person_told(chat: Chat) -> None:
    [form] = chat.press("report.form")
    assert "500 characters at most" in form.text
    told, question = chat.say("noise " * 120)
    assert "longer than 500 characters" in told.text
    assert "Where is it happening?" in question.text
    assert len(chat.session.draft["what"]) == 500


def test_console_numbers_every_choice_of_a_turn_once(engine: Engine, tmp_path: Path) -> None:
    conv = Conversations(engine, MemoryStore(), b"s" * 32)
    out = io.StringIO()
    # A danger message brings the 999 card and the services: both sets of choices numbered.
    run_chat(conv, "en", io.StringIO("he has a knife outside my door\n1\n"), out)
    text = out.getvalue()
    turn = text.split("> ")[1]
    numbers = [
        line.split(".")[0].strip() for line in turn.splitlines() if line[:3].strip().isdigit()
    ]
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)]
    assert "Find help" in text.split("> ")[2]  # "1" picked the card's first choice


def test_the_console_language_option_wins_over_an_earlier_session(
    engine: Engine, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    conv = Conversations(engine, store, b"s" * 32)
    run_chat(conv, "fr", io.StringIO(""), io.StringIO())  # an earlier session in French
    out = io.StringIO()
    run_chat(conv, "es", io.StringIO(""), out)
    assert "Llame al 999" in out.getvalue() or "llame al 999" in out.getvalue().lower()
    lines = io.StringIO()
    run_jsonl(conv, "ar", io.StringIO('{"choice": "menu"}\n'), lines)
    [menu] = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert "999" in menu["text"] and "مساعدة" in menu["text"]  # Arabic, as asked
    store.close()
