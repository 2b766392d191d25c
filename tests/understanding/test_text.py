"""Normalisation per script: what people type matches our words however they spell it."""

from __future__ import annotations

import pytest

from bot.understanding.text import clean, fold, terms, words


@pytest.mark.parametrize(
    ("typed", "ours"),
    [
        ("VIOLÊNCIA doméstica", "violencia domestica"),  # Portuguese accents and case
        ("Sécurité à l'ÉCOLE", "securite a l'ecole"),  # French
        ("niño AGRESIÓN", "nino agresion"),  # Spanish
        ("مُسَاعَدَة", "مساعده"),  # Arabic diacritics and teh marbuta
        ("أمان إسعاف آمن", "امان اسعاف امن"),  # alef variants
        ("مـــســاعــدة", "مساعده"),  # tatweel
        ("كمك", "کمک"),  # Arabic kaf typed for Persian kaf
        ("پليس", "پلیس"),  # Arabic yeh typed for Persian yeh
        ("می‌خواهم", "میخواهم"),  # zero-width non-joiner
        ("١٠١ و ۹۹۹", "101 و 999"),  # Arabic-Indic and Persian digits
        ("Gaarsiinta", "gaarsiinta"),  # Somali (Latin script)
    ],
)
def test_fold_unifies_spellings(typed: str, ours: str) -> None:
    assert fold(typed) == fold(ours) == ours


def test_words_drop_punctuation() -> None:
    assert words("Help!!! he's got a KNIFE...") == ["help", "he", "s", "got", "a", "knife"]
    assert words("تحرش، في الشارع؟") == ["تحرش", "فی", "الشارع"]


def test_clean_removes_controls_and_caps_length() -> None:
    assert clean("a\u202eb\u0000c\u200fd") == "abcd"
    assert clean("x" * 50_000) == "x" * 1000
    assert clean("می\u200cخواهم") == "می\u200cخواهم"  # the joiner is meaningful, kept


@pytest.mark.parametrize(
    ("typed", "stem"),
    [
        ("بالشارع", "شارع"),  # "in the street" matches "street"
        ("والجيران", "جیران"),  # "and the neighbours"
        ("بيضربني", "یضربنی"),  # spoken present tense: "he is hitting me"
        ("وجوزي", "جوزی"),  # "and my husband"
        ("بيت", "بیت"),  # a short word keeps its first letter
        ("الان", "الان"),  # "now" is not an article plus "ن"
        ("ballet", "ballet"),  # Latin script untouched
    ],
)
def test_terms_drop_arabic_articles_and_particles(typed: str, stem: str) -> None:
    assert terms(typed) == [stem]
