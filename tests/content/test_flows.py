"""Every screen of every flow, in every language: renders, links to what exists, has a way home."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from bot.content.commands import load_commands
from bot.content.corpus import COMMANDS as SITUATION_COMMANDS
from bot.content.directory import MAX_LABEL
from bot.content.flows import FlowError, load_flows, mermaid
from bot.content.i18n import LANGS
from bot.content.loader import Content
from bot.core.engine import Engine
from bot.core.screens import MENU
from bot.core.types import Inbound, Reply
from tests.conftest import Chat

ACTIONS = {"act:exit", "act:forget_confirmed", "act:file_report", "act:cancel_report"}


def resolves(engine: Engine, choice_id: str) -> bool:
    """A button leads somewhere real: a screen, an answer button, an action or a language."""
    return (
        choice_id in ACTIONS
        or choice_id.startswith("lang:")
        or engine.screens.exists(choice_id)
        or engine.actions.set_choice(choice_id) is not None
    )


def all_screens(content: Content) -> list[str]:
    d = content.directory
    return [
        *content.nodes,
        *(f"topic:{t}" for t in d.topics),
        *(f"svc:{s}" for s in d.services),
    ]


def open_screen(engine: Engine, lang: str, screen: str) -> tuple[Chat, list[Reply]]:
    """A chat in `lang` taken straight to `screen` from the menu; its replies."""
    chat = Chat(engine, lang)
    chat.session.node = "privacy.forget" if screen == "act:forget_confirmed" else MENU
    if screen == "report.form.confirm":  # the summary needs answers to sum up
        chat.session.draft = {"what": "Loud music", "where": "W10"}
    return chat, chat.press(screen)


@pytest.mark.parametrize("lang", LANGS)
def test_every_screen_renders_in_every_language(
    engine: Engine, content: Content, lang: str
) -> None:
    for screen in all_screens(content):
        chat, replies = open_screen(engine, lang, screen)
        assert len(replies) == 1, screen
        reply = replies[0]
        assert chat.session.node == screen, f"{screen} fell back to {chat.session.node}"
        assert reply.text.strip(), screen
        assert len(reply.text) < 4096, screen
        labels = [c.label for c in reply.choices]
        assert all(0 < len(label) <= MAX_LABEL for label in labels), (screen, labels)
        assert len(set(labels)) == len(labels), (screen, labels)
        for c in reply.choices:
            assert len(c.id.encode()) <= 64, c.id
            assert resolves(engine, c.id), (screen, c)
        if screen != MENU:
            assert MENU in [c.id for c in reply.choices], f"{screen} has no way home"


def test_every_node_is_reachable_from_the_menu(engine: Engine, content: Content) -> None:
    """Press every button (and answer every question) from the menu: every screen is reached."""
    start = Chat(engine)
    start.press(MENU)
    todo = deque([start.session])
    seen: set[tuple[str, str, str]] = set()
    reached = {MENU}
    while todo:
        session = todo.popleft()
        chat = Chat(engine)
        chat.session = session
        [screen] = chat.press(session.node) if session.node != "results" else [None]
        if screen is None:
            continue
        node = content.nodes.get(session.node)
        moves = [Inbound.choice(c.id) for c in screen.choices if c.id != "act:exit"]
        if node is not None and node.input:
            moves.append(Inbound.message("something happened on Golborne Road W10"))
        for move in moves:
            step = Chat(engine)
            step.session = chat.session
            step.send(move)
            # A state is new when it reaches a screen with some answer not seen there yet:
            # every answer is tried at every screen (the Community Trigger's route depends on
            # them), without walking every combination of answers, which takes minutes.
            where = step.session.node
            draft = step.session.draft
            state = {(where, "", "")} | {(where, k, repr(v)) for k, v in draft.items()}
            reached.add(where)
            if not state <= seen:
                seen |= state
                todo.append(step.session)
    assert set(all_screens(content)) - reached == set()


def test_flow_problems_are_named(tmp_path: Path, content: Content) -> None:
    (tmp_path / "a.yaml").write_text(
        "nodes:\n"
        "  menu:\n    text: Hi\n    choices:\n      - label: Go\n        goto: nowhere\n"
        "  other:\n    text: ''\n    services: [no-such-service]\n"
        "  third:\n    text: x\n    choices:\n      - label: No\n        goto: menu\n"
    )
    with pytest.raises(FlowError) as err:
        load_flows(tmp_path, content.directory)
    message = str(err.value)
    assert "a.yaml: node menu: goes to `nowhere`, which does not exist" in message
    assert "a.yaml: node other: `text` is missing or empty" in message
    assert "a.yaml: node other: unknown service `no-such-service`" in message
    assert "put quotes around words like No" in message


_WHEN = (
    "nodes:\n  menu:\n    text: When?\n    choices:\n"
    "      - label: Now\n        goto: menu\n        set: {when: now}\n"
    "      - label: Earlier\n        goto: menu\n        set: {when: earlier}\n"
)


def test_a_button_keeps_its_meaning_when_the_flow_is_reordered(
    tmp_path: Path, content: Content
) -> None:
    (tmp_path / "a.yaml").write_text(_WHEN)
    before = {c.label: c.id for c in load_flows(tmp_path, content.directory)["menu"].choices}
    lines = _WHEN.splitlines(keepends=True)
    (tmp_path / "a.yaml").write_text("".join(lines[:4] + lines[7:] + lines[4:7]))
    after = load_flows(tmp_path, content.directory)["menu"].choices
    assert [c.label for c in after] == ["Earlier", "Now"]
    assert {c.label: c.id for c in after} == before
    assert before["Now"] == "menu#when=now>menu"


def test_a_decide_button_needs_its_screens_rule(tmp_path: Path, content: Content) -> None:
    now = "goto: menu\n        set: {when: now}"
    (tmp_path / "a.yaml").write_text(
        _WHEN.replace(now, now.replace("goto: menu", "action: decide"))
    )
    with pytest.raises(FlowError, match="need the node's `decide`"):
        load_flows(tmp_path, content.directory)


def test_two_buttons_that_do_the_same_are_refused(tmp_path: Path, content: Content) -> None:
    (tmp_path / "a.yaml").write_text(_WHEN.replace("earlier", "now"))
    with pytest.raises(FlowError, match="same answers and leads to the same place"):
        load_flows(tmp_path, content.directory)


def test_an_old_numbered_button_is_answered_kindly(chat: Chat) -> None:
    chat.press("report.form")
    [reply] = chat.press("report.form.when#0")  # how buttons were named before
    assert "no longer works" in reply.text
    assert "when" not in chat.session.draft


def test_mermaid_draws_every_node(content: Content) -> None:
    drawing = mermaid(content.nodes, content.directory.topics)
    assert drawing.startswith("graph TD")
    assert 'menu -- "Find help" --> help' in drawing
    assert "tips_fraud" in drawing
    # The report form is one path: typed answers are edges too, and topics hang off "help".
    assert 'report_form -- "typed: what" --> report_form_where' in drawing
    assert 'report_form_where -- "typed: where" --> report_form_when' in drawing
    assert 'help -- "topic" --> topic_vawg' in drawing
    assert 'report_form_change -. "Back" .-> report_form_confirm' in drawing


def test_command_problems_are_named(tmp_path: Path, content: Content) -> None:
    (tmp_path / "commands.yaml").write_text(
        "commands:\n"
        "  start: {goto: menu}\n"
        "  go: {goto: nowhere}\n"
        "  wipe: {action: shred}\n"
        "  both: {goto: menu, action: exit}\n"
        "  again: {goto: menu, also: [start]}\n"
    )
    with pytest.raises(FlowError) as err:
        load_commands(tmp_path / "commands.yaml", set(content.nodes))
    message = str(err.value)
    assert "command go: goes to `nowhere`, which does not exist" in message
    assert "command wipe: unknown action `shred`" in message
    assert "command both: needs exactly one of `goto` or `action`" in message
    assert "command again: /start is already a command" in message


def test_every_command_in_the_file_answers(chat: Chat, content: Content) -> None:
    assert set(SITUATION_COMMANDS) <= set(content.commands)  # words run the same commands
    for name, command in content.commands.items():
        [*_before, reply] = Chat(chat.engine, "en").command(name)
        if command.goto:
            assert reply.text, name
        assert "don't know that command" not in reply.text, name
    [reply] = chat.command("nonsense")
    assert "don't know that command" in reply.text
