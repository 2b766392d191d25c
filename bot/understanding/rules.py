"""Word rules for danger now, beside the learned danger model (bot.understanding.reader).

Two situations are danger now however they are worded, and a model trained on examples may
still miss an unusual wording of them, so these rules add recall:
- a weapon mentioned with here, outside or now ("machete ... outside ... now");
- someone being kept in against their will ("he locked me in").
Words about the past or asking for advice calm the weapon rule, unless the message says "now".
They also fire on escape rooms and doors locked out of, so they only ever make the assistant
ask "Is someone in danger right now?": the card itself is the model's to raise.
"""

from __future__ import annotations

from rapidfuzz import process

from bot.understanding.text import terms

WEAPON_RATIO = 90.0  # "cuchilo" is a knife; "arrombada" (forced open) is not "armada" (armed)

# Words that say "right now", in every language: a weapon with one of them is danger now.
_NOW = (
    "now|right now|maintenant|en ce moment|ahora|ahorita|agora|الان|هلا|هلق|هلأ|hala2|halla|"
    "daba|دابا|الحين|دلوقتي|هسه|همین الان|الان|alan|hadda|hada|haatan"
)
_NOW_WORDS = [terms(w) for w in _NOW.split("|")]

# A weapon here or now is danger now, however the rest is worded; "knife crime" is a topic.
_WEAPONS = (
    "knife|knives|gun|guns|machete|acid|pistol|firearm|blade|shotgun|rifle|weapon|armed|"
    "couteau|couteaux|arme|armes|pistolet|fusil|machette|acide|flingue|lame|"
    "cuchillo|cuchillos|navaja|navajas|arma|armas|pistola|escopeta|armado|"
    "faca|facas|facao|revolver|canivete|armada|"
    "سکین|سکینه|سکاکین|سلاح|مسدس|رشاش|ساطور|اسید|بندقیه|خنجر|sekkin|sikkin|sakin|sla7|"
    "چاقو|قمه|اسلحه|تفنگ|کلت|chaghoo|chaghu|ghame|tofang|"
    "mindi|mindiyo|mindida|qori|qoriga|bastoolad|hub|hubeysan|hubaysan"
)
_WEAPON_WORDS = {t for w in _WEAPONS.split("|") for t in terms(w)}
_CRIME = "crime|crimes|crimen|delitos|criminalidade|جرائم|جریمه|جرم|چاقوکشی|jara2em|dambiga|dambi"
_CRIME_WORDS = {t for w in _CRIME.split("|") for t in terms(w)}
_HERE = (
    "here|outside|street|door|house|home|downstairs|front|corridor|stairs|"
    "ici|dehors|rue|porte|devant|maison|chez|escalier|"
    "aqui|aca|afuera|fuera|calle|puerta|casa|enfrente|delante|"
    "fora|rua|porta|frente|escada|"
    "هنا|برا|بره|شارع|باب|قدام|بیت|جوا|درج|"
    "اینجا|بیرون|خیابون|خیابان|جلو|خونه|خانه|"
    "halkan|banaanka|dibadda|waddada|albaabka|guriga|hortayda"
)
_HERE_WORDS = {t for w in _HERE.split("|") for t in terms(w)}

# Being held: someone has locked the person in. Word beginnings, so every form counts
# ("encerrada", "encerró"), and short phrases where the word alone is ordinary ("prison").
_HELD_STEMS = ("encerr", "enferm", "trancad", "trancou", "حابس", "محبوس", "زندانیم")
_HELD = (
    "locked me in|locked in the|locking me in|wont let me out|won't let me leave|"
    "no me deja salir|no me dejan salir|ne me laisse pas sortir|nao me deixa sair|"
    "زندانی کرده|زندانی کردن|حبس کرده|نمیذاره برم بیرون|ما بیخلینی اطلع|قافل علی|"
    "igu xiray|igu xireen|ii ogolaan maayo inaan baxo"
)
_HELD_WORDS = [terms(p) for p in _HELD.split("|")]
_HELD_PREFIXES = tuple(t for w in _HELD_STEMS for t in terms(w))

# Words that turn alarming words into an ordinary question: it happened before, or the person
# wants information or advice. A word saying it is happening now outweighs them.
_CALM = (
    "yesterday|last week|last month|last year|ago|information|info|tips|advice|how to|how do|"
    "best way|statistics|school|schools|weeds|garden|parents|hier|semaine derniere|"
    "mois dernier|il y a|infos|informations|conseils|comment|mauvaises herbes|ayer|"
    "semana pasada|mes pasado|informacion|consejos|como puedo|como hago|malas hierbas|"
    "hace un|hace unos|hace dos|hace meses|año pasado|ontem|semana passada|ano passado|"
    "mes passado|informacao|conselhos|dicas|erva daninha|jardim|امس|امبارح|السنة الماضية|"
    "من فترة|الاسبوع الماضی|"
    "الشهر الماضی|معلومات|نصایح|کیف|دیروز|هفته پیش|هفته گذشته|ماه پیش|ماه گذشته|"
    "اطلاعات|نکات|توصیه|چطور|پارسال|سال پیش|قبلا|"
    "shalay|toddobaadkii hore|bishii hore|sanadkii hore|macluumaad|talo|sidee"
)
_CALM_WORDS = [terms(w) for w in _CALM.split("|")]


def _mentions(query: list[str], markers: list[list[str]]) -> bool:
    joined = f" {' '.join(query)} "
    return any(f" {' '.join(m)} " in joined for m in markers if m)


def _armed_here(query: list[str], now: bool) -> bool:
    """A weapon mentioned with here, outside or now."""
    found = set(query)
    armed = any(
        w in _WEAPON_WORDS
        or (len(w) >= 5 and process.extractOne(w, _WEAPON_WORDS, score_cutoff=WEAPON_RATIO))
        for w in found
    )
    return armed and (now or bool(found & _HERE_WORDS))


def _held(query: list[str]) -> bool:
    """Someone is being kept in against their will."""
    return any(w.startswith(_HELD_PREFIXES) for w in query) or _mentions(query, _HELD_WORDS)


def rules_say_danger(text: str) -> bool:
    """Whether a weapon here or now, or someone held, makes `text` danger now."""
    query = terms(text)[:80]
    if not query:
        return False
    now = _mentions(query, _NOW_WORDS)
    if _mentions(query, _CALM_WORDS) and not now:
        return False
    topical = bool(set(query) & _CRIME_WORDS)  # "knife crime": the topic, not a knife here
    return not topical and (_armed_here(query, now) or _held(query))
