"""The conversation core: one pure function from (session, inbound) to (session, replies)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from bot.content.flows import FlowChoice, Node
from bot.content.i18n import (
    LANGS,
    N_,
    NATIVE_NAMES,
    Translator,
    isolate_ltr,
    negotiate,
    right_to_left,
)
from bot.content.loader import Content
from bot.core import cards, forms
from bot.core.reports import Report, community_trigger_applies, new_reference
from bot.core.types import Choice, Effect, Inbound, Kind, Reply, Session
from bot.understanding.langid import LanguageGuesser
from bot.understanding.reader import (
    WHO_OPTIONS,
    Ask,
    Danger,
    Reading,
    Understanding,
    load_understanding,
)
from bot.understanding.text import clean, fold

log = logging.getLogger("bot.core.engine")

MENU = "menu"
LANGUAGE = "language"
EMERGENCY = "emergency"
FORGET_CONFIRM = "privacy.forget"
RESULTS = "results"  # the services found for what a person typed
ASK = "ask"  # a question back, when what a person typed could mean different things
# Screens about abuse or exploitation carry a quick-exit button.
SENSITIVE_TOPICS = frozenset({"vawg", "youth", "slavery", "safeguarding", "victims"})
_GREETINGS = frozenset({"hi", "hello", "hey", "menu", "start", "home", "salam", "hola", "bonjour",
                        "ola", "olá", "salaan", "سلام", "مرحبا", "منو"})  # fmt: skip

_LANGUAGE_NAMES = {fold(name): lang for lang, name in NATIVE_NAMES.items()}

BACK = N_("⬅️ Back")
HOME = N_("🏠 Main menu")
REPORT_FORM = "report.form"
REPORT_CONFIRM = "report.form.confirm"
CHANGE_ANSWER = "report.form.change"  # its buttons open a question of the form to answer again
CONTACT_DETAILS = "report.form.details"  # the one question that has a question after it
TOO_LONG = N_(
    "That answer is longer than {limit} characters, so I kept the first {limit}. You can "
    "change it on the summary before you send."
)
LOST_ANSWERS = N_(
    "Sorry, what you typed for this report was lost: our system restarted. Nothing was sent. "
    "Please fill it in again."
)
EXIT = N_("🚪 Quick exit")
REMINDER = N_("In danger now? Call 999.")
ASK_DANGER = N_("Is someone in danger right now?")
ASK_WHO = N_("Who is this about?")
ASK_TOPIC = N_("Which of these is closest?")
SEE_SERVICES = N_("See the services")
# The buttons of "Who is this about?", one for each of its situations.
WHO_LABELS = dict(
    zip(WHO_OPTIONS, (N_("About me"), N_("Someone I know"), N_("My own behaviour")), strict=True)
)

Event = tuple[str, str]


class Turn(NamedTuple):
    """What one inbound event produced: the new session, replies, aggregate events, a report."""

    session: Session
    replies: list[Reply]
    events: list[Event]
    report: Report | None = None


class UnknownScreen(LookupError):
    """A choice id that names nothing the assistant can show."""


@dataclass
class _State:
    session: Session
    now: datetime
    replies: list[Reply] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    report: Report | None = None

    @property
    def draft(self) -> dict[str, str]:
        """The report form's answers so far."""
        return self.session.data.setdefault(forms.DRAFT, {})  # type: ignore[no-any-return]


