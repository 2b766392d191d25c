"""The conversation core: one pure function from (session, inbound) to (session, replies)."""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.content.i18n import (
    LANGS,
    N_,
    NATIVE_NAMES,
    negotiate,
)
from bot.content.loader import Content
from bot.core import forms
from bot.core.actions import Actions
from bot.core.reports import new_reference
from bot.core.screens import (
    ASK,
    EMERGENCY,
    LANGUAGE,
    MENU,
    RESULTS,
    Screens,
)
from bot.core.state import State, Turn
from bot.core.types import Asked, Inbound, Kind, Reply, Session
from bot.understanding.langid import LanguageGuesser
from bot.understanding.reader import (
    Ask,
    Danger,
    Reading,
    Understanding,
    load_understanding,
)
from bot.understanding.text import clean, fold

log = logging.getLogger("bot.core.engine")

_GREETINGS = frozenset({"hi", "hello", "hey", "menu", "start", "home", "salam", "hola", "bonjour",
                        "ola", "olá", "salaan", "سلام", "مرحبا", "منو"})  # fmt: skip

_LANGUAGE_NAMES = {fold(name): lang for lang, name in NATIVE_NAMES.items()}

TOO_LONG = N_(
    "That answer is longer than {limit} characters, so I kept the first {limit}. You can "
    "change it on the summary before you send."
)


