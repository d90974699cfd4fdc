"""YAML loading with errors that name the file, line and field.

Only ``yaml.safe_load`` semantics (SafeLoader); anchors and aliases are allowed.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import Problems, SpilloverError, did_you_mean

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file safely; return the data and its node tree (for line numbers)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpilloverError("file not found", file=path) from None
    except IsADirectoryError:
        raise SpilloverError("a directory, not a YAML file", file=path) from None
    except PermissionError:
        raise SpilloverError("not readable (permission denied)", file=path) from None
    except UnicodeDecodeError as e:
        raise SpilloverError(f"not UTF-8 text ({e.reason})", file=path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        check_node(node, path)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        raise SpilloverError(f"invalid YAML: {problem}", file=path,
                             line=mark.line + 1 if mark else None) from None
    return data, node


MAX_NODES = 1_000_000
"""The most nodes a YAML document may expand to through its aliases (an alias bomb is refused)."""


def check_node(node: yaml.Node | None, path: str | Path) -> None:
    """Refuse duplicate keys in a mapping and documents whose aliases expand past :data:`MAX_NODES`.

    >>> check_node(yaml.compose("a: 1\\na: 2"), "f.yaml")
    Traceback (most recent call last):
    ...
    spillover.errors.SpilloverError: f.yaml:2: a: duplicate key (first on line 1)
    """
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:  # expanded size, each shared node counted once per reference
        if id(n) in sizes:
            return sizes[id(n)]
        sizes[id(n)] = 1  # a recursive alias counts once
        total = 1
        if isinstance(n, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode) and k.value != "<<":
                    if k.value in seen:
                        raise SpilloverError(f"duplicate key (first on line {seen[k.value]})", file=path,
                                             line=k.start_mark.line + 1, field=str(k.value))
                    seen[k.value] = k.start_mark.line + 1
                total += size(k) + size(v)
        elif isinstance(n, yaml.SequenceNode):
            total += sum(size(v) for v in n.value)
        sizes[id(n)] = min(total, MAX_NODES + 1)
        return sizes[id(n)]

    if node is not None and size(node) > MAX_NODES:
        raise SpilloverError(f"the document expands to more than {MAX_NODES:,} values through its aliases",
                             file=path, line=1)


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the node at ``loc`` (the deepest existing prefix of it)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
            if nxt is None:
                key = next((k for k, _v in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key is not None else line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def validate(model: type[M], data: Any, *, file: str | Path, node: yaml.Node | None = None,
             prefix: tuple[Any, ...] = ()) -> M:
    """Validate ``data`` as ``model``; every error names file, line and dotted field (one per field,
    several at once as :class:`Problems`), with a "did you mean" for names."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems: dict[tuple[Any, ...], SpilloverError] = {}
        for err in e.errors():
            for loc, msg in _located(err, model):
                if loc not in problems:
                    problems[loc] = SpilloverError(msg, file=file, line=line_of(node, loc),
                                                   field=".".join(str(p) for p in (*prefix, *loc)) or None)
        errors = list(problems.values())
        raise (errors[0] if len(errors) == 1 else Problems(errors)) from None


def _located(err: Any, model: type[BaseModel]) -> list[tuple[tuple[Any, ...], str]]:
    """(location, message) pairs of one pydantic error; a validator's SpilloverError (or Problems) names
    fields relative to the model it validates."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    msg = err["msg"].removeprefix("Value error, ")
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, SpilloverError):
        causes = cause.problems if isinstance(cause, Problems) else [cause]
        return [(loc + tuple(_parts(c.field)), c.message) for c in causes]
    if err["type"] == "extra_forbidden":
        msg = "unknown key" + _hint(loc[-1] if loc else "", field_names(model), few=False)
    elif err["type"] == "literal_error":
        msg += _hint(err["input"], re.findall(r"'([^']*)'", (err.get("ctx") or {}).get("expected", "")))
    return [(loc, msg)]


def _parts(field: str | None) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in field.split(".")] if field else []


def _hint(name: Any, choices: list[str], few: bool = True) -> str:
    hint = did_you_mean(name, choices)
    return hint if few or "did you mean" in hint else ""


def field_names(model: type[BaseModel]) -> list[str]:
    """Every field name of ``model`` and the models nested in it (for "did you mean")."""
    seen: dict[str, None] = {}

    def walk(m: type[BaseModel], depth: int) -> None:
        for name, f in m.model_fields.items():
            seen[name] = None
            for sub in _models_in(f.annotation):
                if depth < 6:
                    walk(sub, depth + 1)

    walk(model, 0)
    return list(seen)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models_in(a)]


def _override_value(path: str, raw: str) -> Any:
    """An override's value parsed as YAML; a value that is not YAML says how to quote it.

    >>> _override_value("trigger", "|2024|")
    Traceback (most recent call last):
    ...
    spillover.errors.SpilloverError: --set: trigger: |2024| is not a YAML value; quote it: trigger='"|2024|"'
    """
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise SpilloverError(f"{path}: {raw} is not a YAML value; quote it: {path}='\"{raw}\"'",
                             field="--set") from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides; values are parsed as YAML scalars/flow collections.

    >>> apply_overrides({"a": {"b": 1}}, ["a.b=2", "c=[1, 2]"])
    {'a': {'b': 2}, 'c': [1, 2]}
    """
    for item in overrides:
        if "=" not in item:
            raise SpilloverError(f"override {item!r} is not of the form key.path=value", field="--set")
        path, raw = item.split("=", 1)
        value = _override_value(path, raw)
        cur: Any = data
        parts = path.strip().split(".")
        for p in parts[:-1]:
            if isinstance(cur, list) and p.isdigit():
                cur = cur[_index(cur, p, path)]
                continue
            if not isinstance(cur.setdefault(p, {}), dict | list):
                raise SpilloverError(f"cannot set {path}: {p} is not a mapping", field="--set")
            cur = cur[p]
        if isinstance(cur, list) and parts[-1].isdigit():
            cur[_index(cur, parts[-1], path)] = value
        else:
            cur[parts[-1]] = value
    return data


def _index(items: list[Any], part: str, path: str) -> int:
    if int(part) >= len(items):
        raise SpilloverError(f"cannot set {path}: the list has {len(items)} entries", field="--set")
    return int(part)
