"""Translations are product: complete, faithful to numbers and links, consistent, and used."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
import yaml
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.content.i18n import LANGS, LRI, PDI, negotiate, po_path
from bot.content.loader import Content
from bot.core.engine import Engine
from bot.understanding.text import fold
from tests.conftest import TUESDAY_3PM, Chat
from tests.content.test_flows import all_screens, open_screen

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
OTHERS = [lang for lang in LANGS if lang != "en"]
# What must come through a translation untouched: links, emails, numbers, placeholders, markup.
PROTECTED = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\*#06#|\d+|\{\w+\}|\*\*|/\w+")


def catalog(lang: str) -> Catalog:
    with po_path(LOCALES, lang).open("rb") as f:
        return read_po(f, locale=lang)


def template() -> Catalog:
    with (LOCALES / "messages.pot").open("rb") as f:
        return read_po(f)


def entries(lang: str) -> list[Message]:
    return [m for m in catalog(lang) if m.id]


def singular(message: Message) -> str:
    return str(message.id[0] if isinstance(message.id, tuple | list) else message.id)


def translations(message: Message) -> list[str]:
    found = message.string if isinstance(message.string, tuple | list) else [message.string]
    return [str(s or "") for s in found]


def test_template_holds_every_text_in_code_flows_and_directory() -> None:
    # The same places `scripts/i18n extract` reads, so a new content file cannot be missed.
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, _options = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    keywords = {"_": None, "N_": None, "plural": (1, 2)}
    found = {msg[2] if isinstance(msg[2], str) else msg[2][0]
             for msg in extract_from_dir(str(ROOT), method_map, keywords=keywords)}  # fmt: skip
    in_template = {singular(m) for m in template() if m.id}
    missing = found - in_template
    assert not missing, f"run `scripts/i18n extract`; not in messages.pot: {sorted(missing)[:5]}"
    assert not in_template - found, (
        "messages.pot has texts no longer used: run scripts/i18n extract"
    )


@pytest.mark.parametrize("lang", OTHERS)
def test_catalog_is_complete_and_not_fuzzy(lang: str) -> None:
    have = {singular(m): m for m in entries(lang)}
    missing = [singular(m) for m in template() if m.id and singular(m) not in have]
    assert not missing, f"{lang}: not in catalog (run scripts/i18n extract): {missing[:3]}"
    untranslated = [k for k, m in have.items() if not all(s.strip() for s in translations(m))]
    assert not untranslated, f"{lang}: {len(untranslated)} untranslated, e.g. {untranslated[:3]}"
    fuzzy = [k for k, m in have.items() if m.fuzzy]
    assert not fuzzy, f"{lang}: fuzzy: {fuzzy[:3]}"


@pytest.mark.parametrize("lang", OTHERS)
def test_numbers_links_placeholders_and_markup_survive(lang: str) -> None:
    problems = []
    for m in entries(lang):
        source = m.id if isinstance(m.id, tuple) else (m.id,)
        wanted = sorted(PROTECTED.findall(str(source[-1])))
        for text in translations(m):
            got = sorted(PROTECTED.findall(text))
            if "{n}" in wanted and "{n}" not in got and len(translations(m)) > 2:
                got = sorted([*got, "{n}"])  # a zero/one form may say the number in words
            if wanted != got:
                problems.append(f"{source[0][:50]!r}: expected {wanted}, got {got}")
    assert not problems, f"{lang}: " + "\n".join(problems[:8])


@pytest.mark.parametrize("lang", OTHERS)
def test_plural_forms_fit_the_language(lang: str) -> None:
    cat = catalog(lang)
    expected = get_plural(lang)
    assert cat.num_plurals == expected.num_plurals
    # The header's rule picks the same form as the language's CLDR rule, counts in the millions too.
    ours, cldr = gettext.c2py(cat.plural_expr), gettext.c2py(expected.plural_expr)
    for n in [*range(0, 1001), 1_000_000, 2_000_000, 1_000_001]:
        assert ours(n) == cldr(n), f"{lang}: {n} takes form {ours(n)}, not {cldr(n)}"
    plurals = [m for m in cat if isinstance(m.id, tuple)]
    assert plurals, "the catalog has plural messages"
    for m in plurals:
        assert isinstance(m.string, tuple) and len(m.string) == cat.num_plurals, m.id
        assert all(m.string), m.id


@pytest.mark.parametrize("lang", OTHERS)
def test_glossary_terms_are_used_the_same_way_everywhere(lang: str) -> None:
    glossary = yaml.safe_load((LOCALES / lang / "glossary.yaml").read_text(encoding="utf-8"))
    assert set(glossary) >= {
        "antisocial behaviour", "community trigger", "domestic abuse", "anonym", "report",
        "emergency",
    }  # fmt: skip
    problems = []
    for term, forms in glossary.items():
        for m in entries(lang):
            if term in singular(m).casefold():
                text = fold(" ".join(translations(m)))
                if not any(fold(form) in text for form in forms):
                    problems.append(f"{term!r} in {singular(m)[:60]!r}")
    assert not problems, f"{lang}: glossary term not used: " + "\n".join(problems[:8])


@pytest.mark.parametrize("lang", OTHERS)
def test_no_english_leaks_into_a_screen(engine: Engine, content: Content, lang: str) -> None:
    cat = catalog(lang)
    english = [
        singular(m) for m in cat
        if m.id and len(singular(m)) >= 12 and singular(m) not in translations(m)
    ]  # fmt: skip
    for screen in all_screens(content):
        _chat, [reply] = open_screen(engine, lang, screen)
        shown = reply.text + "\n" + "\n".join(c.label for c in reply.choices)
        leaks = [e for e in english if e in shown]
        assert not leaks, f"{lang} {screen}: English shown: {leaks[:2]}"


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_rtl_cards_keep_numbers_intact_and_isolated(engine: Engine, lang: str) -> None:
    chat = Chat(engine, lang)
    [card] = chat.press("svc:angelou")
    assert card.rtl
    assert f"{LRI}0808 801 0660{PDI}" in card.text
    assert f"{LRI}https://www.angelou.org{PDI}" in card.text
    [prevent] = chat.press("svc:prevent-team")
    assert f"{LRI}prevent3@rbkc.gov.uk{PDI}" in prevent.text
    [emergency] = chat.press("emergency")
    assert f"{LRI}999{PDI}" in emergency.text and f"{LRI}55{PDI}" in emergency.text
    assert not re.search(
        r"[\u0660-\u0669\u06f0-\u06f9]", emergency.text
    )  # dialled digits stay Latin


def test_ltr_languages_are_not_wrapped(engine: Engine) -> None:
    [card] = Chat(engine, "fr").press("svc:angelou")
    assert LRI not in card.text and not card.rtl


@pytest.mark.parametrize(
    ("code", "expected"),
    [("pt-br", "pt"), ("pt-BR", "pt"), ("fa", "fa"), ("fa-IR", "fa"), ("ar", "ar"), ("so", "so"),
     ("es-419", "es"), ("fr-CA", "fr"), ("en-GB", "en"), ("de", None), ("", None), (None, None)],
)  # fmt: skip
def test_negotiation_of_device_languages(code: str | None, expected: str | None) -> None:
    assert negotiate(code) == expected


def test_times_are_formatted_for_the_language(engine: Engine) -> None:
    en = Chat(engine, "en").press("svc:respect-phoneline")[0].text
    fr = Chat(engine, "fr").press("svc:respect-phoneline")[0].text
    assert "09:00 to 20:00" in en
    assert "09:00" in fr and "20:00" in fr and "09:00 to" not in fr
    assert TUESDAY_3PM.weekday() == 1


def test_isolation_is_idempotent() -> None:
    from bot.content.i18n import isolate_ltr

    once = isolate_ltr("رقم KC-3RU-KWT و 0808 801 0660")
    assert isolate_ltr(once) == once
    assert once.count(LRI) == 2


def bidi_lines(text: str) -> list[str]:
    """The lines of a reply as a reader sees them: bold markers gone, blank lines skipped."""
    return [line.replace("**", "") for line in text.split("\n") if line.strip()]


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_every_line_of_every_rtl_screen_is_laid_out_right_to_left(
    engine: Engine, content: Content, lang: str
) -> None:
    from bidi import get_base_level, get_display

    from tests.content.test_flows import all_screens, open_screen

    wrong, commands = [], 0
    for screen in all_screens(content):
        _chat, [reply] = open_screen(engine, lang, screen)
        for line in bidi_lines(reply.text):
            if get_base_level(line) != 1:  # the Unicode bidi algorithm's paragraph level
                wrong.append(f"{screen}: {line[:50]!r}")
            for command in re.findall(r"/[a-z]+\b", line.replace(LRI, " ").replace(PDI, " ")):
                if "://" in line or "@" in line:
                    continue
                commands += 1
                # Shown as typed, not as "exit/".
                assert command in get_display(line), f"{screen}: {command} in {line[:60]!r}"
    assert not wrong, f"{len(wrong)} lines laid out left to right:\n" + "\n".join(wrong[:10])
    assert commands >= 5  # the "How this works" screen names them


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_whatsapp_hints_added_to_rtl_screens_are_right_to_left_too(
    engine: Engine, lang: str
) -> None:
    from bidi import get_base_level

    from bot.channels.whatsapp.render import render

    [reply] = Chat(engine, lang).press("topic:vawg")
    _ = engine.content.catalogs.get(lang)
    for out in render(reply, _):
        for line in bidi_lines(out.text):
            assert get_base_level(line) == 1, line[:60]
