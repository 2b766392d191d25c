"""Conversations as data: the nodes of flows/*.yaml, loaded and checked at start-up."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.content import yamlfile
from bot.content.directory import MAX_LABEL, Directory

# Screens whose words or buttons come partly from code.
NODE_ACTIONS = frozenset({"topics", "languages", "report_summary"})
CHOICE_ACTIONS = frozenset(
    {"exit", "forget", "forget_confirmed", "file_report", "cancel_report", "decide"}
)
_NODE_ID = re.compile(r"^[a-z][a-z0-9_.]*$")
_NODE_FIELDS = {
    "text", "choices", "back", "services", "sensitive", "action", "input", "next", "location",
    "decide",
}  # fmt: skip
_CHOICE_FIELDS = {"label", "goto", "action", "set"}
# A button's id travels with the message it was sent on, so it must keep its meaning when the
# YAML is reordered: it names the answers the button records and where it leads, never its
# position. 64 bytes is the most Telegram keeps on a button, the smallest of the channels.
MAX_CHOICE_ID = 64


def choice_id(node: str, answers: tuple[tuple[str, str], ...], goto: str, action: str) -> str:
    """The stable id of a button that records answers: `node#field=value>target`."""
    recorded = "&".join(f"{field}={value}" for field, value in answers)
    return f"{node}#{recorded}>{goto or '!' + action}"


class FlowError(ValueError):
    """A flow file is wrong; the message lists every problem with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FlowChoice:
    """A button on a screen: go to a node, open a topic or service, or run an action."""

    label: str
    goto: str = ""
    action: str = ""
    set: tuple[tuple[str, str], ...] = ()  # answers the button records, e.g. when=now
    id: str = ""

    @property
    def target(self) -> str:
        """The choice id the button carries: opaque, short, never a person's words."""
        return self.id or (f"act:{self.action}" if self.action else self.goto)


@dataclass(frozen=True)
class Decide:
    """A rule on the answers so far: `then` when every one in `when` was given, else `otherwise`."""

    when: tuple[tuple[str, str], ...]
    then: str
    otherwise: str

    def target(self, answers: dict[str, str]) -> str:
        """Where the answers lead."""
        return self.then if all(answers.get(k) == v for k, v in self.when) else self.otherwise


@dataclass(frozen=True)
class Node:
    """One screen of a conversation."""

    id: str
    text: str
    source: str
    choices: tuple[FlowChoice, ...] = ()
    back: str = ""
    services: tuple[str, ...] = ()
    sensitive: bool = False
    action: str = ""
    input: str = ""  # the draft field a typed answer fills
    next: str = ""  # where a typed answer leads
    location: bool = False  # offer the "share location" button
    decide: Decide | None = None  # where its `decide` buttons lead, by the answers


def _parse_node(nid: str, raw: Any, source: str, problems: list[str]) -> Node | None:
    where = f"{source}: node {nid}"
    if not _NODE_ID.match(nid):
        problems.append(f"{where}: id must be lowercase letters, digits, dots and underscores")
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    for key in sorted(set(raw) - _NODE_FIELDS):
        problems.append(f"{where}: unknown field `{key}`")
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{where}: `text` is missing or empty")
        text = ""
    choices: list[FlowChoice] = []
    for i, c in enumerate(raw.get("choices") or []):
        at = f"{where}.choices[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("label"), str):
            # YAML reads a bare Yes/No/On/Off as true/false, so say how to fix it.
            problems.append(f"{at}: needs a text `label` (put quotes around words like No)")
            continue
        if len(c["label"]) > MAX_LABEL:
            problems.append(f"{at}: label {c['label']!r} is over {MAX_LABEL} characters")
        if bool(c.get("goto")) == bool(c.get("action")):
            problems.append(f"{at}: needs exactly one of `goto` or `action`")
        if c.get("action") and c["action"] not in CHOICE_ACTIONS:
            problems.append(f"{at}: unknown action `{c['action']}`")
        for key in sorted(set(c) - _CHOICE_FIELDS):
            problems.append(f"{at}: unknown field `{key}`")
        values = c.get("set") or {}
        if not isinstance(values, dict):
            problems.append(f"{at}: `set` must be a mapping of answers")
            values = {}
        pairs = tuple((str(k), str(v)) for k, v in values.items())
        cid = choice_id(nid, pairs, str(c.get("goto") or ""), str(c.get("action") or ""))
        if pairs and cid in {choice.id for choice in choices}:
            problems.append(
                f"{at}: records the same answers and leads to the same place as another button"
            )
        if len(cid.encode()) > MAX_CHOICE_ID:
            problems.append(f"{at}: its id {cid!r} is over {MAX_CHOICE_ID} bytes; use shorter ids")
        choices.append(
            FlowChoice(
                c["label"],
                str(c.get("goto") or ""),
                str(c.get("action") or ""),
                pairs,
                cid if pairs else "",
            )
        )
    action = str(raw.get("action") or "")
    if action and action not in NODE_ACTIONS:
        problems.append(f"{where}: unknown action `{action}`")
    return Node(
        id=nid,
        text=text.strip(),
        source=source,
        choices=tuple(choices),
        back=str(raw.get("back") or ""),
        services=tuple(raw.get("services") or ()),
        sensitive=bool(raw.get("sensitive", False)),
        action=action,
        input=str(raw.get("input") or ""),
        next=str(raw.get("next") or ""),
        location=bool(raw.get("location", False)),
        decide=_decide(raw.get("decide"), where, problems),
    )


