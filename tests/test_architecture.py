"""The shape of the code: rooms import only downwards, no circles, no module over 300 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"
MAX_LINES = 300

# Each room may import only rooms below it; the command line and `bot run` sit on top.
LAYERS = [
    {"bot.settings"},
    {"bot.content"},
    {"bot.understanding"},
    {"bot.core"},
    {"bot.storage"},
    {"bot.staff"},
    {"bot.service"},
    {"bot.channels"},
    {"bot.cli", "bot.runner", "bot.__main__"},
]


def _name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in sorted(BOT.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every bot module this one imports, at the top or inside a function."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != name}


def _room(name: str) -> int:
    for rank, rooms in enumerate(LAYERS):
        if any(name == r or name.startswith(r + ".") for r in rooms):
            return rank
    raise AssertionError(f"{name} is in no room of LAYERS")


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {n: _imports(n, p, set(modules)) for n, p in modules.items()}


def test_every_module_is_in_a_room() -> None:
    for name in _modules():
        if name != "bot":
            _room(name)


def test_no_room_imports_a_room_above_it() -> None:
    upward = [
        f"{a} imports {b}"
        for a, deps in _graph().items()
        if a != "bot"
        for b in deps
        if b != "bot" and _room(b) > _room(a)
    ]
    assert upward == []


def test_no_import_circles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                circles.append([*trail[trail.index(dep) :], dep] if dep in trail else [node, dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


@pytest.mark.parametrize("name", sorted(_modules()))
def test_no_module_is_over_300_lines(name: str) -> None:
    lines = len(_modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"