class Engine:
    """Turns what a person did into what the assistant says, knowing nothing of channels."""

    def __init__(self, content: Content, references: Callable[[], str] = new_reference) -> None:
        self.content = content
        self.references = references

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
        st = _State(replace(session, data=dict(session.data)), now or datetime.now(UTC))
        if st.session.lang is None:
            st.session.lang = negotiate(inbound.lang_hint)
        if inbound.kind is Kind.COMMAND:
            self._command(st, inbound.text.lower().lstrip("/"), inbound.arg)
        elif inbound.kind is Kind.CHOICE:
            self._choice(st, inbound.text)
        elif inbound.kind is Kind.TEXT:
            self._text(st, inbound.text)
        elif inbound.kind is Kind.LOCATION and inbound.location and self._asks_location(st):
            lat, lon = inbound.location
            st.draft["where"] = f"{lat:.4f}, {lon:.4f}"
            self._answered(st, "where", forms.in_borough_location(lat, lon))
        elif inbound.kind is Kind.LOCATION:
            _ = self.tr(st)
            self._nudge(st, _("Thank you. I only use a location when you report something."))
        elif inbound.kind is Kind.EDITED:
            _ = self.tr(st)
            self._nudge(
                st, _("I can't see changes to a message. Please send it again as a new one.")
            )
        else:
            _ = self.tr(st)
            self._nudge(st, _("Sorry, I can only read text and button presses here."))
        lang = st.session.lang or session.lang  # after a quick exit, still answer in their language
        replies = [self.finish(lang, r) for r in st.replies]
        return Turn(st.session, replies, st.events, st.report)

    def tr(self, st: _State) -> Translator:
        """The translator for the session's language."""
        return self.content.catalogs.get(st.session.lang)

    # Inbound kinds.
    def _command(self, st: _State, name: str, arg: str) -> None:
        if name == "start":
            target = self._deep_link(st, arg.strip())
            self._go_or_ask_language(st, target)
        elif name == "exit":
            self._quick_exit(st)
        elif name in ("language", "lang"):
            self._show(st, LANGUAGE)
        elif name == "forget":
            self._go_or_ask_language(st, FORGET_CONFIRM)
        elif name == "help":
            self._go_or_ask_language(st, "about")
        elif name in ("privacy", "menu", EMERGENCY, "report", "tips"):
            self._go_or_ask_language(st, name)
        else:
            _ = self.tr(st)
            self._nudge(st, _("Sorry, I don't know that command. Here is the main menu."), MENU)

    def _choice(self, st: _State, choice_id: str) -> None:
        kind, _sep, rest = choice_id.partition(":")
        if kind == "lang" and rest in LANGS:
            st.session.lang = rest
            st.events.append(("language", rest))
            self._show(st, st.session.data.pop("after_lang", MENU))
        elif kind == "act" and rest == "exit":
            self._quick_exit(st)
        elif kind == "act" and rest == "forget_confirmed" and st.session.node == FORGET_CONFIRM:
            self._forget(st)
        elif (choice := self._set_choice(choice_id)) is not None:
            st.draft.update(dict(choice.set))
            self._after_choice(st, choice, choice_id.partition("#")[0])
        elif kind == "act" and rest in ("file_report", "cancel_report", "trigger_result"):
            self._action(st, rest)
        elif kind == "sit" and rest in self.content.situations and st.session.lang:
            self._situation(st, rest)
        elif self._exists(choice_id) and not choice_id.startswith("act:"):
            self._go_or_ask_language(st, choice_id)
        else:
            _ = self.tr(st)
            self._nudge(st, _("Sorry, that button no longer works. Here is the main menu."), MENU)

    def _text(self, st: _State, raw: str) -> None:
        text = clean(raw)
        _ = self.tr(st)
        if not text:
            self._nudge(st, _("I didn't catch that. You can use the buttons or type a question."))
            return
        node = self.content.nodes.get(st.session.node)
        pressed = self._typed_choice(st, text, numbers=not (node and node.input))
        if pressed:
            self._choice(st, pressed)
            return
        folded = fold(text).strip(" .!")
        named = _LANGUAGE_NAMES.get(folded)
        if named and not (node and node.input):
            self._choice(st, f"lang:{named}")  # a language's own name, typed: choose it
            return
        if not (node and node.input) and folded in _GREETINGS:
            self._go_or_ask_language(st, MENU)
            return
        reading = self.understanding.read(text)
        if reading.command == "exit" and not (node and node.input):
            self._quick_exit(st)  # "get me out of here": hide it now, before anything else
            return
        if reading.danger is Danger.YES:
            st.events.append(("emergency", "text"))
            self._show(st, EMERGENCY)
            if node and node.input:
                st.session.node = node.id  # the form waits for them; nothing is lost
        if node and node.input:
            st.draft[node.input] = forms.answer(text)
            if len(text) > forms.MAX_ANSWER:
                st.replies.append(Reply(_(TOO_LONG, limit=forms.MAX_ANSWER)))
            where = forms.in_borough_text(text) if node.input == "where" else ""
            self._answered(st, node.input, where, node)
            return
        if st.session.lang is None:
            self._show(st, LANGUAGE)
            return
        self._answer(st, reading)

    # Screens.
    def _go_or_ask_language(self, st: _State, screen: str) -> None:
        if st.session.lang is None:
            st.session.data["after_lang"] = screen
            self._show(st, LANGUAGE)
        else:
            self._show(st, screen)

    def _show(self, st: _State, screen: str) -> None:
        node = self.content.nodes.get(screen)
        if node and node.action == "report_summary" and not st.draft.get("what"):
            # The answers live in memory until Send: after a restart they are gone. Say so,
            # rather than show an empty summary whose Send would file nothing.
            self._restart_form(st)
            return
        try:
            text, choices = self._screen(st, screen)
        except UnknownScreen:
            log.warning("unknown screen requested", extra={"screen": screen[:40]})
            text, choices = self._screen(st, MENU)
            screen = MENU
        st.session.node = screen
        node = self.content.nodes.get(screen)
        st.replies.append(
            Reply(text, tuple(choices), request_location=bool(node and node.location))
        )

    def _restart_form(self, st: _State) -> None:
        """Say the report's answers were lost, then ask the form's first question again."""
        _ = self.tr(st)
        st.replies.append(Reply(_(LOST_ANSWERS)))
        self._show(st, REPORT_FORM)

    def _exists(self, screen: str) -> bool:
        kind, _sep, rest = screen.partition(":")
        d = self.content.directory
        return (
            screen in self.content.nodes
            or (kind == "topic" and _topic_page(rest)[0] in d.topics)
            or (kind == "svc" and rest in d.services)
            or screen in (RESULTS, ASK)
            or (kind == "sit" and rest in self.content.situations)
        )

    def _screen(self, st: _State, screen: str) -> tuple[str, list[Choice]]:
        _ = self.tr(st)
        kind, _sep, rest = screen.partition(":")
        d = self.content.directory
        topic, page = _topic_page(rest) if kind == "topic" else ("", 0)
        if topic in d.topics and page:
            if page == 1:
                st.events.append(("topic", topic))
            st.session.data["topic"] = topic
            st.session.data["topic_page"] = page
            st.session.data.pop("results", None)
            services = d.in_topic(topic)
            shown, more = cards.topic_page(services, page)
            if not shown:
                raise UnknownScreen(screen)
            choices = [Choice(f"svc:{s.id}", _(s.label)) for s in shown]
            if more:
                choices.append(Choice(f"topic:{topic}/{page + 1}", _(cards.MORE_SERVICES)))
            sensitive = topic in SENSITIVE_TOPICS
            text = cards.topic_text(d.topics[topic], len(services), _, page)
            text += f"\n\n{_(REMINDER)}" if sensitive else ""
            back = "help" if page == 1 else _topic_screen(topic, page - 1)
            return text, self._nav(st, choices, back=back, sensitive=sensitive)
        if kind == "svc" and rest in d.services:
            st.events.append(("service", rest))
            service = d.services[rest]
            topic = str(st.session.data.get("topic") or "")
            page = int(st.session.data.get("topic_page") or 1)
            back = _topic_screen(topic, page) if topic in service.topics else "help"
            if st.session.data.get("results") and rest in st.session.data["results"]:
                back = RESULTS
            sensitive = bool(SENSITIVE_TOPICS.intersection(service.topics))
            text = cards.service_card(service, st.now, _)
            if sensitive and rest != "police-emergency":
                text += f"\n\n{_(REMINDER)}"
            return text, self._nav(st, [], back=back, sensitive=sensitive)
        if screen == RESULTS:
            return self._results(st)
        if screen == ASK:
            return self._ask(st)
        node = self.content.nodes.get(screen)
        if node is None:
            raise UnknownScreen(screen)
        st.events.append(("node", node.id))
        text = _(node.text)
        if node.id == LANGUAGE and st.session.lang is None:
            # Nobody can read a question in a language they don't know: ask in all seven.
            text = "\n".join(self.content.catalogs.get(lang)(node.text) for lang in LANGS)
        if node.action == "report_summary":
            text += "\n\n" + forms.summary(st.session.data.get(forms.DRAFT, {}), _)
        if node.services:
            text += "\n\n" + "\n\n".join(
                cards.compact_card(d.services[sid], _) for sid in node.services
            )
        choices = [Choice(c.target, _(c.label)) for c in node.choices]
        if node.action == "topics":
            choices += [Choice(f"topic:{t.id}", _(t.label)) for t in d.topics.values()]
        elif node.action == "languages":
            choices += [Choice(f"lang:{lang}", NATIVE_NAMES[lang]) for lang in LANGS]
        if node.id == MENU or (node.id == LANGUAGE and st.session.lang is None):
            return text, choices  # before a language is chosen, only the languages are offered
        return text, self._nav(st, choices, back=node.back, sensitive=node.sensitive)

    def _nav(self, st: _State, choices: list[Choice], back: str, sensitive: bool) -> list[Choice]:
        """Add the ways out every screen has: back, main menu, and quick exit where it matters."""
        _ = self.tr(st)
        if sensitive:
            choices.append(Choice("act:exit", _(EXIT)))
        if back and back != MENU and all(c.id != back for c in choices):
            choices.append(Choice(back, _(BACK)))
        choices.append(Choice(MENU, _(HOME)))
        return choices

    def _nudge(self, st: _State, message: str, screen: str | None = None) -> None:
        """A kind word, then the screen the person was on (or `screen`), so nothing is lost."""
        target = screen or st.session.node
        try:
            _text, choices = self._screen(st, target)
        except UnknownScreen:
            target = MENU
            _text, choices = self._screen(st, MENU)
        st.session.node = target
        st.replies.append(Reply(message, tuple(choices)))

    def _typed_choice(self, st: _State, text: str, numbers: bool = True) -> str | None:
        """A number or a button's words typed instead of pressed."""
        try:
            _text, choices = self._screen(
                _State(replace(st.session, data=dict(st.session.data)), st.now), st.session.node
            )
        except UnknownScreen:
            return None
        if numbers and text.isdecimal() and 1 <= int(text) <= len(choices):
            return choices[int(text) - 1].id
        wanted = fold(text).strip(" .!")
        for c in choices:
            if fold(c.label).strip() == wanted or fold(_strip_icon(c.label)) == wanted:
                return c.id
        return None

    def _answer(self, st: _State, reading: Reading) -> None:
        """Do what the words ask, or show what fits them; ask back when unsure."""
        _ = self.tr(st)
        urgent = bool(st.replies)  # the emergency card is already there
        if reading.command and not urgent:
            st.events.append(("search", "command"))
            self._run(st, reading.command)
            return
        if reading.screen and not urgent:
            # Asking how to stay safe: the advice itself, rather than a helpline.
            st.events.append(("search", "tip" if reading.screen.startswith("tips") else "screen"))
            self._show(st, reading.screen)
            return
        if urgent and not reading.hits:
            return  # the 999 card alone
        st.events.append(("search", "hit" if reading.hits else "miss"))
        if not reading.hits:
            self._nudge(st, _("Sorry, I couldn't find a service for that. Pick a topic:"), "help")
            return
        self._offer(st, [h.id for h in reading.hits])
        ask = Ask("danger", ()) if reading.danger is Danger.MAYBE else reading.ask
        if ask and not urgent:
            st.events.append(("ask", ask.kind))
            st.session.data["ask"] = {"kind": ask.kind, "options": list(ask.options)}
            self._show(st, ASK)
        else:
            self._show(st, RESULTS)

    def _offer(self, st: _State, services: list[str]) -> None:
        """Keep the services found, for the results screen: their ids, never the words."""
        for sid in services:
            st.events.append(("service", sid))
        st.session.data["results"] = services
        if st.session.node not in (RESULTS, ASK, None):
            st.session.data["came_from"] = st.session.node  # Back returns there
        st.session.data.pop("topic", None)

    def _run(self, st: _State, command: str) -> None:
        """A command typed in words: what its button or /command does."""
        if command == "exit":
            self._quick_exit(st)
        elif command == "forget":
            self._show(st, FORGET_CONFIRM)
        else:
            self._show(st, {"language": LANGUAGE, "menu": MENU, "privacy": "privacy"}[command])

    def _situation(self, st: _State, situation_id: str) -> None:
        """A situation chosen from a question back: its services, screen or command."""
        situation = self.content.situations[situation_id]
        if situation.command:
            self._run(st, situation.command)
        elif situation.screen:
            self._show(st, situation.screen)
        elif situation.danger:
            self._show(st, EMERGENCY)
        else:
            self._offer(st, list(situation.services[:3]))
            self._show(st, RESULTS)

    def _came_from(self, st: _State) -> str:
        """Where Back goes from results: the screen the person typed their question on."""
        came = str(st.session.data.get("came_from") or "help")
        return came if self._exists(came) and not came.startswith(("act:", "sit:")) else "help"

    def _ask(self, st: _State) -> tuple[str, list[Choice]]:
        """The question back: danger now, who it is about, or which topic is closest."""
        _ = self.tr(st)
        ask = st.session.data.get("ask") or {}
        kind, options = ask.get("kind"), [str(o) for o in ask.get("options") or []]
        d = self.content.directory
        if kind == "danger" and st.session.data.get("results"):
            choices = [Choice(EMERGENCY, _("Yes, danger now")), Choice(RESULTS, _("No"))]
            return _(ASK_DANGER), self._nav(st, choices, self._came_from(st), sensitive=True)
        if kind == "who" and all(o in WHO_LABELS for o in options):
            choices = [Choice(f"sit:{o}", _(WHO_LABELS[o])) for o in options]
            text = f"{_(ASK_WHO)}\n\n{_(REMINDER)}"
            return text, self._nav(st, choices, self._came_from(st), sensitive=True)
        if kind == "topic" and options and all(o in d.topics for o in options):
            choices = [Choice(f"topic:{o}", _(d.topics[o].label)) for o in options]
            choices.append(Choice(RESULTS, _(SEE_SERVICES)))
            sensitive = bool(SENSITIVE_TOPICS.intersection(options))
            text = _(ASK_TOPIC) + (f"\n\n{_(REMINDER)}" if sensitive else "")
            return text, self._nav(st, choices, self._came_from(st), sensitive=sensitive)
        raise UnknownScreen(ASK)

    def _results(self, st: _State) -> tuple[str, list[Choice]]:
        _ = self.tr(st)
        d = self.content.directory
        found = [d.services[i] for i in st.session.data.get("results", []) if i in d.services]
        if not found:
            raise UnknownScreen(RESULTS)
        body = "\n\n".join(cards.compact_card(s, _) for s in found)
        choices = [Choice(f"svc:{s.id}", _(s.label)) for s in found]
        intro = _("These services may help:")
        # About violence, abuse, young people or safeguarding: a service there first and foremost
        # (the police, listed under many topics, do not make a noise complaint sensitive).
        sensitive = any(s.topics[:1] and s.topics[0] in SENSITIVE_TOPICS for s in found)
        text = f"{intro}\n\n{body}" + (f"\n\n{_(REMINDER)}" if sensitive else "")
        return text, self._nav(st, choices, self._came_from(st), sensitive)

    # The report form and the Community Trigger check.
    def _set_choice(self, choice_id: str) -> FlowChoice | None:
        node_id, _sep, index = choice_id.partition("#")
        node = self.content.nodes.get(node_id)
        if node is None or not index.isdecimal() or int(index) >= len(node.choices):
            return None
        return node.choices[int(index)]

    def _after_choice(self, st: _State, choice: FlowChoice, node_id: str) -> None:
        if choice.action:
            self._action(st, choice.action)
        else:
            # An old button pressed after quick exit: ask the language first, or the screen
            # would come without its Back, Main menu and Quick exit buttons.
            target = choice.goto if node_id == CHANGE_ANSWER else self._form_next(st, choice.goto)
            self._go_or_ask_language(st, target)

    def _form_next(self, st: _State, target: str) -> str:
        """The next question of the form; straight back to the summary after changing one."""
        if st.draft.pop("editing", None) and target != CONTACT_DETAILS:
            return REPORT_CONFIRM
        return target

    def _asks_location(self, st: _State) -> bool:
        node = self.content.nodes.get(st.session.node)
        return bool(node and node.location)

    def _answered(self, st: _State, field: str, in_borough: str, node: Node | None = None) -> None:
        """A typed or shared answer is in the draft: say so if the place is elsewhere, go on."""
        node = node or self.content.nodes[st.session.node]
        if field == "where":
            st.draft["in_borough"] = in_borough or "unknown"
            if in_borough == "no":
                _ = self.tr(st)
                st.replies.append(Reply(_(
                    "That looks outside Kensington and Chelsea. The Community Safety Team covers "
                    "only this borough: the council for that area deals with local problems there. "
                    "The police cover everywhere: 101, or 999 in an emergency. "
                    "You can still send this report."
                )))  # fmt: skip
        self._show(st, self._form_next(st, node.next))

    def _action(self, st: _State, name: str) -> None:
        _ = self.tr(st)
        draft = st.session.data.get(forms.DRAFT) or {}
        if name == "cancel_report":
            st.session.data.pop(forms.DRAFT, None)
            self._nudge(st, _("Your report was not sent, and what you typed is gone."), MENU)
        elif name == "file_report" and draft.get("what"):
            st.report = forms.build(draft, self.references(), st.session.lang or "en", st.now)
            st.session.data.pop(forms.DRAFT, None)
            st.events.append(("report", str(draft.get("category", "other"))))
            st.replies.append(self.confirmation(st.session.lang, st.report.reference))
            st.session.node = MENU
        elif name == "file_report" and st.session.node == REPORT_CONFIRM:
            self._restart_form(st)  # still on the form, so not sent: the answers were lost
        elif name == "file_report":
            self._nudge(st, _("This report was already sent, or it has expired."), MENU)
        elif name == "trigger_result":
            count = int(draft.get("count", "0") or 0)
            today = st.now.date()
            latest = today - timedelta(days=0 if draft.get("latest") == "recent" else 35)
            incidents = [latest] + [today - timedelta(days=60 + i) for i in range(count - 1)]
            applies = community_trigger_applies(incidents, today)
            st.session.data.pop(forms.DRAFT, None)
            st.events.append(("trigger", "applies" if applies else "not_yet"))
            self._show(st, "trigger.yes" if applies else "trigger.no")

    def confirmation(self, lang: str | None, reference: str) -> Reply:
        """The reply once a report is safely stored; sent again if the same message comes back."""
        _ = self.content.catalogs.get(lang)
        text = _(
            "**Thank you. Your report has been sent.**\n"
            "Your reference is {reference}. Note it somewhere safe. If you ask the Community "
            "Safety Team about this report, or report the same thing again, give them this "
            "reference.\n"
            "The Community Safety Team reads every report. They may not be able to reply or act "
            "on each one, but it helps them see what is happening in your area.\n"
            "If a crime is happening, report it to the police too.",
            reference=reference,
        )
        return self.finish(lang, Reply(text, (Choice(MENU, _(HOME)),)))

    # Privacy.
    def _quick_exit(self, st: _State) -> None:
        _ = self.tr(st)
        st.events.append(("exit", "quick"))
        st.replies.append(
            Reply(
                _("Cleared. Send any message to start again."),
                effects=(Effect.ERASE_CHAT, Effect.RESET),
            )
        )
        st.session = Session()

    def _forget(self, st: _State) -> None:
        _ = self.tr(st)
        st.events.append(("exit", "forget"))
        st.replies.append(
            Reply(
                _(
                    "Done. Everything this assistant kept about you has been erased. "
                    "Send any message to start again."
                ),
                effects=(Effect.FORGET,),
            )
        )
        st.session = Session()

    def _deep_link(self, st: _State, payload: str) -> str:
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

    def finish(self, lang: str | None, reply: Reply) -> Reply:
        """Mark the reply's language; right-to-left ones keep numbers and links readable."""
        lang = lang or "en"
        if not self.content.catalogs.get(lang).rtl:
            return replace(reply, lang=lang)
        choices = tuple(Choice(c.id, isolate_ltr(c.label)) for c in reply.choices)
        return replace(reply, text=right_to_left(reply.text), choices=choices, rtl=True, lang=lang)


def _topic_page(rest: str) -> tuple[str, int]:
    """ "youth/2" is page 2 of the youth topic, "youth" its first; page 0 if not a page."""
    topic, _sep, page = rest.partition("/")
    if not page:
        return topic, 1
    return (topic, int(page)) if page.isdecimal() and 1 <= int(page) <= 20 else (topic, 0)


def _topic_screen(topic: str, page: int) -> str:
    """The screen id of a topic's page."""
    return f"topic:{topic}" if page <= 1 else f"topic:{topic}/{page}"


def _strip_icon(label: str) -> str:
    return label.split(" ", 1)[1] if " " in label and not label[0].isalnum() else label
