"""Problems in config files, reported as ``file:line: field: what is wrong, what is expected``.

Pydantic reports a problem by its location in the data (``('channels', 1, 'sftp', 'host_key')``); a person needs
the line in the file. :class:`SourceMap` keeps the YAML node tree (``yaml.compose`` keeps each node's mark) and
walks it along that location. Unknown keys get a "did you mean" from the fields the model accepts there.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from gateway.errors import ConfigError, Location

Loc = tuple[str | int, ...]
# libyaml when it is there (about 7x faster); its nodes carry the same line marks
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_with_nodes(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse once: the node tree (for line numbers) and the data constructed from it."""
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    finally:
        loader.dispose()


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    field: str | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        level = " warning:" if self.severity == "warning" else ""
        return f"{where}:{field}{level} {self.message}"

    def to_error(self) -> ConfigError:
        return ConfigError(self.message, location=Location(file=self.file, line=self.line, field=self.field))


class SourceMap:
    """Line numbers (1-based) of the values and keys in one YAML document."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    @classmethod
    def from_text(cls, text: str) -> SourceMap:
        try:
            return cls(yaml.compose(text, Loader=SAFE_LOADER))
        except yaml.YAMLError:
            return cls(None)

    def duplicate_keys(self) -> list[tuple[str, int, int]]:
        """Keys given twice in one mapping (YAML silently keeps the last): (field path, first line, second line)."""
        found: list[tuple[str, int, int]] = []
        stack: list[tuple[yaml.Node, str]] = [(self.root, "")] if self.root is not None else []
        while stack:
            node, path = stack.pop()
            if isinstance(node, yaml.MappingNode):
                seen: dict[str, int] = {}
                for k, v in node.value:
                    if not isinstance(k, yaml.ScalarNode):
                        continue
                    line = k.start_mark.line + 1
                    here = f"{path}.{k.value}" if path else str(k.value)
                    if k.value in seen:
                        found.append((here, seen[k.value], line))
                    seen.setdefault(k.value, line)
                    stack.append((v, here))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
        return sorted(found, key=lambda f: f[2])

    def _walk(self, loc: Loc) -> tuple[yaml.Node | None, yaml.Node | None]:
        """The deepest node along ``loc`` and, when the last step was a mapping key, that key's node."""
        node, key_node = self.root, None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                        node, key_node = v, k
                        break
                else:
                    continue  # a union tag or a missing key: stay on this mapping
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node, key_node = node.value[part], None
        return node, key_node

    def line(self, loc: Loc, *, key: bool = False) -> int | None:
        node, key_node = self._walk(loc)
        target = key_node if (key and key_node is not None) else node
        return target.start_mark.line + 1 if target is not None else None


def field_path(loc: Loc, data: Any) -> str:
    """``channels[1].host_key``: indexes in brackets, union tags (``sftp``) left out."""
    out = ""
    cur = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            cur = cur[part] if isinstance(cur, list) and 0 <= part < len(cur) else None
            continue
        if isinstance(cur, dict) and part not in cur and cur.get("type") == part:
            continue  # discriminator tag
        if isinstance(part, str) and ("[" in part or ("-" in part and part.startswith("function"))):
            continue
        out += f".{part}" if out else str(part)
        cur = cur.get(part) if isinstance(cur, dict) else None
    return out


def _unwrap(tp: Any) -> list[Any]:
    """The model classes an annotation can hold (through Optional, list, dict, Annotated, unions)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if origin is dict:
        return _unwrap(typing.get_args(tp)[1])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def models_at(model: type[BaseModel], loc: Loc) -> list[type[BaseModel]]:
    """The model classes that can sit at ``loc`` (several for a union whose tag is not in ``loc``)."""
    candidates: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for m in candidates:
            if part in m.model_fields:
                nxt.extend(_unwrap(m.model_fields[part].annotation))
        if nxt:
            candidates = nxt
        else:  # a union tag: keep the member whose type literal is this tag
            tagged = [m for m in candidates if _tag(m) == part]
            candidates = tagged or candidates
    return candidates


def allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names the model accepts at ``loc`` (the location of the mapping, not the key)."""
    names: list[str] = []
    for m in models_at(model, loc):
        names.extend(n for n in m.model_fields if n not in names)
    return names


def field_description(model: type[BaseModel], loc: Loc) -> str | None:
    """The description of the field at ``loc`` (its last name part), if the schema gives one."""
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return None
    parent = loc[: len(loc) - 1 - next(i for i, p in enumerate(reversed(loc)) if isinstance(p, str))]
    for m in models_at(model, parent):
        f = m.model_fields.get(names[-1])
        if f is not None and f.description:
            return f.description
    return None


def _tag(model: type[BaseModel]) -> str | None:
    f = model.model_fields.get("type")
    if f is None:
        return None
    args = typing.get_args(f.annotation)
    return args[0] if len(args) == 1 and isinstance(args[0], str) else None


_SECRETISH = ("password", "secret", "private_key", "passphrase")


def _message(err: dict[str, Any], model: type[BaseModel]) -> str:
    kind = err["type"]
    loc: Loc = tuple(err["loc"])
    msg: str = err["msg"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = allowed_keys(model, loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key {key!r}: {hint}expected one of {', '.join(allowed)}"
    if kind == "missing":
        return f"{loc[-1]!s} is required here but missing"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx") or {}
        return f"unknown channel type {ctx.get('tag')!r}: expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        given = err.get("input")
        close = difflib.get_close_matches("type", list(given), n=1) if isinstance(given, dict) else []
        meant = f" (is {close[0]!r} meant to be 'type'?)" if close else ""
        return f"this channel has no type{meant}: expected type: folder, sftp, webhook or as2"
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    if msg.startswith("Assertion failed, "):
        return msg[len("Assertion failed, ") :]
    if kind == "string_pattern_mismatch":
        msg = "this value does not have the expected form"
    given = err.get("input")
    secretish = any(s in str(p) for p in loc for s in _SECRETISH)
    if not secretish and isinstance(given, str | int | float | bool) and len(str(given)) <= 60:
        msg = f"{msg} (got {given!r})"
    described = field_description(model, loc) if kind not in ("missing",) else None
    if described and not kind.startswith(("literal", "enum")):
        msg += f"; expected {described}"
    return msg


def validation_problems(
    exc: ValidationError, *, file: str, source: SourceMap, data: Any, model: type[BaseModel]
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        line = source.line(loc, key=err["type"] == "extra_forbidden")
        problems.append(Problem(file, line, field_path(loc, data) or None, _message(dict(err), model)))
    return problems


def yaml_problem(exc: yaml.YAMLError, file: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    text += "; check indentation, a missing ':' or an unclosed bracket or quote"
    return Problem(file, mark.line + 1 if mark else None, None, text)


def read_yaml(path: Path) -> tuple[Any, SourceMap, list[Problem]]:
    """The data, its source map, and the problem if the file cannot be read or parsed."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return None, SourceMap(None), [Problem(file, None, None, f"cannot read the file: {reason}")]
    try:
        data, root = load_with_nodes(text)
    except yaml.YAMLError as exc:
        return None, SourceMap(None), [yaml_problem(exc, file)]
    source = SourceMap(root)
    dupes = [
        Problem(
            file,
            second,
            field,
            f"{field.rsplit('.', 1)[-1]!r} is given twice (first on line {first}); YAML would silently keep only "
            "this one: merge the two",
        )
        for field, first, second in source.duplicate_keys()
    ]
    return data, source, dupes
