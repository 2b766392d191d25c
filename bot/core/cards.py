"""Service cards and topic lists, in the person's language."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_time, get_day_names

from bot.content.directory import Phone, Service, Topic
from bot.content.hours import Hours
from bot.content.i18n import N_, Translator

TOPIC_PAGE = 5  # services on one page of a topic: a phone screen, not a wall of buttons
# TRANSLATORS: a button after the first services of a topic; 24 characters at most.
MORE_SERVICES = N_("More services")
MORE_SERVICES_TEXT = N_(
    "More services that can help. Press a name to see what they do and how to reach them."
)

BADGE_LABELS = {
    "free": N_("Free"),
    "anonymous": N_("Anonymous"),
    "women_only": N_("Women and girls"),
    "under_18": N_("Under-18s"),
    "young_people": N_("Young people"),
}


def describe_hours(hours: Hours, _: Translator) -> str:
    """Say when a service answers, e.g. "Monday to Friday, 09:00 to 20:00"."""
    if hours.always:
        return _("24 hours a day, every day")
    parts = []
    for iv in hours.intervals:
        days = _days(iv.days, _)
        start = format_time(iv.start, "short", locale=_.babel_locale)
        end = format_time(iv.end, "short", locale=_.babel_locale)
        parts.append(_("{days}, {start} to {end}", days=days, start=start, end=end))
    text = "; ".join(parts)
    if not hours.bank_holidays_open:
        text += ". " + _("Closed on bank holidays.")
    return text


def _days(days: frozenset[int], _: Translator) -> str:
    if days == frozenset(range(7)):
        return _("Every day")
    if days == frozenset(range(5)):
        return _("Monday to Friday")
    if days == frozenset({5, 6}):
        return _("Saturday and Sunday")
    names = get_day_names("wide", locale=_.babel_locale)
    return ", ".join(names[d] for d in sorted(days))


def _phone_line(phone: Phone, _: Translator) -> str:
    line = f"📞 {phone.number}"
    if phone.label:
        line += f" ({_(phone.label)})"
    return line


def open_status(service: Service, now: datetime, _: Translator) -> str:
    """Say whether the service is open now, or nothing when the Plan gives no hours."""
    state = service.is_open(now)
    if state is None:
        return ""
    if not state:
        return _("Closed now")
    daytime = service.hours is not None and service.hours.is_open(now)
    daytime = daytime or any(p.hours is not None and p.hours.is_open(now) for p in service.phones)
    if not daytime and any(p.out_of_hours for p in service.phones):
        return _("Open now: call the out-of-hours line")
    return _("Open now")


def service_card(service: Service, now: datetime, _: Translator) -> str:
    """The full card: what they do, who for, how to reach them, when, and badges."""
    lines = [f"**{_(service.name)}**", _(service.summary)]
    if service.audience:
        lines.append(_("For: {audience}", audience=_(service.audience)))
    lines += [_phone_line(p, _) for p in service.phones]
    timed = [service.hours] if service.hours else [p.hours for p in service.phones if p.hours]
    for hours in timed:
        if hours is not None:
            lines.append(f"🕒 {describe_hours(hours, _)}")
    status = open_status(service, now, _)
    if status:
        lines.append(f"• {status}")
    if service.web:
        lines.append(f"🌐 {service.web}")
    if service.email:
        lines.append(f"✉️ {service.email}")
    if service.address:
        lines.append(f"📍 {service.address}")
    if service.badges:
        lines.append(" · ".join(_(BADGE_LABELS[b]) for b in service.badges))
    return "\n".join(lines)


def compact_card(service: Service, _: Translator) -> str:
    """Name and the quickest ways to get in touch, for lists."""
    lines = [f"**{_(service.name)}**"]
    lines += [_phone_line(p, _) for p in service.phones]
    if not service.phones:
        lines += [x for x in (service.email and f"✉️ {service.email}",
                              service.web and f"🌐 {service.web}") if x]  # fmt: skip
    return "\n".join(lines)


def topic_text(topic: Topic, count: int, _: Translator, page: int = 1) -> str:
    """A topic's heading, what it covers, and how many services can help (named on buttons)."""
    if page > 1:
        return f"**{_(topic.name)}**\n{_(MORE_SERVICES_TEXT)}"
    return "\n".join([
        f"**{_(topic.name)}**",
        _(topic.summary),
        "",
        _.plural(
            "{n} service can help. Press its name to see what it does and how to reach it.",
            "{n} services can help. Press a name to see what they do and how to reach them.",
            count,
        ),
    ])  # fmt: skip


def topic_page(services: list[Service], page: int) -> tuple[list[Service], bool]:
    """The services on one page of a topic, and whether more follow."""
    start = (page - 1) * TOPIC_PAGE
    return services[start : start + TOPIC_PAGE], len(services) > start + TOPIC_PAGE
