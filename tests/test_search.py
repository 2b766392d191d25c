"""Understanding what people type: danger first, then the right services, in every language."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.engine import Engine
from bot.i18n import LANGS
from tests.conftest import Chat

QUERIES = [
    (
        "en",
        "my son is carrying drugs for older boys",
        ["children-safeguarding", "midaye", "safer-london", "st-giles-trust"],
    ),
    (
        "en",
        "please help my neighbour is dealing drugs on the stairs every night",
        ["crimestoppers", "housing-asb", "police-non-emergency"],
    ),
    ("en", "scam call bank said move my money", ["action-fraud", "police-non-emergency"]),
    ("ar", "زوجي يضربني", ["angelou", "women-and-girls-network"]),
    ("ar", "جوزي بيفتش موبايلي وما بيخليني اطلع من البيت", ["angelou", "women-and-girls-network"]),
    (
        "ar",
        "ما عندي اقامة وزوجي يهددني انه يرحلني no recourse to public funds",
        ["angelou", "rights-of-women", "southall-black-sisters"],
    ),
    ("fa", "شوهرم منو میزنه", ["angelou", "women-and-girls-network"]),
    ("fa", "shoharam mano mizane chikar konam", ["angelou", "women-and-girls-network"]),
    (
        "fa",
        "شوهرم گوشیمو چک میکنه نمیذاره با دوستام برم بیرون",
        ["angelou", "women-and-girls-network"],
    ),
    ("fr", "mon mari me frappe", ["angelou", "women-and-girls-network"]),
    (
        "fr",
        "mon copain fouille mon tel et me dit comment m'habiller",
        ["angelou", "women-and-girls-network"],
    ),
    (
        "fr",
        "jai pas de papiers et mon mari me menace, pas droit aux aides",
        ["angelou", "rights-of-women", "southall-black-sisters"],
    ),
    ("pt", "meu marido me bate", ["angelou", "women-and-girls-network"]),
    (
        "pt",
        "meu namorado mexe no meu celular e nao deixa eu sair com as amigas",
        ["angelou", "women-and-girls-network"],
    ),
    (
        "pt",
        "nao tenho documento e meu marido me ameaca, nao tenho direito a beneficio",
        ["angelou", "rights-of-women", "southall-black-sisters"],
    ),
    ("so", "ninkayga ayaa i garaaca", ["angelou", "women-and-girls-network"]),
    (
        "so",
        "saygayga taleefankayga ayuu baaraa mana ii ogola inaan banaanka u baxo",
        ["angelou", "women-and-girls-network"],
    ),
    (
        "so",
        "warqad ma haysto ninkayga wuu i handadaa no recourse to public funds",
        ["angelou", "rights-of-women", "southall-black-sisters"],
    ),
    ("es", "mi esposo me pega", ["angelou", "women-and-girls-network"]),
    (
        "es",
        "mi novio me revisa el celular y no me deja ver a mis amigas",
        ["angelou", "women-and-girls-network"],
    ),
    (
        "es",
        "no tengo papeles y mi marido me maltrata, no tengo derecho a ayudas",
        ["angelou", "rights-of-women", "southall-black-sisters"],
    ),
]
DANGER = [
    ("en", "he has a knife outside my door"),
    ("en", "help he is hitting me"),
    ("ar", "في واحد معه سكين قدام بابي"),
    ("ar", "ساعدوني عم يضربني"),
    ("fa", "یه مرد با چاقو پشت در خونمه"),
    ("fa", "کمک کنید داره منو میزنه"),
    ("fr", "il a un couteau devant ma porte"),
    ("fr", "au secours il me frappe"),
    ("pt", "ele ta com uma faca na minha porta"),
    ("pt", "socorro ele ta me batendo"),
    ("so", "nin mindi sita ayaa albaabka iga taagan"),
    ("so", "i caawiya wuu i garaacayaa"),
    ("es", "tiene un cuchillo en mi puerta"),
    ("es", "ayuda me esta pegando"),
    # A weapon here, outside or now, however it is worded.
    ("en", "theres a guy with a machete by my door"),
    ("fr", "un mec avec un flingue devant chez moi"),
    ("pt", "homem com faca aqui na escada"),
    ("ar", "في واحد برا معه ساطور"),
    ("fa", "یکی با قمه جلو خونمونه"),
    ("so", "nin qori wata ayaa banaanka jooga"),
    # Being kept in, in any form of the word.
    ("en", "he locked me in the bathroom"),
    ("fr", "il m'a enfermée dans la chambre"),
    ("pt", "ele me trancou no quarto"),
    ("ar", "محبوسة بالبيت"),
]
BENIGN = [
    ("en", "tips to keep my bike safe"),
    ("en", "noisy neighbours"),
    ("ar", "كيف احمي دراجتي من السرقة"),
    ("ar", "الجيران مزعجين"),
    ("fa", "چطور دوچرخمو از دزدی حفظ کنم"),
    ("fa", "همسایه های پر سر و صدا"),
    ("fr", "conseils pour proteger mon velo"),
    ("fr", "voisins bruyants"),
    ("pt", "dicas pra proteger minha bicicleta"),
    ("pt", "vizinhos barulhentos"),
    ("so", "sidee baan u ilaaliyaa baaskiilkayga"),
    ("so", "deris qaylo badan"),
    ("es", "consejos para proteger mi bici"),
    ("es", "vecinos ruidosos"),
    # Weapons as a topic, or in the past.
    ("en", "knife crime on my street, what is being done"),
    ("es", "robaron a mi hijo con navaja la semana pasada en la calle"),
    ("ar", "معلومات عن جرائم السكاكين بالشارع"),
    ("fa", "نکات برای جرم چاقو تو خیابون"),
    ("ar", "نصائح لحماية البيت من الحرامية"),
    ("en", "i locked myself out of my flat"),
    # "someone" and "outside" together are not danger by themselves.
    ("en", "someone dumped a mattress and sofa outside my block"),
    ("fa", "پسرم زندانی است چه کمکی هست"),
]


@pytest.mark.parametrize(("lang", "query", "expect"), QUERIES)
def test_queries_find_the_right_services(
    engine: Engine, lang: str, query: str, expect: list[str]
) -> None:
    found = [h.id for h in engine.searcher.search(query, limit=3)]
    assert set(expect) & set(found), (lang, query, found)


@pytest.mark.parametrize(("lang", "text"), DANGER)
def test_danger_now_is_spotted(engine: Engine, lang: str, text: str) -> None:
    assert engine.danger.is_emergency(text)
    replies = Chat(engine, lang).say(text)
    assert "999" in replies[0].text and "55" in replies[0].text


@pytest.mark.parametrize(("lang", "text"), BENIGN)
def test_ordinary_questions_raise_no_alarm(engine: Engine, lang: str, text: str) -> None:
    assert not engine.danger.is_emergency(text)


def test_a_query_in_another_language_than_the_session(engine: Engine) -> None:
    chat = Chat(engine, "en")
    [reply] = chat.say("violencia doméstica")
    assert "svc:angelou" in [c.id for c in reply.choices]


def test_search_command_reads_one_query_a_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "search", "--json", "--lang", "so", "--limit", "2", "-"],
        input="he has a knife\nnoisy neighbours loud music\n",
        capture_output=True, text=True, env=dict(os.environ), check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["emergency"] is True and first["lang"] == "so"
    assert second["emergency"] is False
    assert second["results"][0]["id"] == "streetline" and len(second["results"]) <= 2


@pytest.mark.parametrize("lang", LANGS)
def test_search_words_name_only_real_topics_and_services(engine: Engine, lang: str) -> None:
    """A mistyped id in a search.yaml would silently teach nothing."""
    from bot.search import load_search_words

    words = load_search_words(engine.content.locales).get(lang, {})
    directory = engine.content.directory
    assert set(words) <= {"topics", "services", "tips", "danger", "not_danger"}, lang
    assert set(words.get("topics") or {}) <= set(directory.topics), lang
    assert set(words.get("services") or {}) <= set(directory.services), lang
    tips = set(words.get("tips") or {})
    assert tips <= {n for n in engine.content.nodes if n.split(".")[0] == "tips"}, lang


@pytest.mark.parametrize(
    ("text", "screen"),
    [
        ("tips to keep my bike safe", "tips.vehicle"),
        ("how can I protect my home from burglars", "tips.home"),
        ("how to avoid scams", "tips.fraud"),
        ("keep my phone safe", "tips.phone"),
    ],
)
def test_asking_how_to_stay_safe_opens_the_tips(chat: Chat, text: str, screen: str) -> None:
    [reply] = chat.say(text)
    assert chat.session.node == screen
    assert "Angelou" not in reply.text and "Community Trigger" not in reply.text


@pytest.mark.parametrize("text", ["my bike was stolen", "my phone was snatched", "stolen bike"])
def test_a_crime_that_happened_still_finds_the_services(chat: Chat, text: str) -> None:
    [reply] = chat.say(text)
    assert chat.session.node == "results" and "101" in reply.text


@pytest.mark.parametrize(
    ("text", "screen"),
    [
        ("comment protéger mon vélo", "tips.vehicle"),
        ("como proteger minha bicicleta", "tips.vehicle"),
        ("como proteger mi bici", "tips.vehicle"),
        ("كيف احمي بيتي من الحرامية", "tips.home"),
        ("چطور کلاهبرداری رو تشخیص بدم", "tips.fraud"),
        ("sidee looga badbaado shirqoolka", "tips.fraud"),
    ],
)
def test_tips_are_found_in_every_language(engine: Engine, text: str, screen: str) -> None:
    tip = engine.searcher.tip(text)
    hits = engine.searcher.search(text)
    assert tip is not None and tip.id == screen, (text, tip)
    assert not hits or tip.score >= hits[0].score, (text, tip, hits[:1])


@pytest.mark.parametrize(
    "text",
    [
        "on m'a volé mon vélo",
        "roubaram a minha bicicleta",
        "me robaron la bici",
        "سرقوا البسكليت",
        "گوشیمو دزدیدن",
        "baaskiilkayga waa la xaday",
    ],
)
def test_a_theft_in_any_language_is_not_taken_for_a_tips_question(
    engine: Engine, text: str
) -> None:
    tip = engine.searcher.tip(text)
    [best, *_rest] = engine.searcher.search(text)
    assert tip is None or tip.score < best.score, (text, tip, best)
