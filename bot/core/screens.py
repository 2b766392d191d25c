"""The screens the engine shows: flow menus, topics, service cards, results, questions back."""

from __future__ import annotations

import copy
import logging
from dataclasses import replace

from bot.content.i18n import LANGS, N_, NATIVE_NAMES, Translator, isolate_ltr, right_to_left
from bot.content.loader import Content
from bot.core import cards, forms
from bot.core.state import State, UnknownScreen
from bot.core.types import Choice, Reply
from bot.understanding.reader import WHO_OPTIONS
from bot.understanding.text import fold

log = logging.getLogger("bot.core.engine")


MENU = "menu"
LANGUAGE = "language"
EMERGENCY = "emergency"
RESULTS = "results"  # the services found for what a person typed
ASK = "ask"  # a question back, when what a person typed could mean different things
REPORT_FORM = "report.form"
REPORT_CONFIRM = "report.form.confirm"
LOST_ANSWERS = N_(
    "Sorry, what you typed for this report was lost: our system restarted. Nothing was sent. "
    "Please fill it in again."
)
BACK = N_("⬅️ Back")
HOME = N_("🏠 Main menu")
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


class Screens:
    """Renders any screen id to its text and buttons, in the session's language."""

    def __init__(self, content: Content) -> None:
        self.content = content

    def tr(self, st: State) -> Translator:
        """The translator for the session's language."""
        return self.content.catalogs.get(st.session.lang)

    def exists(self, screen: str) -> bool:
        """Whether a screen id names something the assistant can show."""
        kind, _sep, rest = screen.partition(":")
        d = self.content.directory
        return (
            screen in self.content.nodes
            or (kind == "topic" and _topic_page(rest)[0] in d.topics)
            or (kind == "svc" and rest in d.services)
            or screen in (RESULTS, ASK)
            or (kind == "sit" and rest in self.content.situations)
        )

    def render(self, st: State, screen: str) -> tuple[str, list[Choice]]:
        """A screen's text and buttons; raises UnknownScreen for an id that names nothing."""
        _ = self.tr(st)
        kind, _sep, rest = screen.partition(":")
        d = self.content.directory
        topic, page = _topic_page(rest) if kind == "topic" else ("", 0)
        if topic in d.topics and page:
            if page == 1:
                st.events.append(("topic", topic))
            st.session.topic, st.session.topic_page, st.session.results = topic, page, ()
            services = d.in_topic(topic)
            shown, more = cards.topic_page(services, page)
            if not shown:
                raise UnknownScreen(screen)
            choices = [Choice(f"svc:{s.id}", _(s.label)) for s in shown]
            if more:
                choices.append(Choice(f"topic:{topic}/{page + 1}", _(cards.MORE_SERVICES)))
            sensitive = topic in d.sensitive_topics
            text = cards.topic_text(d.topics[topic], len(services), _, page)
            text += f"\n\n{_(REMINDER)}" if sensitive else ""
            back = "help" if page == 1 else _topic_screen(topic, page - 1)
            return text, self.nav(st, choices, back=back, sensitive=sensitive)
        if kind == "svc" and rest in d.services:
            st.events.append(("service", rest))
            service = d.services[rest]
            topic, page = st.session.topic, st.session.topic_page
            back = _topic_screen(topic, page) if topic in service.topics else "help"
            if rest in st.session.results:
                back = RESULTS
            sensitive = bool(d.sensitive_topics.intersection(service.topics))
            text = cards.service_card(service, st.now, _)
            if sensitive and rest != "police-emergency":
                text += f"\n\n{_(REMINDER)}"
            return text, self.nav(st, [], back=back, sensitive=sensitive)
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
            text += "\n\n" + forms.summary(st.session.draft, _)
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
        return text, self.nav(st, choices, back=node.back, sensitive=node.sensitive)

    def nav(self, st: State, choices: list[Choice], back: str, sensitive: bool) -> list[Choice]:
        """Add the ways out every screen has: back, main menu, and quick exit where it matters."""
        _ = self.tr(st)
        if sensitive:
            choices.append(Choice("act:exit", _(EXIT)))
        if back and back != MENU and all(c.id != back for c in choices):
            choices.append(Choice(back, _(BACK)))
        choices.append(Choice(MENU, _(HOME)))
        return choices

    def came_from(self, st: State) -> str:
        """Where Back goes from results: the screen the person typed their question on."""
        came = st.session.came_from or "help"
        return came if self.exists(came) and not came.startswith(("act:", "sit:")) else "help"

    def _ask(self, st: State) -> tuple[str, list[Choice]]:
        """The question back: danger now, who it is about, or which topic is closest."""
        _ = self.tr(st)
        asked = st.session.asked
        kind, options = (asked.kind, list(asked.options)) if asked else ("", [])
        d = self.content.directory
        if kind == "danger" and st.session.results:
            choices = [Choice(EMERGENCY, _("Yes, danger now")), Choice(RESULTS, _("No"))]
            return _(ASK_DANGER), self.nav(st, choices, self.came_from(st), sensitive=True)
        if kind == "who" and all(o in WHO_LABELS for o in options):
            choices = [Choice(f"sit:{o}", _(WHO_LABELS[o])) for o in options]
            text = f"{_(ASK_WHO)}\n\n{_(REMINDER)}"
            return text, self.nav(st, choices, self.came_from(st), sensitive=True)
        if kind == "topic" and options and all(o in d.topics for o in options):
            choices = [Choice(f"topic:{o}", _(d.topics[o].label)) for o in options]
            choices.append(Choice(RESULTS, _(SEE_SERVICES)))
            sensitive = bool(d.sensitive_topics.intersection(options))
            text = _(ASK_TOPIC) + (f"\n\n{_(REMINDER)}" if sensitive else "")
            return text, self.nav(st, choices, self.came_from(st), sensitive=sensitive)
        raise UnknownScreen(ASK)

    def _results(self, st: State) -> tuple[str, list[Choice]]:
        _ = self.tr(st)
        d = self.content.directory
        found = [d.services[i] for i in st.session.results if i in d.services]
        if not found:
            raise UnknownScreen(RESULTS)
        body = "\n\n".join(cards.compact_card(s, _) for s in found)
        choices = [Choice(f"svc:{s.id}", _(s.label)) for s in found]
        intro = _("These services may help:")
        # About violence, abuse, young people or safeguarding: a service there first and foremost
        # (the police, listed under many topics, do not make a noise complaint sensitive).
        topics = d.sensitive_topics  # derived from the directory: once, not once a service
        sensitive = any(s.topics[:1] and s.topics[0] in topics for s in found)
        text = f"{intro}\n\n{body}" + (f"\n\n{_(REMINDER)}" if sensitive else "")
        return text, self.nav(st, choices, self.came_from(st), sensitive)

    def go_or_ask_language(self, st: State, screen: str) -> None:
        """Show a screen, or first the languages when none is chosen yet."""
        if st.session.lang is None:
            st.session.after_lang = screen
            self.show(st, LANGUAGE)
        else:
            self.show(st, screen)

    def show(self, st: State, screen: str) -> None:
        """Add a screen to the replies and make it the session's place."""
        node = self.content.nodes.get(screen)
        if node and node.action == "report_summary" and not st.draft.get("what"):
            # The answers live in memory until Send: after a restart they are gone. Say so,
            # rather than show an empty summary whose Send would file nothing.
            self.restart_form(st)
            return
        try:
            text, choices = self.render(st, screen)
        except UnknownScreen:
            log.warning("unknown screen requested", extra={"screen": screen[:40]})
            text, choices = self.render(st, MENU)
            screen = MENU
        st.session.node = screen
        node = self.content.nodes.get(screen)
        st.replies.append(
            Reply(
                text,
                tuple(choices),
                request_location=bool(node and node.location),
                typed_answer=bool(node and node.input),
            )
        )

    def restart_form(self, st: State) -> None:
        """Say the report's answers were lost, then ask the form's first question again."""
        _ = self.tr(st)
        st.replies.append(Reply(_(LOST_ANSWERS)))
        self.show(st, REPORT_FORM)

    def button_gone(self, st: State) -> None:
        """A button that no longer means anything here: say so, and show the main menu."""
        _ = self.tr(st)
        self.nudge(st, _("Sorry, that button no longer works. Here is the main menu."), MENU)

    def nudge(self, st: State, message: str, screen: str | None = None) -> None:
        """A kind word, then the screen the person was on (or `screen`), so nothing is lost."""
        target = screen or st.session.node
        try:
            _text, choices = self.render(st, target)
        except UnknownScreen:
            target = MENU
            _text, choices = self.render(st, MENU)
        st.session.node = target
        st.replies.append(Reply(message, tuple(choices)))

    def typed_choice(self, st: State, text: str, numbers: bool = True) -> str | None:
        """A number or a button's words typed instead of pressed."""
        try:
            _text, choices = self.render(
                State(copy.deepcopy(st.session), st.now),
                st.session.node,
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
