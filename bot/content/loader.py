"""Everything the assistant says, loaded once: flows, directory and catalogs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.content.commands import Command, load_commands
from bot.content.corpus import CorpusError, Situation, check, load_danger_words, load_situations
from bot.content.directory import Directory, load_directory
from bot.content.flows import Node, load_flows
from bot.content.i18n import Catalogs


def content_root() -> Path:
    """Where flows/, locales/ and directory.yaml live: BOT_CONTENT_DIR, the checkout, or cwd."""
    configured = os.environ.get("BOT_CONTENT_DIR")
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "directory.yaml").exists() else Path.cwd()


@dataclass(frozen=True)
class Content:
    """The assistant's words and knowledge, validated."""

    root: Path
    directory: Directory
    nodes: dict[str, Node]
    catalogs: Catalogs
    situations: dict[str, Situation]
    commands: dict[str, Command]
    danger_words: dict[str, tuple[str, ...]]

    @property
    def locales(self) -> Path:
        """The translations and per-language search words."""
        return self.root / "locales"


def load_content(root: Path | None = None) -> Content:
    """Load and check everything; raises DirectoryError, FlowError or CorpusError for problems."""
    root = root or content_root()
    directory = load_directory(root / "directory.yaml")
    nodes = load_flows(root / "flows", directory)
    situations = load_situations(root / "situations.yaml")
    groups = {sid: s.groups for sid, s in directory.services.items()}
    # The examples are checked by `bot directory check` and the tests; reading them all at every
    # start would cost a second, and the trained model is cached.
    problems, _warnings = check(situations, [], groups, set(nodes))
    if problems:
        raise CorpusError(problems)
    commands = load_commands(root / "commands.yaml", set(nodes))
    words = load_danger_words(root / "danger-words.yaml")
    return Content(root, directory, nodes, Catalogs(root / "locales"), situations, commands, words)
