"""Reports for the Community Safety Team: references, the Community Trigger rule, export."""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass

# No 0/O, 1/I/L, 5/S, 2/Z or 8/B: a reference is read aloud over the phone.
REFERENCE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
EXPORT_COLUMNS = (
    "reference", "created_at", "lang", "channel", "category", "what", "where", "in_borough",
    "when", "ongoing", "contact",
)  # fmt: skip


def new_reference() -> str:
    """A short reference such as KC-7HX-4QM: easy to read aloud, no ambiguous characters."""
    chars = [secrets.choice(REFERENCE_ALPHABET) for _ in range(6)]
    return f"KC-{''.join(chars[:3])}-{''.join(chars[3:])}"


def is_reference(text: str) -> bool:
    """Whether `text` has the shape of a reference."""
    parts = text.split("-")
    return (
        len(parts) == 3
        and parts[0] == "KC"
        and all(len(p) == 3 and set(p) <= set(REFERENCE_ALPHABET) for p in parts[1:])
    )


@dataclass(frozen=True)
class Report:
    """What a person chose to send to the Community Safety Team."""

    reference: str
    created_at: str
    lang: str
    channel: str
    category: str
    what: str
    where: str
    in_borough: str  # "yes", "no" or "unknown"
    when: str
    ongoing: str
    contact: str = ""  # only when the person chose to be contacted

    def row(self) -> dict[str, str]:
        """The report as a flat row."""
        return asdict(self)


# A cell starting with one of these is a formula to a spreadsheet (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A cell value a spreadsheet shows as typed instead of running it: `'=1+2`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_csv(reports: Iterable[Report]) -> str:
    """Reports as CSV with a header row, for a spreadsheet; no cell is run as a formula."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for r in reports:
        writer.writerow({k: neutralise(v) for k, v in r.row().items()})
    return out.getvalue()


def export_json(reports: Iterable[Report]) -> str:
    """Reports as a JSON array."""
    return json.dumps([r.row() for r in reports], ensure_ascii=False, indent=2)


def staff_text(report: Report) -> str:
    """The message posted to the Community Safety Team's chat for a new report (in English)."""
    contact = report.contact or "none: anonymous"
    return "\n".join(
        [
            f"New report {report.reference} ({report.category})",
            f"What: {report.what}",
            f"Where: {report.where or 'not given'} (in the borough: {report.in_borough})",
            f"When: {report.when or 'not given'}; still going on: {report.ongoing or 'not given'}",
            f"Contact: {contact}",
            f"Language: {report.lang}; channel: {report.channel}; filed {report.created_at}",
        ]
    )
