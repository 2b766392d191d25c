"""YAML read with libyaml's C loader where it is installed: every start reads thousands of lines."""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> Any:
    """The data in a YAML text, read safely (no arbitrary objects)."""
    return yaml.load(text, Loader=SAFE_LOADER)
