"""A Babel extractor for the assistant's YAML: flows/*.yaml, commands.yaml and directory.yaml."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

import yaml

# Which keys hold words a person reads, and a note for the translator.
FLOW_KEYS = {"text": "Screen text", "label": "Button (24 characters at most)"}
COMMAND_KEYS = {"description": "A command in Telegram's menu: what it does, in a few words"}
DIRECTORY_KEYS = {
    "name": "Name. A proper noun (an organisation) stays as it is; translate a plain description",
    "short": "Name on a button (24 characters at most). Proper nouns stay as they are",
    "summary": "What it is or does",
    "audience": "Who it is for",
    "label": "Label of a phone line",
}

Message = tuple[int, str, str, list[str]]


def _walk(node: yaml.Node, keys: Mapping[str, str], path: str) -> Iterator[Message]:
    if isinstance(node, yaml.MappingNode):
        where = path
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == "id":
                where = f"{path} {v.value}"
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else ""
            if key in keys and isinstance(v, yaml.ScalarNode) and v.tag.endswith(":str"):
                text = v.value.strip()
                if text:
                    yield v.start_mark.line + 1, "_", text, [f"{keys[key]} ({where.strip()})"]
            elif key != "keywords":
                yield from _walk(v, keys, f"{where} {key}" if path == "" else where)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, keys, path)


def extract_yaml(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Any
) -> Iterator[Message]:
    """Yield (line, function, message, comments) for every translatable string in the file."""
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if root is None:
        return
    is_directory = any(
        isinstance(k, yaml.ScalarNode) and k.value == "services" for k, _ in root.value
    )
    if is_directory:
        yield from _walk(root, DIRECTORY_KEYS, "")
        return
    for key, nodes in root.value:
        if not isinstance(nodes, yaml.MappingNode) or key.value not in ("nodes", "commands"):
            continue
        keys, kind = (FLOW_KEYS, "node") if key.value == "nodes" else (COMMAND_KEYS, "command")
        for node_id, body in nodes.value:
            yield from _walk(body, keys, f"{kind} {node_id.value}")
