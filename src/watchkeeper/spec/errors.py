"""Located spec problems and how they are printed.

A problem is a path into the document (``("slos", 0, "objective")``) and a message;
the loader turns the path into ``file:line`` using the positions ruamel.yaml kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watchkeeper.errors import SpecError

__all__ = ["Path", "Problem", "SpecError", "SpecProblems", "render_path"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """``path`` locates the line; with ``show_field`` off the last key is not printed
    (an unknown key names itself in the message)."""

    path: Path
    message: str
    show_field: bool = True
    line: int | None = None

    def render(self, source: str, data: Any) -> str:
        where = f"{source}:{self.line}" if self.line is not None else source
        if not self.show_field:
            container = render_path(self.path[:-1], data)
            return (
                f"{where}: {container}: {self.message}" if container else f"{where}: {self.message}"
            )
        parts = self.path
        if parts and isinstance(parts[-1], str):
            container = render_path(parts[:-1], data)
            text = f"{parts[-1]} {self.message}"
            return f"{where}: {container}: {text}" if container else f"{where}: {text}"
        container = render_path(parts, data)
        return f"{where}: {container}: {self.message}" if container else f"{where}: {self.message}"


class SpecProblems(SpecError):
    """A :class:`SpecError` carrying every located problem, sorted by line."""

    def __init__(self, problems: Sequence[Problem], rendered: Sequence[str]) -> None:
        super().__init__("\n".join(rendered))
        self.problems = tuple(problems)
        self.lines = tuple(rendered)


def render_path(path: Path, data: Any) -> str:
    """``slos[0] "availability".sli`` — list items are named when they have a name."""
    out = ""
    node = data
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, Sequence) and part < len(node) else None
            if isinstance(node, Mapping) and isinstance(node.get("name"), str):
                out += f' "{node["name"]}"'
        else:
            out += f".{part}" if out else part
            node = node.get(part) if isinstance(node, Mapping) else None
    return out
