"""Telegram deep links for posters: a language and/or a topic, each with a QR code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import segno

from bot.content.i18n import LANGS
from bot.content.loader import Content

# Screens worth a poster of their own, besides the topics.
SCREENS = ("help", "emergency", "report", "tips", "trigger", "justice", "privacy")


@dataclass(frozen=True)
class DeepLink:
    """One poster link: its /start payload and the t.me address."""

    payload: str
    url: str
    title: str


def deep_links(content: Content, username: str) -> list[DeepLink]:
    """Every language, every topic and screen, and each of those in each language."""
    username = username.lstrip("@")
    targets = [(t.id, t.name) for t in content.directory.topics.values()]
    targets += [(s, s.capitalize()) for s in SCREENS if s in content.nodes]
    found = [DeepLink(lang, "", f"Language: {lang}") for lang in LANGS]
    found += [DeepLink(tid, "", title) for tid, title in targets]
    found += [
        DeepLink(f"{lang}_{tid}", "", f"{title} ({lang})")
        for lang in LANGS
        for tid, title in targets
    ]
    return [
        DeepLink(d.payload, f"https://t.me/{username}?start={d.payload}", d.title) for d in found
    ]


def write_qr_codes(links: list[DeepLink], out_dir: Path) -> list[Path]:
    """A PNG QR code per link, named after its payload, large enough to print."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for link in links:
        path = out_dir / f"{link.payload}.png"
        # Quartile error correction survives a torn or dirty poster.
        segno.make(link.url, error="q", micro=False).save(str(path), scale=10, border=4)
        written.append(path)
    return written
