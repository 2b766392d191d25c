"""The commands a person can type (/start, /exit...), read from commands.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.content import yamlfile
from bot.content.flows import CHOICE_ACTIONS, FlowError

_FIELDS = {"goto", "action", "also", "description"}
MAX_DESCRIPTION = 256  # Telegram's limit for a command's description in its menu


@dataclass(frozen=True)
class Command:
    """A typed command: the screen it shows or the action it runs."""

    name: str
    goto: str = ""
    action: str = ""
    description: str = ""  # listed in Telegram's command menu when set


def load_commands(path: Path, screens: set[str]) -> dict[str, Command]:
    """Every command by each of its names; raises FlowError naming every problem."""
    data = yamlfile.parse(path.read_text(encoding="utf-8")) or {}
    commands: dict[str, Command] = {}
    problems: list[str] = []
    for name, raw in (data.get("commands") or {}).items():
        where = f"{path.name}: command {name}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: needs `goto` or `action`")
            continue
        for key in sorted(set(raw) - _FIELDS):
            problems.append(f"{where}: unknown field `{key}`")
        goto, action = str(raw.get("goto") or ""), str(raw.get("action") or "")
        if bool(goto) == bool(action):
            problems.append(f"{where}: needs exactly one of `goto` or `action`")
        if goto and goto not in screens:
            problems.append(f"{where}: goes to `{goto}`, which does not exist")
        if action and action not in CHOICE_ACTIONS:
            problems.append(f"{where}: unknown action `{action}`")
        description = str(raw.get("description") or "")
        if len(description) > MAX_DESCRIPTION:
            problems.append(f"{where}: description is over {MAX_DESCRIPTION} characters")
        command = Command(str(name), goto, action, description)
        for spelling in (str(name), *(str(a) for a in raw.get("also") or ())):
            if spelling in commands:
                problems.append(f"{where}: /{spelling} is already a command")
            commands[spelling] = command
    if problems:
        raise FlowError(problems)
    return commands


def menu(commands: dict[str, Command]) -> list[Command]:
    """The commands Telegram lists, in the file's order, each once."""
    return [c for name, c in commands.items() if c.description and name == c.name]
