"""The report form: the draft a person fills in, where it is, and the report it becomes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.content.i18n import N_, Translator
from bot.core.reports import Report

MAX_ANSWER = 500

# Postcode districts wholly in the borough, and those it shares with its neighbours.
IN_BOROUGH = frozenset({"SW3", "SW5", "SW7", "SW10", "W8", "W10", "W11"})
SHARED = frozenset({"W14", "W2", "W12", "W9", "W6", "SW1X", "SW1W", "SW6", "NW10"})
_POSTCODE = re.compile(r"\b([A-Z]{1,2}[0-9][0-9A-Z]?)(?:\s*[0-9][A-Z]{2})?\b")
# A box around the borough: good enough to say "this looks like somewhere else".
_BOX = (51.476, 51.531, -0.229, -0.149)

ANSWER_LABELS = {
    "what": N_("What"),
    "where": N_("Where"),
    "when": N_("When"),
    "ongoing": N_("Still going on"),
    "contact": N_("Contact"),
}
# TRANSLATORS: one line of the summary a person checks before sending a report, such as
# "What: graffiti". Keep {label} and {value}; French puts a non-breaking space before the colon.
SUMMARY_LINE = N_("{label}: {value}")
ANSWER_VALUES = {
    "now": N_("Now"),
    "today": N_("Today"),
    "week": N_("This week"),
    "earlier": N_("Earlier"),
    "yes": N_("Yes"),
    "no": N_("No"),
    "unsure": N_("Not sure"),
    "": N_("Anonymous"),
}


def in_borough_text(text: str) -> str:
    """ "yes", "no" or "unknown" from a postcode in what a person typed."""
    for district in _POSTCODE.findall(text.upper()):
        if district in IN_BOROUGH:
            return "yes"
        if district in SHARED:
            return "unknown"
        if re.fullmatch(r"(E|EC|N|NW|SE|SW|W|WC|[A-Z]{2})\d{1,2}[A-Z]?", district):
            return "no"
    return "unknown"


def in_borough_location(lat: float, lon: float) -> str:
    """ "yes" or "no" from a shared location."""
    south, north, west, east = _BOX
    return "yes" if south <= lat <= north and west <= lon <= east else "no"


def answer(text: str) -> str:
    """A typed answer as kept in the draft: trimmed, no markup."""
    return text.replace("*", "").strip()[:MAX_ANSWER]


def summary(draft: dict[str, Any], _: Translator) -> str:
    """What will be sent, so the person can check it first."""
    lines = []
    for key, label in ANSWER_LABELS.items():
        value = str(draft.get(key, ""))
        if key != "contact" and not value:
            continue
        shown = _(ANSWER_VALUES[value]) if value in ANSWER_VALUES and key != "what" else value
        lines.append(_(SUMMARY_LINE).format(label=_(label), value=shown))
    return "\n".join(lines)


def build(draft: dict[str, Any], reference: str, lang: str, now: datetime) -> Report:
    """Turn a finished draft into a report (the channel is filled in by the caller)."""
    return Report(
        reference=reference,
        created_at=now.isoformat(timespec="seconds"),
        lang=lang,
        channel="",
        category=str(draft.get("category", "other")),
        what=str(draft.get("what", "")),
        where=str(draft.get("where", "")),
        in_borough=str(draft.get("in_borough", "unknown")),
        when=str(draft.get("when", "")),
        ongoing=str(draft.get("ongoing", "")),
        contact=str(draft.get("contact", "")),
    )
