"""Actions flows may call: the report form, the Community Trigger check, quick exit, forget me."""

from __future__ import annotations

from collections.abc import Callable

from bot.content.flows import CHOICE_ACTIONS, FlowChoice, Node
from bot.content.loader import Content
from bot.core import forms
from bot.core.screens import HOME, MENU, REPORT_CONFIRM, Screens
from bot.core.state import State
from bot.core.types import Choice, Effect, Reply, Session

CHANGE_ANSWER = "report.form.change"  # its buttons open a question of the form to answer again
CONTACT_DETAILS = "report.form.details"  # the one question that has a question after it
FORGET_CONFIRM = "privacy.forget"  # "forget me" asks here first; only its Yes erases


class Actions:
    """Runs what flow buttons and commands ask for, beyond showing a screen."""

    def __init__(self, content: Content, screens: Screens, references: Callable[[], str]) -> None:
        self.content = content
        self.screens = screens
        self.references = references
        # Every action a flow's button may name, and what it does. The flows are checked
        # against the same names, so a valid flow never names an action the engine lacks.
        self.handlers: dict[str, Callable[[State], None]] = {
            "exit": self.quick_exit,
            "forget": self.ask_forget,
            "forget_confirmed": self._forget_confirmed,
            "file_report": self.file_report,
            "cancel_report": self.cancel_report,
            "decide": self.decide,
        }
        if set(self.handlers) != CHOICE_ACTIONS:
            raise ValueError(
                f"flow actions and handlers differ: {set(self.handlers) ^ CHOICE_ACTIONS}"
            )

    def set_choice(self, choice_id: str) -> FlowChoice | None:
        """The flow button that records answers a button id names, or None."""
        node = self.content.nodes.get(choice_id.partition("#")[0])
        return next((c for c in node.choices if c.id == choice_id), None) if node else None

    def after_choice(self, st: State, choice: FlowChoice, node_id: str) -> None:
        """What a flow button does: its action, or the screen it leads to."""
        if choice.action:
            st.session.node = node_id  # the screen the button was on: its rule decides
            self.handlers[choice.action](st)
        else:
            # An old button pressed after quick exit: ask the language first, or the screen
            # would come without its Back, Main menu and Quick exit buttons.
            target = choice.goto if node_id == CHANGE_ANSWER else self._form_next(st, choice.goto)
            self.screens.go_or_ask_language(st, target)

    def _form_next(self, st: State, target: str) -> str:
        """The next question of the form; straight back to the summary after changing one."""
        if st.draft.pop("editing", None) and target != CONTACT_DETAILS:
            return REPORT_CONFIRM
        return target

    def asks_location(self, st: State) -> bool:
        """Whether the current question takes a shared location."""
        node = self.content.nodes.get(st.session.node)
        return bool(node and node.location)

    def answered(self, st: State, field: str, in_borough: str, node: Node | None = None) -> None:
        """A typed or shared answer is in the draft: say so if the place is elsewhere, go on."""
        node = node or self.content.nodes[st.session.node]
        if field == "where":
            st.draft["in_borough"] = in_borough or "unknown"
            if in_borough == "no":
                _ = self.screens.tr(st)
                st.replies.append(Reply(_(
                    "That looks outside Kensington and Chelsea. The Community Safety Team covers "
                    "only this borough: the council for that area deals with local problems there. "
                    "The police cover everywhere: 101, or 999 in an emergency. "
                    "You can still send this report."
                )))  # fmt: skip
        self.screens.show(st, self._form_next(st, node.next))

    def cancel_report(self, st: State) -> None:
        """Don't send: the answers typed so far are dropped."""
        _ = self.screens.tr(st)
        st.session.draft = {}
        self.screens.nudge(st, _("Your report was not sent, and what you typed is gone."), MENU)

    def file_report(self, st: State) -> None:
        """Send: the report is filed with a reference, once."""
        _ = self.screens.tr(st)
        draft = st.session.draft
        if draft.get("what"):
            st.report = forms.build(draft, self.references(), st.session.lang or "en", st.now)
            st.session.draft = {}
            st.events.append(("report", str(draft.get("category", "other"))))
            st.replies.append(self.confirmation(st.session.lang, st.report.reference))
            st.session.node = MENU
        elif st.session.node == REPORT_CONFIRM:
            self.screens.restart_form(st)  # still on the form, so not sent: the answers were lost
        else:
            self.screens.nudge(st, _("This report was already sent, or it has expired."), MENU)

    def decide(self, st: State) -> None:
        """Where the screen's `decide` rule sends the answers given (the Community Trigger)."""
        node = self.content.nodes.get(st.session.node)
        if node is None or node.decide is None:
            self.screens.button_gone(st)
            return
        target = node.decide.target(st.session.draft)
        st.session.draft = {}
        st.events.append(("decide", target))
        self.screens.show(st, target)

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
        return self.screens.finish(lang, Reply(text, (Choice(MENU, _(HOME)),)))

    def quick_exit(self, st: State) -> None:
        """Quick exit: erase the chat where the channel can, and start afresh."""
        _ = self.screens.tr(st)
        st.events.append(("exit", "quick"))
        st.replies.append(
            Reply(
                _("Cleared. Send any message to start again."),
                effects=(Effect.ERASE_CHAT, Effect.RESET),
            )
        )
        st.session = Session()

    def ask_forget(self, st: State) -> None:
        """Ask before "forget me" erases anything (the language chosen first, if need be)."""
        self.screens.go_or_ask_language(st, FORGET_CONFIRM)

    def _forget_confirmed(self, st: State) -> None:
        """Erase, but only from the screen that asked: an old Yes button erases nothing."""
        if st.session.node == FORGET_CONFIRM:
            self.forget(st)
        else:
            self.ask_forget(st)

    def forget(self, st: State) -> None:
        """Forget me: erase everything kept about the person."""
        _ = self.screens.tr(st)
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
