"""The benchmark's test sets stay apart from the examples the assistant learns from."""

from __future__ import annotations

from pathlib import Path

from bot.content import yamlfile
from bot.content.corpus import load_examples

ROOT = Path(__file__).resolve().parents[2]
# The held-out sets whose figures count: bench/devset was read while examples were written, and
# bench/heldout, measured before the last examples, is kept only for comparison.
SETS = sorted(p for p in (ROOT / "bench").glob("heldout[0-9]*") if any(p.glob("*.yaml")))


def _plain(text: str) -> str:
    return " ".join(str(text).casefold().split())


def _messages(path: Path) -> list[str]:
    data = yamlfile.parse(path.read_text(encoding="utf-8")) or {}
    # Commands are left out: "main menu" is rightly both a test and an example.
    items = [q["q"] for q in data.get("questions") or []]
    return [*items, *(data.get("danger") or []), *(data.get("harmless") or [])]


def test_no_test_message_is_also_a_training_example() -> None:
    learned = {_plain(e.text) for e in load_examples(ROOT / "locales")}
    assert SETS, "no test sets found under bench/"
    shared = [
        (path.relative_to(ROOT).as_posix(), text)
        for folder in SETS
        for path in sorted(folder.glob("*.yaml"))
        for text in _messages(path)
        if _plain(text) in learned and len(_plain(text).split()) > 3  # not a cry of a few words
    ]
    assert shared == []