def _decide(raw: Any, where: str, problems: list[str]) -> Decide | None:
    """A node's `decide:` rule, or None when it has none."""
    if raw is None:
        return None
    when = raw.get("when") if isinstance(raw, dict) else None
    if not isinstance(when, dict) or not when or not raw.get("then") or not raw.get("else"):
        problems.append(f"{where}: `decide` needs `when` (answers), `then` and `else`")
        return None
    pairs = tuple((str(k), str(v)) for k, v in when.items())
    return Decide(pairs, str(raw["then"]), str(raw["else"]))


def validate(nodes: dict[str, Node], directory: Directory) -> list[str]:
    """Every target exists and every service is in the directory."""
    problems = []
    if "menu" not in nodes:
        problems.append("flows: there is no `menu` node")
    for node in nodes.values():
        where = f"{node.source}: node {node.id}"
        targets = [c.goto for c in node.choices if c.goto] + ([node.back] if node.back else [])
        targets += [node.next] if node.next else []
        targets += [node.decide.then, node.decide.otherwise] if node.decide else []
        if any(c.action == "decide" for c in node.choices) != bool(node.decide):
            problems.append(f"{where}: buttons with `action: decide` need the node's `decide`")
        if bool(node.input) != bool(node.next):
            problems.append(f"{where}: `input` and `next` go together")
        for target in targets:
            kind, _, rest = target.partition(":")
            ok = (
                target in nodes
                or (kind == "topic" and rest in directory.topics)
                or (kind == "svc" and rest in directory.services)
            )
            if not ok:
                problems.append(f"{where}: goes to `{target}`, which does not exist")
        for sid in node.services:
            if sid not in directory.services:
                problems.append(f"{where}: unknown service `{sid}`")
    return problems


def load_flows(flows_dir: Path, directory: Directory) -> dict[str, Node]:
    """Read every flows/*.yaml file and check the whole graph."""
    nodes: dict[str, Node] = {}
    problems: list[str] = []
    for path in sorted(flows_dir.glob("*.yaml")):
        try:
            data = yamlfile.parse(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: not valid YAML: {exc}")
            continue
        for nid, raw in (data.get("nodes") or {}).items():
            if nid in nodes:
                problems.append(f"{path.name}: node {nid}: already defined in {nodes[nid].source}")
            node = _parse_node(str(nid), raw, path.name, problems)
            if node is not None:
                nodes[node.id] = node
    problems += validate(nodes, directory)
    if problems:
        raise FlowError(problems)
    return nodes


def mermaid(nodes: dict[str, Node], topics: Iterable[str] = ()) -> str:
    """Draw the flows as a Mermaid graph, for staff to read as a tree: every way on is an edge.

    A typed answer is an edge labelled with what it fills ("typed: where"); a screen that
    lists the topics has an edge to each; Back is drawn dotted.
    """
    lines = ["graph TD"]
    for node in nodes.values():
        first = node.text.splitlines()[0].strip("* ")[:40].replace('"', "'")
        me = _mid(node.id)
        lines.append(f'  {me}["{first}"]')
        for c in node.choices:
            target = c.goto or f"act_{c.action}"
            lines.append(f'  {me} -- "{c.label}" --> {_mid(target)}')
        if node.input and node.next:
            lines.append(f'  {me} -- "typed: {node.input}" --> {_mid(node.next)}')
        if node.action == "topics":
            lines += [f'  {me} -- "topic" --> {_mid(f"topic:{t}")}' for t in topics]
        elif node.action and not node.choices:
            lines.append(f"  {me} --> {_mid(f'act_{node.action}')}")
        if node.back:
            lines.append(f'  {me} -. "Back" .-> {_mid(node.back)}')
    return "\n".join(lines)


def _mid(node_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", node_id)