class Engine:
    """Turns what a person did into what the assistant says, knowing nothing of channels."""

    def __init__(self, content: Content, references: Callable[[], str] = new_reference) -> None:
        self.content = content
        self.references = references
        self.screens = Screens(content)
        self.actions = Actions(content, self.screens, references)

    @functools.cached_property
    def understanding(self) -> Understanding:
        """The learned reading of what people type, loaded (or trained) on first use."""
        return load_understanding(self.content)

    def warm(self) -> None:
        """Load the understanding now, so the first person does not wait for it."""
        _ = self.understanding

    @functools.cached_property
    def languages(self) -> LanguageGuesser:
        """Guesses a first message's language; built on first use (only WhatsApp needs it)."""
        return LanguageGuesser(self.content.catalogs, self.content.locales)

    # The one entry point.
    def handle(self, session: Session, inbound: Inbound, now: datetime | None = None) -> Turn:
        """Answer one inbound event; never raises for anything a person can send."""
        st = State(copy.deepcopy(session), now or datetime.now(UTC))
        if st.session.lang is None:
            st.session.lang = negotiate(inbound.lang_hint)
        if inbound.kind is Kind.COMMAND:
            self._command(st, inbound.text.lower().lstrip("/"), inbound.arg)
        elif inbound.kind is Kind.CHOICE:
            self._choice(st, inbound.text)
        elif inbound.kind is Kind.TEXT:
            self._text(st, inbound.text)
        elif inbound.kind is Kind.LOCATION and inbound.location and self.actions.asks_location(st):
            lat, lon = inbound.location
            st.draft["where"] = f"{lat:.4f}, {lon:.4f}"
            self.actions.answered(st, "where", forms.in_borough_location(lat, lon))
        elif inbound.kind is Kind.LOCATION:
            _ = self.screens.tr(st)
            self.screens.nudge(st, _("Thank you. I only use a location when you report something."))
        elif inbound.kind is Kind.EDITED:
            _ = self.screens.tr(st)
            self.screens.nudge(
                st, _("I can't see changes to a message. Please send it again as a new one.")
            )
        else:
            _ = self.screens.tr(st)
            self.screens.nudge(st, _("Sorry, I can only read text and button presses here."))
        lang = st.session.lang or session.lang  # after a quick exit, still answer in their language
        replies = [self.finish(lang, r) for r in st.replies]
        return Turn(st.session, replies, st.events, st.report)

    # Inbound kinds.
    def _command(self, st: State, name: str, arg: str) -> None:
        command = self.content.commands.get(name)
        if command is None:
            _ = self.screens.tr(st)
            self.screens.nudge(
                st, _("Sorry, I don't know that command. Here is the main menu."), MENU
            )
        elif command.action:
            self.actions.handlers[command.action](st)
        elif command.goto == LANGUAGE:
            self.screens.show(st, LANGUAGE)  # the language question itself, never asked first
        elif command.name == "start":
            self.screens.go_or_ask_language(st, self._deep_link(st, arg.strip()))
        else:
            self.screens.go_or_ask_language(st, command.goto)

    def _choice(self, st: State, choice_id: str) -> None:
        kind, _sep, rest = choice_id.partition(":")
        if kind == "lang" and rest in LANGS:
            st.session.lang = rest
            st.events.append(("language", rest))
            after, st.session.after_lang = st.session.after_lang or MENU, ""
            self.screens.show(st, after)
        elif kind == "act" and rest in self.actions.handlers:
            self.actions.handlers[rest](st)
        elif (choice := self.actions.set_choice(choice_id)) is not None:
            st.draft.update(dict(choice.set))
            self.actions.after_choice(st, choice, choice_id.partition("#")[0])
        elif kind == "sit" and rest in self.content.situations and st.session.lang:
            self._situation(st, rest)
        elif self.screens.exists(choice_id) and not choice_id.startswith("act:"):
            self.screens.go_or_ask_language(st, choice_id)
        else:
            self.screens.button_gone(st)

    def _text(self, st: State, raw: str) -> None:
        text = clean(raw)
        _ = self.screens.tr(st)
        if not text:
            self.screens.nudge(
                st, _("I didn't catch that. You can use the buttons or type a question.")
            )
            return
        node = self.content.nodes.get(st.session.node)
        pressed = self.screens.typed_choice(st, text, numbers=not (node and node.input))
        if pressed:
            self._choice(st, pressed)
            return
        folded = fold(text).strip(" .!")
        named = _LANGUAGE_NAMES.get(folded)
        if named and not (node and node.input):
            self._choice(st, f"lang:{named}")  # a language's own name, typed: choose it
            return
        if not (node and node.input) and folded in _GREETINGS:
            self.screens.go_or_ask_language(st, MENU)
            return
        reading = self.understanding.read(text)
        if reading.command == "exit" and not (node and node.input):
            self.actions.quick_exit(st)  # "get me out of here": hide it now, before anything else
            return
        if reading.danger is Danger.YES:
            st.events.append(("emergency", "text"))
            self.screens.show(st, EMERGENCY)
            if node and node.input:
                st.session.node = node.id  # the form waits for them; nothing is lost
        if node and node.input:
            st.draft[node.input] = forms.answer(text)
            if len(text) > forms.MAX_ANSWER:
                st.replies.append(Reply(_(TOO_LONG, limit=forms.MAX_ANSWER)))
            where = forms.in_borough_text(text) if node.input == "where" else ""
            self.actions.answered(st, node.input, where, node)
            return
        if st.session.lang is None:
            self.screens.show(st, LANGUAGE)
            return
        self._answer(st, reading)

    def _answer(self, st: State, reading: Reading) -> None:
        """Do what the words ask, or show what fits them; ask back when unsure."""
        _ = self.screens.tr(st)
        urgent = bool(st.replies)  # the emergency card is already there
        if reading.command and not urgent:
            st.events.append(("search", "command"))
            self._command(st, reading.command, "")  # words do what the /command does
            return
        if reading.screen and not urgent:
            # Asking how to stay safe: the advice itself, rather than a helpline.
            st.events.append(("search", "tip" if reading.screen.startswith("tips") else "screen"))
            self.screens.show(st, reading.screen)
            return
        if urgent and not reading.hits:
            return  # the 999 card alone
        st.events.append(("search", "hit" if reading.hits else "miss"))
        if not reading.hits:
            self.screens.nudge(
                st, _("Sorry, I couldn't find a service for that. Pick a topic:"), "help"
            )
            return
        self._offer(st, [h.id for h in reading.hits])
        ask = Ask("danger", ()) if reading.danger is Danger.MAYBE else reading.ask
        if ask and not urgent:
            st.events.append(("ask", ask.kind))
            st.session.asked = Asked(ask.kind, tuple(ask.options))
            self.screens.show(st, ASK)
        else:
            self.screens.show(st, RESULTS)

    def _offer(self, st: State, services: list[str]) -> None:
        """Keep the services found, for the results screen: their ids, never the words."""
        for sid in services:
            st.events.append(("service", sid))
        st.session.results = tuple(services)
        if st.session.node not in (RESULTS, ASK, None):
            st.session.came_from = st.session.node  # Back returns there
        st.session.topic = ""

    def _situation(self, st: State, situation_id: str) -> None:
        """A situation chosen from a question back: its services, screen or command."""
        situation = self.content.situations[situation_id]
        if situation.command:
            self._command(st, situation.command, "")
        elif situation.screen:
            self.screens.show(st, situation.screen)
        elif situation.danger:
            self.screens.show(st, EMERGENCY)
        else:
            self._offer(st, list(situation.services[:3]))
            self.screens.show(st, RESULTS)

    def _deep_link(self, st: State, payload: str) -> str:
        """Read a /start payload such as `vawg`, `so` or `so_youth`: a language and/or a topic."""
        target = MENU
        for part in payload.lower().replace("-", "_").split("_"):
            if part in LANGS:
                st.session.lang = part
            elif part in self.content.directory.topics:
                target = f"topic:{part}"
            elif part in self.content.nodes and "." not in part:
                target = part
        return target

    def confirmation(self, lang: str | None, reference: str) -> Reply:
        """The reply once a report is safely stored; sent again if the same message comes back."""
        return self.actions.confirmation(lang, reference)

    def finish(self, lang: str | None, reply: Reply) -> Reply:
        """Mark the reply's language; right-to-left ones keep numbers and links readable."""
        return self.screens.finish(lang, reply)
