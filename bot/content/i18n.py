"""Languages: catalogs loaded straight from the .po files, negotiation, right-to-left isolation."""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DEFAULT = "en"
LANGS: tuple[str, ...] = ("en", "ar", "fa", "fr", "pt", "so", "es")
RTL_LANGS = frozenset({"ar", "fa"})

# Each language named in itself, so a person can find theirs without reading English.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "ar": "العربية",
    "fa": "فارسی",
    "fr": "Français",
    "pt": "Português",
    "so": "Soomaali",
    "es": "Español",
}

# Left-to-right isolate and pop directional isolate: keep numbers and links readable in RTL text.
LRI, PDI = "\u2066", "\u2069"
# The right-to-left mark: a line starting with it is laid out right to left even when its first
# word is a Latin name ("Crimestoppers: ..."), since apps take a line's direction from its first
# strong letter.
RLM = "\u200f"

# What must read left to right inside Arabic or Farsi: links, emails, phone numbers and codes
# people dial (including *#06#), and report references such as KC-7H3P-Q9.
_LTR_RUN = re.compile(
    r"https?://\S+[^\s.,;:!?)\]]"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b[A-Z]{2}-[0-9A-Z]{3,}(?:-[0-9A-Z]+)*\b"
    r"|\*#\d+#"
    r"|(?<![\w/.:])/[a-z_]+\b"  # a /command, which would show as "exit/"
    r"|(?<![\w*#])\+?\d(?:[\d :.*#-]*\d)?(?![\w])"
)


def negotiate(hint: str | None) -> str | None:
    """Map a device language code (`pt-br`, `fa-IR`, `es-419`) to one we speak, or None."""
    if not hint:
        return None
    found = negotiate_locale([hint.replace("-", "_")], list(LANGS))
    return found.lower() if found else None  # Babel keeps the hint's case: "PT-BR" gives "PT"


def isolate_ltr(text: str) -> str:
    """Wrap every left-to-right run (number, link, email, reference) in directional isolates."""
    text = text.replace(LRI, "").replace(PDI, "")  # idempotent: never wrap twice
    return _LTR_RUN.sub(lambda m: f"{LRI}{m.group(0)}{PDI}", text)


def rtl_lines(text: str) -> str:
    """Start every line with a right-to-left mark (after any opening bold marker)."""
    lines = []
    for line in text.split("\n"):
        bare = line.lstrip(RLM)
        if not bare.strip():
            lines.append(bare)
            continue
        marker = len(bare) - len(bare.lstrip("*"))
        rest = bare[marker:].lstrip(RLM)
        lines.append(f"{bare[:marker]}{RLM}{rest}")
    return "\n".join(lines)


def right_to_left(text: str) -> str:
    """Text as a right-to-left reply shows it: left-to-right runs isolated, every line marked."""
    return rtl_lines(isolate_ltr(text))


def po_path(locales_dir: Path, lang: str) -> Path:
    """Where a language's catalog lives."""
    return locales_dir / lang / "LC_MESSAGES" / "messages.po"


@dataclass
class Translator:
    """Translate for one language; placeholders use str.format names."""

    lang: str
    catalog: gettext.NullTranslations = field(default_factory=gettext.NullTranslations)

    @property
    def babel_locale(self) -> str:
        """The locale for dates and times: British English, since the service is in London."""
        return "en_GB" if self.lang == DEFAULT else self.lang

    @property
    def rtl(self) -> bool:
        """Whether this language is written right to left."""
        return self.lang in RTL_LANGS

    def __call__(self, message: str, **values: object) -> str:
        """Translate one message and fill in its placeholders."""
        text = self.catalog.gettext(message)
        return text.format(**values) if values else text

    def plural(self, singular: str, plural: str, n: int, **values: object) -> str:
        """Translate a message whose form depends on a count `n`."""
        return self.catalog.ngettext(singular, plural, n).format(n=n, **values)


class Catalogs:
    """Every language's translations, compiled in memory so a fresh clone needs no build step."""

    def __init__(self, locales_dir: Path, langs: Iterable[str] = LANGS) -> None:
        self._translators: dict[str, Translator] = {}
        for lang in langs:
            path = po_path(locales_dir, lang)
            catalog: gettext.NullTranslations = gettext.NullTranslations()
            if lang != DEFAULT and path.exists():
                with path.open("rb") as f:
                    po = read_po(f, locale=lang)
                buffer = io.BytesIO()
                write_mo(buffer, po, use_fuzzy=False)  # a fuzzy entry is not a translation
                buffer.seek(0)
                catalog = gettext.GNUTranslations(buffer)
            self._translators[lang] = Translator(lang, catalog)

    def all_texts(self) -> list[str]:
        """Every translated text line in every language (ordinary words, for contrast)."""
        return [line for lang in self._translators if lang != DEFAULT for line in self.texts(lang)]

    def texts(self, lang: str) -> list[str]:
        """Every text line of one language; English comes from the messages themselves."""
        if lang == DEFAULT:
            other = next((t for t in self._translators.values() if t.lang != DEFAULT), None)
            messages = getattr(other.catalog, "_catalog", {}) if other else {}
            found = [k for k in messages if isinstance(k, str)]
        else:
            messages = getattr(self._translators[lang].catalog, "_catalog", {})
            found = [str(v) for v in messages.values()]
        return [line for text in found for line in text.splitlines() if line.strip()]

    def get(self, lang: str | None) -> Translator:
        """The translator for `lang`, falling back to English."""
        return self._translators.get(lang or DEFAULT) or self._translators[DEFAULT]


def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; translate it where it is shown."""
    return message
