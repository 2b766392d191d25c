"""Understanding what people type: danger first, who is asking, the right services."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.content.i18n import LANGS
from bot.content.loader import load_content
from bot.core.actions import FORGET_CONFIRM
from bot.core.engine import Engine
from bot.core.screens import ASK, EMERGENCY, LANGUAGE, REMINDER, RESULTS
from bot.core.types import Asked
from bot.understanding.reader import DANGER_ASK, DANGER_YES, Danger
from tests.conftest import Chat, ids


def hits(engine: Engine, text: str) -> list[str]:
    """The services the assistant would offer for `text`, best first."""
    return [h.id for h in engine.understanding.read(text).hits]


# A victim of abuse, in every language: never the line for people who harm.
VICTIMS = [
    ("en", "he is violent"),
    ("en", "my husband is abusive and I'm scared"),
    ("ar", "زوجي عنيف معي وانا خايفة"),
    ("ar", "jozi byedrobni kel yom"),
    ("fa", "شوهرم باهام خشنه و میترسم"),
    ("fa", "shoharam mano kotak mizane"),
    ("fr", "mon mari est violent avec moi"),
    ("fr", "mon copain me tape quand il a bu"),
    ("pt", "meu marido é violento comigo"),
    ("pt", "o meu companheiro bate-me e tenho medo"),
    ("so", "ninkaygu wuu i garaacaa waan ka baqayaa"),
    ("so", "saygaygu waa rabshad badan yahay"),
    ("es", "mi marido es violento conmigo"),
    ("es", "mi pareja me pega y tengo miedo"),
]

# A person worried about their own behaviour: the Respect Phoneline first.
OWN_BEHAVIOUR = [
    ("en", "i hit my girlfriend last night and i hate myself, i want to stop"),
    ("ar", "انا بضرب مرتي لما اعصب وبدي اتغير"),
    ("fa", "من وقتی عصبانی میشم زنمو میزنم، میخوام عوض شم"),
    ("fr", "je frappe ma femme quand je m'énerve et je veux changer"),
    ("pt", "eu bato na minha mulher quando fico nervoso e quero mudar"),
    ("so", "marka aan xanaaqo ayaan xaaskayga garaacaa, waxaan rabaa inaan isbedelo"),
    ("es", "le pego a mi mujer cuando me enfado y quiero cambiar"),
]

# A girl of 13 to 17 after sexual violence: the girls' service; a boy or a grandmother: never.
GIRLS = [
    ("en", "my 15 year old daughter was raped by a boy from her school"),
    ("ar", "بنتي عمرها ١٥ سنة اغتصبها شاب"),
    ("fa", "دختر ۱۵ ساله‌ام مورد تجاوز قرار گرفته"),
    ("fr", "ma fille de 15 ans a été violée par un garçon du lycée"),
    ("pt", "minha filha de 15 anos foi estuprada por um colega"),
    ("so", "gabadhayda 15 jirka ah ayaa la kufsaday"),
    ("es", "mi hija de 15 años fue violada por un chico del instituto"),
]
NOT_GIRLS = [
    ("en", "my 15 year old son was sexually abused by his coach"),
    ("en", "my grandmother is 85 and her carer hits her"),
    ("fr", "mon fils de 14 ans a subi des attouchements par son entraîneur"),
    ("es", "mi abuela de 85 años está siendo maltratada por su cuidador"),
    ("ar", "ابني عمره ١٤ سنة تعرض لتحرش جنسي من المدرب"),
    ("pt", "a minha avó de 85 anos é maltratada pela cuidadora"),
]

# A boy who was sexually abused, in his own words: children's services, and none of the
# services for women and girls.
BOYS = [
    ("en", "im a lad, 16, an older man at my boxing club abused me"),
    ("fr", "je suis un garçon de 16 ans et un homme m'a agressé sexuellement"),
    ("es", "soy un chico de 16 y un hombre abusó de mí"),
    ("ar", "انا ولد عمري ١٦ ورجل كبير اعتدى علي جنسياً"),
]
WOMEN_AND_GIRLS = {"solace-womens-aid", "women-and-girls-network", "southall-black-sisters"}


@pytest.mark.parametrize(("lang", "text"), BOYS)
def test_a_boy_who_was_abused_is_not_sent_to_women_and_girls_services(
    engine: Engine, lang: str, text: str
) -> None:
    found = hits(engine, text)
    assert "children-safeguarding" in found, (lang, text, found)
    assert not WOMEN_AND_GIRLS & set(found), (lang, text, found)


# A parent worried about a child: the youth services, not only an anonymous crime line.
PARENTS = [
    ("en", "found a knife in my 14yr old's school bag"),
    ("en", "older boys make him sell drugs"),
    ("ar", "لقيت سكين بشنطة ابني اللي عمره ١٤"),
    ("fa", "تو کیف مدرسه پسر ۱۴ ساله‌ام چاقو پیدا کردم"),
    ("fr", "des grands obligent mon fils à vendre de la drogue"),
    ("pt", "uns rapazes mais velhos estão a obrigar o meu filho a vender droga"),
    ("so", "wiilkayga 14 jirka ah ayaan boorsadiisa mindi ka helay"),
    ("es", "unos chicos mayores obligan a mi hijo a vender droga"),
]
YOUTH_SERVICES = {"safer-london", "st-giles-trust", "midaye", "children-safeguarding",
                  "detached-outreach-team"}  # fmt: skip

# Danger now, however it is worded: overdose, strangling, a break-in, a child, fire, held, armed.
DANGER_NOW = [
    # An overdose told quietly, as news rather than a cry for help.
    ("en", "i swallowed all of my pills tonight, just thought id let someone know"),
    ("fr", "j'ai pris toute ma boîte de cachets ce soir, je voulais le dire à quelqu'un"),
    ("es", "esta noche me tomé todas mis pastillas, solo quería que alguien lo supiera"),
    ("en", "she took a lot of pills and won't wake up"),
    ("en", "he's strangling my sister in the kitchen"),
    ("en", "someone is forcing my front door open"),
    ("en", "a little kid is standing on a window ledge on the 4th floor"),
    ("en", "he has a knife outside my door"),
    ("en", "he locked me in the bathroom"),
    ("ar", "اخوي اخذ حبوب كثير وما عم يتنفس"),
    ("ar", "في حدا عم يكسر باب البيت هلق"),
    ("fa", "دوستم قرص زیاد خورده بیهوش شده"),
    ("fa", "یه مرد با چاقو پشت در خونمه"),
    ("fr", "il est en train d'étrangler ma mère"),
    ("fr", "mon ami a pris trop de cachets il respire plus"),
    ("pt", "ele está a estrangular a minha irmã"),
    ("pt", "tem alguém arrombando minha porta"),
    ("so", "aabbahay wuu neefsan waayay kaniiniyo badan ayuu qaatay"),
    ("so", "nin mindi sita ayaa albaabka iga taagan"),
    ("es", "mi amiga se tomó muchas pastillas y no despierta"),
    ("es", "hay fuego en el piso de al lado"),
]

# Alarming words that are not danger now: the past, the news, "what if", advice.
NOT_NOW = [
    ("en", "what should I do if my ex threatens me again?"),
    ("en", "my ex-husband used to beat me"),
    ("en", "there was a shooting on the news near notting hill"),
    ("en", "neighbours shouting every night"),
    ("ar", "زوجي السابق كان يضربني من سنين"),
    ("fa", "شوهر سابقم قبلاً منو کتک میزد"),
    ("fr", "mon ex me frappait il y a des années"),
    ("pt", "o que faço se o meu ex me ameaçar outra vez?"),
    ("so", "ninkaygii hore ayaa i garaaci jiray sanado ka hor"),
    ("es", "qué hago si mi ex me vuelve a amenazar?"),
    # Dreams, games and outings, figures of speech: alarming words, nobody in danger.
    (
        "en",
        "had the weirdest nightmare that a man with a knife was in my flat, woke up and all fine",
    ),
    (
        "en",
        "we did an escape room for my birthday and got locked in a prison cell for an hour, so fun",
    ),
    ("en", "locked myself out again, waiting on the step for my flatmate with the keys"),
    ("ar", "حلمت ان حدا عم يلحقني بسكين، صحيت والحمدلله ما في شي"),
    ("fr", "j'ai rêvé qu'on m'étranglait, je me suis réveillée en sueur mais ça va"),
    ("pt", "a minha chefe vai matar-me se eu chegar atrasada outra vez"),
    ("so", "riyo xun ayaan arkay nin mindi sita ayaa i eryanayay, waan toosay waana fiicanahay"),
    ("es", "en el videojuego los zombis rompen la puerta y hay que esconderse, me encanta"),
]

# Words that ask the assistant itself to do something.
COMMANDS = [
    ("en", "forget me", FORGET_CONFIRM),
    ("en", "please delete everything you know about me", FORGET_CONFIRM),
    ("en", "change language", LANGUAGE),
    ("ar", "امسح كل معلوماتي", FORGET_CONFIRM),
    ("ar", "بدي غير اللغة", LANGUAGE),
    ("fa", "همه اطلاعاتمو پاک کن", FORGET_CONFIRM),
    ("fa", "زبان رو عوض کن", LANGUAGE),
    ("fr", "efface tout ce que tu sais sur moi", FORGET_CONFIRM),
    ("fr", "changer de langue", LANGUAGE),
    ("pt", "apaga tudo o que sabes sobre mim", FORGET_CONFIRM),
    ("pt", "mudar o idioma", LANGUAGE),
    ("so", "wax walba oo aad iga ogtahay tirtir", FORGET_CONFIRM),
    ("so", "luqadda bedel", LANGUAGE),
    ("es", "borra todo lo que sabes de mí", FORGET_CONFIRM),
    ("es", "cambiar el idioma", LANGUAGE),
]
EXIT = [
    ("en", "get me out of here"),
    ("ar", "طلعني من هون بسرعة"),
    ("fa", "سریع ببندش"),
    ("fr", "sors moi de là vite"),
    ("pt", "tira-me daqui depressa"),
    ("so", "dhakhso u xir"),
    ("es", "sácame de aquí rápido"),
    # Asked to erase and to leave: leaving comes first, and quick exit clears the chat too.
    ("en", "delete everything and close"),
    ("fr", "effacer la conversation et quitter"),
    ("es", "borrar todo y salir"),
    ("fa", "khoruj fori, pak kon hamaro"),
]


@pytest.mark.parametrize(("lang", "text"), VICTIMS)
def test_a_victim_is_never_offered_the_line_for_people_who_harm(
    engine: Engine, lang: str, text: str
) -> None:
    found = hits(engine, text)
    assert found and "respect-phoneline" not in found, (lang, text, found)
    assert {"angelou", "women-and-girls-network"} & set(found), (lang, text, found)


@pytest.mark.parametrize(("lang", "text"), OWN_BEHAVIOUR)
def test_own_behaviour_finds_the_respect_phoneline(engine: Engine, lang: str, text: str) -> None:
    reading = engine.understanding.read(text)
    assert reading.ask is not None or reading.hits[0].id == "respect-phoneline", (lang, reading)


@pytest.mark.parametrize(("lang", "text"), OWN_BEHAVIOUR)
def test_own_behaviour_is_never_offered_the_victims_services(
    engine: Engine, lang: str, text: str
) -> None:
    found = hits(engine, text)
    victims = {"angelou", "women-and-girls-network", "victim-support", "southall-black-sisters"}
    assert not victims & set(found) or engine.understanding.read(text).ask, (lang, found)


@pytest.mark.parametrize(("lang", "text"), GIRLS)
def test_a_girl_after_sexual_violence_finds_the_girls_service(
    engine: Engine, lang: str, text: str
) -> None:
    assert "solace-womens-aid" in hits(engine, text), (lang, text)


@pytest.mark.parametrize(("lang", "text"), NOT_GIRLS)
def test_the_girls_service_is_never_offered_to_boys_or_adults(
    engine: Engine, lang: str, text: str
) -> None:
    found = hits(engine, text)
    assert found and "solace-womens-aid" not in found, (lang, text, found)


def test_an_older_adult_gets_adult_social_care_not_youth_services(engine: Engine) -> None:
    found = hits(engine, "my grandmother is 85 and her carer hits her")
    assert found[0] == "adult-social-care"
    assert not YOUTH_SERVICES & set(found)


# People who say they rent privately or own their home: the council tenants' line would turn
# them away.
NOT_TENANTS = [
    ("en", "i rent from a private landlord and the neighbour keeps swearing at me and my kids"),
    ("fr", "je suis propriétaire et mon voisin raye ma voiture et m'insulte"),
    ("es", "alquilo un piso privado y el vecino de abajo me amenaza cuando me ve"),
    ("pt", "a casa é minha e o vizinho ameaça-me sempre que me vê"),
    ("ar", "انا ساكن بإيجار خاص مش كاونسل والجار كل يوم يسبني ويهددني"),
]


@pytest.mark.parametrize(
    "text", ["Portobello Road W11", "Golborne Road W10", "flat 7, Trellick Tower", "SW10 9AB"]
)
def test_a_place_on_its_own_is_not_danger_now(engine: Engine, text: str) -> None:
    # What a person types when the report form asks "Where?": never the 999 card.
    assert engine.understanding.read(text).danger is not Danger.YES


@pytest.mark.parametrize(("lang", "text"), NOT_TENANTS)
def test_a_private_renter_or_owner_is_not_sent_to_the_council_tenants_line(
    engine: Engine, lang: str, text: str
) -> None:
    found = hits(engine, text)
    assert found and "housing-asb" not in found, (lang, text, found)
    assert "police-non-emergency" in found, (lang, text, found)


def test_a_council_tenant_is_sent_to_the_council_tenants_line(engine: Engine) -> None:
    found = hits(engine, "im a council tenant and people smoke weed in our stairwell every night")
    assert "housing-asb" in found, found


def test_an_older_parent_whose_son_takes_their_money_gets_no_youth_drug_service(
    engine: Engine,
) -> None:
    found = hits(engine, "i am 80 and my son who uses drugs takes my pension every week")
    assert "adult-social-care" in found, found
    assert not YOUTH_SERVICES & set(found) and "insight" not in found, found


@pytest.mark.parametrize(("lang", "text"), PARENTS)
def test_a_parent_worried_about_a_child_finds_the_youth_services(
    engine: Engine, lang: str, text: str
) -> None:
    found = hits(engine, text)
    assert found and found[0] in YOUTH_SERVICES, (lang, text, found)


@pytest.mark.parametrize(("lang", "text"), DANGER_NOW)
def test_danger_now_shows_the_999_card_first(engine: Engine, lang: str, text: str) -> None:
    replies = Chat(engine, lang).say(text)
    assert "999" in replies[0].text and "55" in replies[0].text, (lang, text)


@pytest.mark.parametrize(
    "text",
    ["there's a man with a machete outside my door", "he locked me in and took my keys"],
)
def test_the_word_rules_ask_about_danger_when_the_model_misses_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    u = engine.understanding
    monkeypatch.setattr(u, "danger_score", lambda probs, p: 0.0)  # the model sees no danger
    assert u.read(text).danger is Danger.MAYBE  # asked, but the card is the model's alone
    assert u.read("which park has the best fireworks").danger is Danger.NO


@pytest.mark.parametrize(("lang", "text"), NOT_NOW)
def test_the_past_the_news_and_what_if_are_not_danger_now(
    engine: Engine, lang: str, text: str
) -> None:
    chat = Chat(engine, lang)
    chat.say(text)
    assert ("emergency", "text") not in chat.events, (lang, text)


@pytest.mark.parametrize(("lang", "text", "screen"), COMMANDS)
def test_commands_in_words_do_what_the_buttons_do(
    engine: Engine, lang: str, text: str, screen: str
) -> None:
    chat = Chat(engine, lang)
    chat.say(text)
    assert chat.session.node == screen, (lang, text, chat.session.node)


@pytest.mark.parametrize(("lang", "text"), EXIT)
def test_get_me_out_in_words_is_a_quick_exit(engine: Engine, lang: str, text: str) -> None:
    chat = Chat(engine, lang)
    chat.say("my husband hits me")
    [reply] = chat.say(text)
    assert "erase_chat" in [e.value for e in reply.effects], (lang, text)
    assert chat.session.lang is None and chat.session.stored() == "{}" and not chat.session.draft


def test_a_typed_forget_me_still_asks_before_erasing(chat: Chat) -> None:
    [reply] = chat.say("forget me")
    assert "act:forget_confirmed" in ids(reply)
    assert not reply.effects  # nothing is erased until the person confirms


def test_violence_answers_carry_the_999_reminder(chat: Chat) -> None:
    [reply] = chat.say("my husband hits me")
    assert "In danger now? Call 999." in reply.text
    assert "act:exit" in ids(reply)


def test_a_noise_complaint_carries_no_999_reminder(chat: Chat) -> None:
    [reply] = chat.say("my neighbours play loud music every night")
    assert chat.session.node == RESULTS
    assert "Call 999" not in reply.text and "svc:streetline" in ids(reply)


def test_unclear_danger_reads_as_maybe(engine: Engine) -> None:
    u = engine.understanding
    probs, _danger = u.model.predict(["my neighbours play loud music"])
    assert u._reading("x", probs[0], DANGER_ASK + 0.01).danger is Danger.MAYBE
    assert u._reading("x", probs[0], DANGER_YES).danger is Danger.YES
    assert u._reading("x", probs[0], DANGER_ASK - 0.01).danger is Danger.NO


def test_unclear_danger_asks_and_yes_opens_the_999_card(engine: Engine) -> None:
    chat = Chat(engine)
    chat.session.results = ("angelou", "victim-support")
    chat.session.asked = Asked("danger")
    [reply] = chat.press(ASK)
    assert reply.text.startswith("Is someone in danger right now?")
    assert ids(reply)[:2] == [EMERGENCY, RESULTS]
    [card] = chat.press(EMERGENCY)
    assert "999" in card.text and "55" in card.text
    chat.session.asked = Asked("danger")
    chat.press(ASK)
    [results] = chat.press(RESULTS)
    assert ids(results)[:2] == ["svc:angelou", "svc:victim-support"]


def test_who_is_it_about_is_asked_when_unclear_and_each_answer_fits(engine: Engine) -> None:
    chat = Chat(engine)
    chat.session.results = ("angelou",)
    chat.session.asked = Asked("who", ("abuse.partner", "abuse.partner.other", "abuse.own"))
    chat.session.node = ASK
    [reply] = chat.press(ASK)
    assert reply.text.startswith("Who is this about?")
    assert ids(reply)[:3] == ["sit:abuse.partner", "sit:abuse.partner.other", "sit:abuse.own"]
    [own] = chat.press("sit:abuse.own")
    assert ids(own)[0] == "svc:respect-phoneline"
    [me] = chat.press("sit:abuse.partner")
    assert "svc:angelou" in ids(me) and "svc:respect-phoneline" not in ids(me)


def test_a_query_in_another_language_than_the_session(chat: Chat) -> None:
    [reply] = chat.say("violencia doméstica")
    assert "svc:angelou" in ids(reply)


def test_search_speaks_the_language_it_is_given() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "search", "--lang", "fr", "he has a knife outside my door"],
        capture_output=True, text=True, env=dict(os.environ), check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    french = load_content().catalogs.get("fr")("In danger now? Call 999.")
    assert proc.stdout.splitlines()[0] == f"EMERGENCY: {french}" and "999" in french


def test_search_command_reads_one_query_a_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "search", "--json", "--lang", "so", "--limit", "2", "-"],
        input="he has a knife outside my door\nnoisy neighbours loud music every night\n"
        "how do I report a crime that happened last week\n",
        capture_output=True, text=True, env=dict(os.environ), check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    first, second, third = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["emergency"] is True and first["lang"] == "so"
    assert second["emergency"] is False
    assert second["results"][0]["id"] == "streetline" and len(second["results"]) <= 2
    # --lang names the services in that language.
    assert third["results"][0] == {
        "id": "police-non-emergency", "name": "Booliska – aan degdeg ahayn (101)",
        "score": third["results"][0]["score"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "screen"),
    [
        ("tips to keep my bike safe", "tips.vehicle"),
        ("how can I protect my home from burglars", "tips.home"),
        ("how to avoid scams", "tips.fraud"),
        ("comment protéger mon vélo", "tips.vehicle"),
        ("como proteger mi bici", "tips.vehicle"),
        ("كيف احمي بيتي من الحرامية", "tips.home"),
    ],
)
def test_asking_how_to_stay_safe_opens_the_tips(engine: Engine, text: str, screen: str) -> None:
    chat = Chat(engine)
    chat.say(text)
    assert chat.session.node == screen, text


@pytest.mark.parametrize(
    "text",
    ["my bike was stolen", "bike nicked", "on m'a volé mon vélo", "me robaron la bici",
     "سرقوا البسكليت", "گوشیمو دزدیدن", "baaskiilkayga waa la xaday"],
)  # fmt: skip
def test_a_theft_finds_the_police_not_the_tips(engine: Engine, text: str) -> None:
    chat = Chat(engine)
    chat.say(text)
    assert not chat.session.node.startswith("tips"), text
    assert "police-non-emergency" in hits(engine, text), text


@pytest.mark.parametrize("lang", [lang for lang in LANGS if lang != "en"])
def test_questions_back_are_asked_in_the_persons_language(engine: Engine, lang: str) -> None:
    english: dict[str, list[str]] = {}
    english_choices: dict[str, list[object]] = {}
    for code in ("en", lang):
        for kind, options in (
            ("danger", []),
            ("who", ["abuse.partner", "abuse.partner.other", "abuse.own"]),
            ("topic", ["vawg", "asb"]),
        ):
            chat = Chat(engine, code)
            chat.session.results = ("angelou",)
            chat.session.asked = Asked(kind, tuple(options))
            [reply] = chat.press(ASK)
            # Every label is translated (tests/content/test_translations.py); "No" is Spanish too.
            if code == "en":
                english[kind] = [reply.text]
            else:
                assert reply.text != english[kind][0], (lang, kind)
                assert len(reply.choices) == len(english_choices[kind]), (lang, kind)
            english_choices.setdefault(kind, list(reply.choices))


@pytest.mark.parametrize("lang", LANGS)
def test_every_answer_about_abuse_carries_the_999_reminder_in_the_language(
    engine: Engine, lang: str
) -> None:
    chat = Chat(engine, lang)
    [reply] = chat.press("topic:vawg")
    reminder = engine.content.catalogs.get(lang)(REMINDER)
    shown = reply.text.replace("\u2066", "").replace("\u2069", "")  # right-to-left isolates
    assert "999" in reminder and shown.rstrip().endswith(reminder)


def test_training_gives_the_same_model_every_time(engine: Engine) -> None:
    import numpy as np

    from bot.content.corpus import Example, load_examples
    from bot.understanding.model import Model

    content = engine.content
    by_situation: dict[str, list[Example]] = {}
    for ex in load_examples(content.locales):
        by_situation.setdefault(ex.situation, []).append(ex)
    sample = [ex for exs in by_situation.values() for ex in exs[:6]]
    first, second = Model(sample, content.situations), Model(sample, content.situations)
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.danger_weights, second.danger_weights)
    assert (
        first.predict(["noisy neighbours"])[0].argmax()
        == second.predict(["noisy neighbours"])[0].argmax()
    )
