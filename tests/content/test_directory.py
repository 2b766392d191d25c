"""The directory: every service the Plan names, numbers exactly right, hours computed right."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.content.corpus import CorpusError, load_danger_words
from bot.content.directory import DirectoryError, load_directory, parse_directory, valid_phone
from bot.content.hours import is_bank_holiday
from bot.content.i18n import Translator
from bot.content.loader import Content
from bot.core.cards import service_card

PRODUCT_IDS = [
    "police-emergency",
    "police-non-emergency",
    "crimestoppers",
    "victim-support",
    "action-fraud",
    "modern-slavery-helpline",
    "prevent-team",
    "community-safety-team",
    "angelou",
    "solace-womens-aid",
    "women-and-girls-network",
    "southall-black-sisters",
    "rights-of-women",
    "respect-phoneline",
    "midaye",
    "children-safeguarding",
    "safer-london",
    "st-giles-trust",
    "youth-offending-service",
    "detached-outreach-team",
    "targeted-prevention-team",
    "streetline",
    "community-wardens",
    "parks-police",
    "community-trigger",
    "housing-asb",
    "public-space-cctv",
    "advance-minerva",
    "insight",
    "adult-social-care",
    "target-hardening",
    "youth-activities",
    "stop-search-monitoring-group",
    "police-independent-advisory-group",
    "youth-independent-advisory-group",
    "safer-neighbourhood-board",
    "cctv-advisory-group",
    "ward-panels",
]

# Contacts copied from the Plan (section 15), the way a resident would dial or type them.
PLAN_CONTACTS = {
    "crimestoppers": ["0800 555 111"],
    "modern-slavery-helpline": ["08000 121 700"],
    "prevent-team": ["020 8753 5727", "prevent3@rbkc.gov.uk"],
    "angelou": ["0808 801 0660"],
    "solace-womens-aid": ["0808 801 0305"],
    "southall-black-sisters": ["020 8571 0800"],
    "rights-of-women": ["020 7490 7689"],
    "respect-phoneline": ["0808 8024040"],
    "midaye": ["020 8969 7456", "contact@midaye.org.uk"],
    "children-safeguarding": ["020 7361 3013", "socialservices@rbkc.gov.uk"],
    "safer-london": ["0207 021 0301", "info@saferlondon.org.uk"],
    "youth-offending-service": ["020 7598 4734"],
    "detached-outreach-team": ["DOTduty@rbkc.gov.uk"],
    "targeted-prevention-team": ["TargetedPrevention@rbkc.gov.uk"],
    "streetline": ["streetline@rbkc.gov.uk"],
    "community-wardens": ["RBKCWardenService@rbkc.gov.uk"],
    "parks-police": ["0300 365 5101"],
    "advance-minerva": ["020 3953 3117", "minervaWA@advancecharity.org.uk"],
    "insight": ["020 8960 5510", "insight@humankindcharity.org.uk", "51 Golborne Road"],
    "adult-social-care": ["020 7361 3013", "020 7373 2227"],
    "action-fraud": ["0300 123 2040"],
    "community-safety-team": ["commsafe@rbkc.gov.uk"],
}

EN = Translator("en")


def contacts(content: Content, sid: str) -> str:
    s = content.directory.services[sid]
    return " ".join([*(p.number for p in s.phones), s.email, s.web, s.address])


def test_every_product_id_is_present(content: Content) -> None:
    assert set(PRODUCT_IDS) <= set(content.directory.services)


@pytest.mark.parametrize(("sid", "expected"), PLAN_CONTACTS.items())
def test_contacts_match_the_plan(content: Content, sid: str, expected: list[str]) -> None:
    for item in expected:
        assert item in contacts(content, sid)


def test_every_phone_is_a_valid_uk_number_or_short_code(content: Content) -> None:
    for s in content.directory.services.values():
        for p in s.phones:
            assert valid_phone(p.number), (s.id, p.number)
    assert not valid_phone("02 08571 0800")  # the Plan's misprint is caught
    assert not valid_phone("0800 555")


def test_every_topic_has_services_and_services_have_a_topic(content: Content) -> None:
    for tid in content.directory.topics:
        assert len(content.directory.in_topic(tid)) >= 2, tid


def _load(tmp_path: Path, data: object) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data))
    load_directory(path)


def test_problems_name_the_file_entry_and_field(tmp_path: Path) -> None:
    service = {"id": "x", "name": "X", "summary": "S", "topics": ["t"], "phones": [{"number": "1"}]}
    data = {
        "topics": [{"id": "t", "name": "T", "summary": "S"}],
        "services": [
            service,
            {**service, "topics": ["nope"], "email": "not-an-email", "phones": []},
            {"id": "y", "name": "Y", "summary": "S", "topics": ["t"], "web": "http://a.b",
             "hours": {"open": [{"days": "someday", "from": "9", "to": "17:00"}]}},
        ],
    }  # fmt: skip
    with pytest.raises(DirectoryError) as err:
        _load(tmp_path, data)
    problems = "\n".join(err.value.problems)
    assert (
        "directory.yaml: service x.phones[0].number: '1' is not a valid UK phone number" in problems
    )
    assert "directory.yaml: service x: duplicate id" in problems
    assert "directory.yaml: service x.topics: unknown topic `nope`" in problems
    assert "service x.email: 'not-an-email' is not an email address" in problems
    assert "service y.web: 'http://a.b' must be a full https:// link" in problems
    assert "service y.hours.open[0].from: '9' is not a time like 09:00" in problems


def test_bad_days_are_named(tmp_path: Path) -> None:
    data = {
        "topics": [{"id": "t", "name": "T", "summary": "S"}],
        "services": [{"id": "y", "name": "Y", "summary": "S", "topics": ["t"], "web": "https://a.uk",
                      "hours": {"open": [{"days": "someday", "from": "09:00", "to": "17:00"}]}}],
    }  # fmt: skip
    with pytest.raises(DirectoryError, match=r"service y.hours.open\[0\].days: days must be"):
        parse_directory(data)


def test_directory_check_command(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "bot", "directory", "check"],
                        capture_output=True, text=True, check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "38 services;" in ok.stdout and "situations" in ok.stdout
    assert ok.stdout.rstrip().endswith("all OK")


def test_a_victims_situation_may_not_list_the_line_for_people_who_harm(
    content: Content, tmp_path: Path
) -> None:
    """Staff adding the Respect Phoneline to a victims' situation are stopped, with the reason."""
    for name in ("directory.yaml", "flows", "locales"):
        source = content.root / name
        target = tmp_path / name
        target.symlink_to(source, target_is_directory=source.is_dir())
    text = (content.root / "situations.yaml").read_text(encoding="utf-8")
    wrong = text.replace(
        "services: [angelou, women-and-girls-network, victim-support, police-non-emergency]",
        "services: [angelou, respect-phoneline, victim-support, police-non-emergency]",
        1,
    )
    assert wrong != text
    (tmp_path / "situations.yaml").write_text(wrong, encoding="utf-8")
    env = {**os.environ, "BOT_CONTENT_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "bot", "directory", "check"], env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 1
    assert "abuse.partner: respect-phoneline is only for own-behaviour" in out.stderr


def test_thin_situations_are_named_per_language(content: Content) -> None:
    from bot.content.corpus import Example, check

    groups = {sid: s.groups for sid, s in content.directory.services.items()}
    examples = [Example(f"noise {i}", "asb.noise", "so") for i in range(3)]
    problems, warnings = check(content.situations, examples, groups, set(content.nodes))
    assert not problems
    said = "\n".join(warnings)
    assert "locales/so: asb.noise has 3 examples; write at least 12" in said
    assert "locales/so: only 3 examples find streetline; write more under asb.noise" in said
    bad = [Example("x", "no.such.situation", "fr")]
    problems, _w = check(content.situations, bad, groups, set(content.nodes))
    assert problems == [
        "locales/fr/examples: no.such.situation: no such situation in situations.yaml"
    ]


def test_who_a_service_is_for_must_be_a_known_group() -> None:
    data = {
        "topics": [{"id": "t", "name": "T", "summary": "S"}],
        "services": [{"id": "y", "name": "Y", "summary": "S", "topics": ["t"], "web": "https://a.uk",
                      "for": ["boys"]}],
    }  # fmt: skip
    with pytest.raises(DirectoryError, match=r"service y.for: unknown group `boys`"):
        parse_directory(data)


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    """London wall-clock time (November to March London is on UTC)."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def test_respect_phoneline_hours(content: Content) -> None:
    respect = content.directory.services["respect-phoneline"]
    assert respect.is_open(at(2026, 11, 24, 19, 30))  # Tuesday evening
    assert not respect.is_open(at(2026, 11, 24, 20, 30))  # Tuesday after 8pm
    assert not respect.is_open(at(2026, 11, 22, 12))  # Sunday
    assert not respect.is_open(at(2026, 12, 28, 12))  # Monday, Boxing Day substitute holiday


def test_summer_time_is_london_time(content: Content) -> None:
    respect = content.directory.services["respect-phoneline"]
    # 18:30 UTC in July is 19:30 in London: open; 19:30 UTC is 20:30 in London: closed.
    assert respect.is_open(datetime(2026, 7, 7, 18, 30, tzinfo=UTC))
    assert not respect.is_open(datetime(2026, 7, 7, 19, 30, tzinfo=UTC))


def test_wardens_close_on_bank_holidays(content: Content) -> None:
    wardens = content.directory.services["community-wardens"]
    assert is_bank_holiday(at(2026, 12, 25, 0).date())
    assert wardens.is_open(at(2026, 11, 22, 10))  # a Sunday morning
    assert not wardens.is_open(at(2026, 12, 25, 10))  # Christmas Day
    assert not wardens.is_open(at(2026, 11, 24, 23, 30))


def test_cctv_hours_run_past_midnight(content: Content) -> None:
    cctv = content.directory.services["public-space-cctv"]
    assert cctv.is_open(at(2026, 11, 28, 0, 30))  # Saturday 00:30, Friday's shift
    assert not cctv.is_open(at(2026, 11, 28, 1, 30))
    assert not cctv.is_open(at(2026, 11, 28, 14, 0))


def test_adult_social_care_card_points_to_the_right_line(content: Content) -> None:
    asc = content.directory.services["adult-social-care"]
    weekday = service_card(asc, at(2026, 11, 24, 15), EN)
    sunday = service_card(asc, at(2026, 11, 22, 15), EN)
    assert "📞 020 7361 3013 (9am to 5pm)" in weekday
    assert "📞 020 7373 2227 (Out of hours)" in weekday
    assert "Monday to Friday, 09:00 to 17:00" in weekday
    assert "• Open now" in weekday
    assert "• Open now: call the out-of-hours line" in sunday


def test_card_shows_everything_a_person_needs(content: Content) -> None:
    card = service_card(content.directory.services["insight"], at(2026, 11, 24, 15), EN)
    assert card.startswith("**Insight Substance Misuse Services**")
    assert "📞 020 8960 5510" in card
    assert "📍 51 Golborne Road" in card
    assert "✉️ insight@humankindcharity.org.uk" in card
    assert "Young people" in card
    solace = service_card(content.directory.services["solace-womens-aid"], at(2026, 11, 24, 15), EN)
    assert "Free · Anonymous" in solace


def test_danger_words_are_content_and_a_wrong_list_is_named(
    tmp_path: Path, content: Content
) -> None:
    words = content.danger_words
    assert "machete" in words["weapons"] and "چاقو" in words["weapons"]
    assert "no me deja salir" in words["held"]
    (tmp_path / "danger-words.yaml").write_text("words:\n  now: [now]\n  weapon: [knife]\n")
    with pytest.raises(CorpusError) as err:
        load_danger_words(tmp_path / "danger-words.yaml")
    assert "`weapon` is not a kind of danger word" in str(err.value)
    assert "`weapons` needs a list of words" in str(err.value)
