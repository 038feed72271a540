"""Load ``watchkeeper.yaml``: YAML with positions, pydantic validation, located errors.

ruamel.yaml's round-trip loader remembers where every key and item starts; we copy
the document into plain Python (lists become tuples, which the strict model wants)
and keep a map from each path to its line, so any problem, whether pydantic's or
ours, prints as ``file:line: where: what, got X; fix``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from watchkeeper.spec.checks import check_spec
from watchkeeper.spec.errors import Path, Problem, SpecProblems
from watchkeeper.spec.model import ServiceSpec

__all__ = ["load_spec", "load_spec_text"]


def load_spec(path: str | FsPath) -> ServiceSpec:
    """Read and validate a spec file; raise :class:`SpecProblems` naming file:line."""
    file = FsPath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecProblems(
            [Problem((), f"cannot read the spec: {exc.strerror}")],
            [f"{file}: cannot read the spec: {exc.strerror}; pass an existing file with -f"],
        ) from None
    except UnicodeDecodeError as exc:
        message = f"is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        raise SpecProblems([Problem((), message)], [f"{file}: {message}"]) from None
    return load_spec_text(text, source=str(path))


def load_spec_text(text: str, source: str = "watchkeeper.yaml") -> ServiceSpec:
    """Validate spec text; ``source`` is the name errors are reported against."""
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = Problem((), f"not valid YAML: {exc.problem}", line=line)
        raise SpecProblems([problem], [problem.render(source, None)]) from None
    lines: dict[Path, int] = {}
    data = _plain(document, (), lines)
    if not isinstance(data, dict):
        problem = Problem((), "the spec must be a mapping with at least `service: <name>`", line=1)
        raise SpecProblems([problem], [problem.render(source, data)])
    try:
        spec = ServiceSpec.model_validate(data)
    except ValidationError as exc:
        problems = [_from_pydantic(err, data) for err in exc.errors()]
        _raise(problems, lines, source, data)
    problems = check_spec(spec)
    if problems:
        _raise(problems, lines, source, data)
    return spec


def _raise(
    problems: list[Problem], lines: dict[Path, int], source: str, data: Any
) -> typing.NoReturn:
    located = [Problem(p.path, p.message, p.show_field, _line_of(p.path, lines)) for p in problems]
    located.sort(key=lambda p: (p.line or 0, p.message))
    raise SpecProblems(located, [p.render(source, data) for p in located])


def _plain(node: Any, path: Path, lines: dict[Path, int]) -> Any:
    """Copy ruamel's tree into dicts/tuples, recording each path's 1-based line."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            child = (*path, str(key))
            lines[child] = node.lc.key(key)[0] + 1
            out[str(key)] = _plain(value, child, lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            lines[child] = node.lc.item(index)[0] + 1
            items.append(_plain(value, child, lines))
        return tuple(items)
    if isinstance(node, str):
        return str(node)  # drop ruamel's scalar subclasses
    if isinstance(node, bool | int | float) or node is None:
        return node if isinstance(node, bool) or node is None else type(node)(node)
    return node


def _line_of(path: Path, lines: dict[Path, int]) -> int | None:
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1 if lines else None


def _real_path(loc: tuple[int | str, ...], data: Any, missing: bool) -> Path:
    """pydantic's loc also holds union tags ('latency'); keep only keys in the document
    (and, for a missing key, the key itself)."""
    out: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if isinstance(node, Mapping) and isinstance(part, str) and part in node:  # noqa: SIM114
            out.append(part)
            node = node[part]
        elif isinstance(node, tuple) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        elif missing and index == len(loc) - 1:
            out.append(part)
    return tuple(out)


# What a name pattern means, said the way a user thinks about it.
_PATTERNS = {
    r"^[a-z][a-z0-9-]*$": "lowercase letters, digits and dashes, starting with a letter",
    r"^[a-z][a-z0-9_-]*$": "lowercase letters, digits, _ and -, starting with a letter",
    r"^[A-Z][A-Za-z0-9]*$": "CamelCase (letters and digits, starting upper-case)",
}
_TYPES = {"tuple_type": "must be a list", "dict_type": "must be a mapping (key: value)"}


def _from_pydantic(err: ErrorDetails, data: Any) -> Problem:
    loc = tuple(err["loc"])
    kind = err["type"]
    path = _real_path(loc, data, missing=kind == "missing")
    value = err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = sorted(_allowed_keys(ServiceSpec, loc[:-1]))
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f'did you mean "{close[0]}"?' if close else "allowed: " + ", ".join(allowed)
        return Problem(path, f'unknown key "{key}"; {hint}', show_field=False)
    if kind == "missing":
        return Problem(path, "is required")
    message = err["msg"].removeprefix("Value error, ")
    if kind in {"value_error", "assertion_error"}:
        return Problem(path, message)
    if kind == "string_pattern_mismatch":
        pattern = str(err.get("ctx", {}).get("pattern", ""))
        return Problem(path, f"must be {_PATTERNS.get(pattern, pattern)}, got {value!r}")
    if kind in _TYPES:
        return Problem(path, f"{_TYPES[kind]}, got {value!r}")
    if kind == "union_tag_invalid":
        expected = err.get("ctx", {}).get("expected_tags", "")
        return Problem(
            (*path, "kind"),
            f"must be one of {expected}, got {value.get('kind')!r}"
            if isinstance(value, Mapping)
            else f"must be one of {expected}",
        )
    if kind == "union_tag_not_found":
        return Problem(
            path, "needs a `kind` (" + str(err.get("ctx", {}).get("discriminator", "")) + ")"
        )
    shown = value if not isinstance(value, Mapping | tuple) else type(value).__name__
    # pydantic says "Input should be a valid string"; we say "<field> must be ...".
    message = message.replace("Input should be ", "must be ", 1)
    return Problem(path, f"{_lower_first(message)}, got {shown!r}")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> set[str]:
    """Keys the model at ``loc`` accepts (aliases where set), to suggest a correction."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return set()
    current = _unwrap(current, None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return {f.alias or name for name, f in current.model_fields.items()}
    return set()


def _step(current: Any, part: int | str) -> Any:
    current = _unwrap(current, part)
    if isinstance(current, type) and issubclass(current, BaseModel):
        if isinstance(part, str) and part in current.model_fields:
            return current.model_fields[part].annotation
        for _name, field in current.model_fields.items():
            if field.alias == part:
                return field.annotation
        return current  # a union tag: stay on the chosen member
    origin = typing.get_origin(current)
    if origin is tuple:
        return typing.get_args(current)[0]
    if origin is dict:
        return typing.get_args(current)[1]
    return None


def _unwrap(tp: Any, tag: int | str | None) -> Any:
    """Strip Annotated/Optional; pick the union member whose ``kind`` equals ``tag``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin is typing.Union or isinstance(tp, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            chosen = members[0] if len(members) == 1 else None
            for member in members:
                kind = getattr(member, "model_fields", {}).get("kind")
                if kind is not None and tag in typing.get_args(kind.annotation):
                    chosen = member
            if chosen is None:
                return tp
            tp = chosen
            continue
        return tp
